import { serverDirBase } from './contents.js';
import { isKnownExt } from './datatypes.js';
import { adminRequired, GalaxyError, invalidParameter, missingParameter } from './errors.js';
import { getFolder } from './folders.js';
import { jobDict, newJob, schedule } from './jobs.js';
import type { FolderRec, JobItem, User } from './records.js';
import type { Store } from './store.js';
import { str } from './store.js';

/** The fetch API (POST /api/tools/fetch): targets of library folders, server_dir and path items, one __DATA_FETCH__ job. */

export function fetchData(s: Store, user: User | null, body: Record<string, unknown>): unknown {
  if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
  if (body.history_id === undefined || body.history_id === null) throw missingParameter('history_id');
  const history = s.histories.get(s.codec.decode(body.history_id, 'history id'));
  if (!history) throw new GalaxyError(400, 400008, 'History not found.');
  if (history.userId !== user.id) throw new GalaxyError(403, 403002, 'History is not owned by user');
  // Galaxy 26.1 refuses a deleted or purged history so (docs/galaxy-notes.md).
  if (history.deleted) throw new GalaxyError(403, 403003, 'History is immutable');
  let targets = body.targets;
  if (targets === undefined) throw missingParameter('targets');
  if (typeof targets === 'string') {
    try {
      targets = JSON.parse(targets) as unknown;
    } catch {
      throw invalidParameter('targets', 'Invalid JSON');
    }
  }
  if (!Array.isArray(targets) || targets.length === 0) throw invalidParameter('targets', 'Input should be a non-empty list');
  const requestLink = body.link_data_only;
  const items: JobItem[] = [];
  for (const target of targets) items.push(...fetchTarget(s, user, target, requestLink));
  const job = newJob(s, user, '__DATA_FETCH__', history.id);
  job.items = items;
  schedule(s, job);
  s.onChange();
  return {
    outputs: [],
    output_collections: [],
    implicit_collections: [],
    produces_entry_points: false,
    jobs: [jobDict(s, job, false)],
  };
}

function fetchTarget(s: Store, user: User, target: unknown, requestLink: unknown): JobItem[] {
  if (typeof target !== 'object' || target === null) throw invalidParameter('targets', 'Input should be a valid dictionary');
  const t = target as Record<string, unknown>;
  const dest = t.destination as Record<string, unknown> | undefined;
  if (!dest || typeof dest !== 'object') throw missingParameter('destination');
  if (dest.type !== 'library_folder') {
    throw new GalaxyError(400, 400008, `Destination type '${String(dest.type)}' is not supported by this emulator.`);
  }
  if (dest.library_folder_id === undefined) throw missingParameter('library_folder_id');
  // fetch_data.py: "For some reason this folder ID must NOT have the 'F' prefix". With it, the
  // request matches none of the target models, and Galaxy 26.1 says so as a missing field (400007).
  let folderNum: number;
  try {
    folderNum = s.codec.decode(dest.library_folder_id, 'library_folder_id');
  } catch (err) {
    if (!(err instanceof GalaxyError) || err.errCode !== 400008) throw err;
    const loc = ['body', 'targets', 0, 'DataElementsTarget', 'destination', 'library_folder', 'library_folder_id'];
    throw new GalaxyError(400, 400007, `Value error, Invalid id length, must be multiple of 16 in (${loc.map((l) => (typeof l === 'string' ? `'${l}'` : l)).join(', ')})`, {
      validation_errors: [JSON.stringify({ type: 'value_error', loc, msg: 'Value error, Invalid id length, must be multiple of 16', input: dest.library_folder_id })],
    });
  }
  const folder = getFolder(s, folderNum);
  const items = Array.isArray(t.items) ? (t.items as Record<string, unknown>[]) : [];
  // A non-admin's server_dir is read below user_library_import_dir, which is not set here.
  if (!user.admin && (t.src === 'server_dir' || items.some((i) => i.src === 'server_dir'))) {
    throw new GalaxyError(403, 403004, '"user_library_import_dir" is not set in the Galaxy configuration');
  }
  if (!user.admin) throw new GalaxyError(403, 403005, `You are not authorized to add an item to (${folder.name}).`);
  if (t.items_from !== undefined) {
    if (t.items_from !== 'directory') {
      throw new GalaxyError(400, 400008, `items_from '${JSON.stringify(t.items_from)}' is not supported by this emulator.`);
    }
    const full = itemPath(s, user, t);
    return [{ folderId: folder.id, fullPath: full, name: null, ext: 'auto', dbkey: '?', link: false, info: '', tags: [], kind: 'directory', datasetId: null }];
  }
  const list = t.items ?? t.elements;
  if (!Array.isArray(list)) throw missingParameter('items');
  return list.map((raw) => fetchItem(s, user, folder, raw, requestLink));
}

function fetchItem(s: Store, user: User, folder: FolderRec, raw: unknown, requestLink: unknown): JobItem {
  if (typeof raw !== 'object' || raw === null) throw invalidParameter('items', 'Input should be a valid dictionary');
  const item = raw as Record<string, unknown>;
  const allowed = new Set([
    'src', 'server_dir', 'path', 'url', 'name', 'dbkey', 'info', 'ext', 'space_to_tab', 'to_posix_lines', 'deferred',
    'tags', 'created_from_basename', 'auto_decompress', 'collection_type', 'MD5', 'SHA-1', 'SHA-256', 'SHA-512',
    'hashes', 'description', 'link_data_only',
  ]);
  const extra = Object.keys(item).filter((k) => !allowed.has(k));
  if (extra.length > 0) {
    throw new GalaxyError(400, 400008, `Extra inputs are not permitted: ${extra.join(', ')}`, {
      validation_errors: extra.map((k) => JSON.stringify({ loc: ['body', 'targets', 'items', k], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' })),
    });
  }
  const ext = str(item, 'ext', 'auto');
  if (!isKnownExt(ext)) throw new GalaxyError(400, 0, `Requested extension '${ext}' unknown, cannot upload dataset.`);
  let link = false;
  if (item.link_data_only !== undefined) {
    if (typeof item.link_data_only !== 'boolean') throw invalidParameter('link_data_only', 'Input should be a valid boolean');
    link = item.link_data_only;
  } else if (requestLink !== undefined) {
    // data_fetch._link_data_only: the legacy string "copy_files" is read as link (inverted).
    link = requestLink === true || requestLink === 'copy_files';
  }
  return {
    hashes: itemHashes(item),
    folderId: folder.id,
    fullPath: itemPath(s, user, item),
    name: item.name === undefined ? null : str(item, 'name', ''),
    ext,
    dbkey: str(item, 'dbkey', '?'),
    link,
    info: str(item, 'info', ''),
    // Fetch tags are accepted but not applied to library datasets (galaxy-api.md 9).
    tags: [],
    kind: 'file',
    datasetId: null,
  };
}

/** An item's hashes: its `hashes` list and its MD5, SHA-1, SHA-256, SHA-512 keys (data_fetch.py reads both). */
function itemHashes(item: Record<string, unknown>): { hashFunction: string; hex: string }[] {
  const out: { hashFunction: string; hex: string }[] = [];
  const known = ['MD5', 'SHA-1', 'SHA-256', 'SHA-512'];
  if (item.hashes !== undefined) {
    if (!Array.isArray(item.hashes)) throw invalidParameter('hashes', 'Input should be a valid list');
    for (const h of item.hashes as unknown[]) {
      const { hash_function: fn, hash_value: hex } = (h ?? {}) as { hash_function?: unknown; hash_value?: unknown };
      if (typeof fn !== 'string' || !known.includes(fn) || typeof hex !== 'string') throw invalidParameter('hashes', "Input should be 'MD5', 'SHA-1', 'SHA-256' or 'SHA-512', with a hash_value string");
      out.push({ hashFunction: fn, hex });
    }
  }
  for (const fn of known) if (typeof item[fn] === 'string') out.push({ hashFunction: fn, hex: item[fn] });
  return out;
}

function itemPath(s: Store, user: User, item: Record<string, unknown>): string {
  const src = item.src;
  if (src === 'server_dir') return serverDirBase(s, user, item.server_dir);
  if (src === 'path' || (src === 'url' && typeof item.url === 'string' && item.url.startsWith('file://'))) {
    const p = src === 'path' ? item.path : (item.url as string).slice('file://'.length);
    if (typeof p !== 'string' || p === '') throw missingParameter('path');
    if (!s.settings.allowPathPaste) {
      throw new GalaxyError(403, 403004, '"allow_path_paste" is not set to True in the Galaxy configuration file');
    }
    if (!user.admin) throw adminRequired();
    return p;
  }
  if (src === undefined) throw missingParameter('src');
  throw new GalaxyError(400, 400008, `Item src '${JSON.stringify(src)}' is not supported by this emulator.`);
}
