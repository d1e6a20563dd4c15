import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { legacyDatasetName } from '../src/galaxy/names.js';
import { datasetDetails, datasetsIn, newDataset } from './datasets.js';
import { isKnownExt } from './datatypes.js';
import { adminRequired, GalaxyError, invalidParameter, missingParameter } from './errors.js';
import { childFolders, folderDetails, folderPath, getFolder, newFolder } from './folders.js';
import { newJob, schedule } from './jobs.js';
import { getLibrary } from './libraries.js';
import type { FolderRec, LibraryRec, User } from './records.js';
import type { Store } from './store.js';
import { str } from './store.js';

/**
 * The library contents API (legacy): /api/libraries/{id}/contents lists, shows, deletes, and
 * creates folders and datasets, the latter by the legacy uploads (upload_directory,
 * upload_paths) as upload1 jobs.
 */

/** lib/galaxy/util/path safe_relpath: a string check only, no symlink resolution. */
function safeRelpath(p: string): boolean {
  return !path.isAbsolute(p) && !path.normalize(p).startsWith('..');
}

export function contentsIndex(s: Store, user: User | null, libEncoded: string): unknown[] {
  let lib: LibraryRec | undefined;
  try {
    lib = getLibrary(s, user, libEncoded);
  } catch (err) {
    if (err instanceof GalaxyError && err.status === 404) {
      throw new GalaxyError(400, 400008, 'No library found with the id provided.');
    }
    throw err;
  }
  const libId = s.codec.encode(lib.id);
  const out: unknown[] = [];
  const url = (id: string): string => `/api/libraries/${libId}/contents/${id}`;
  const visit = (folder: FolderRec): void => {
    const fid = s.codec.folder(folder.id);
    out.push({ id: fid, type: 'folder', name: folderPath(s, folder), url: url(fid) });
    for (const child of childFolders(s, folder.id)) visit(child);
    const base = folderPath(s, folder);
    for (const d of datasetsIn(s, folder.id)) {
      const id = s.codec.encode(d.id);
      out.push({ id, type: 'file', name: `${base === '/' ? '' : base}/${d.name}`, url: url(id) });
    }
  };
  visit(getFolder(s, lib.rootFolderId));
  return out;
}

export function showContent(s: Store, user: User | null, libEncoded: string, contentId: string): unknown {
  if (contentId.startsWith('F')) return folderDetails(s, getFolder(s, s.codec.decodeFolder(contentId)));
  if (contentId.length % 16 !== 0) throw new GalaxyError(400, 400009, `Malformed library content id ( ${contentId} ) specified, unable to decode.`);
  const id = s.codec.decode(contentId, 'library dataset id');
  const d = s.datasets.get(id);
  if (!d || d.deleted) throw new GalaxyError(400, 0, `Invalid LibraryDataset id ( ${contentId} ) specified`);
  void user;
  void libEncoded;
  return datasetDetails(s, d);
}

/** DELETE /api/libraries/{id}/contents/{dataset id}: marks a library dataset deleted. */
export function deleteContent(s: Store, user: User | null, contentId: string): unknown {
  if (!user?.admin) throw adminRequired();
  const d = s.datasets.get(s.codec.decode(contentId, 'library dataset id'));
  if (!d) throw new GalaxyError(400, 0, `Invalid LibraryDataset id ( ${contentId} ) specified`);
  d.deleted = true;
  s.onChange();
  return { id: contentId, deleted: true };
}

export function createContent(s: Store, user: User | null, libEncoded: string, body: Record<string, unknown>): unknown[] {
  const createType = body.create_type;
  if (createType === undefined) throw missingParameter('create_type');
  if (body.folder_id === undefined) throw missingParameter('folder_id');
  // The library id in the URL is decoded but otherwise ignored: the folder decides (galaxy-api.md 3.5).
  s.codec.decode(libEncoded, 'library id');
  const folder = getFolder(s, s.codec.decodeFolder(body.folder_id));
  const libId = s.codec.encode(folder.libraryId);
  const url = (id: string): string => `/api/libraries/${libId}/contents/${id}`;
  if (createType === 'folder') {
    if (!user?.admin) throw new GalaxyError(403, 403005, `You are not authorized to add an item to (${folder.name}).`);
    const created = newFolder(s, folder.libraryId, folder.id, str(body, 'name', ''), str(body, 'description', ''));
    s.onChange();
    const id = s.codec.folder(created.id);
    return [{ id, name: created.name, url: url(id) }];
  }
  if (createType !== 'file') {
    throw invalidParameter('create_type', "Input should be 'file', 'folder' or 'collection'");
  }
  if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
  const option = str(body, 'upload_option', 'upload_file');
  const linkMode = str(body, 'link_data_only', 'copy_files');
  if (linkMode !== 'copy_files' && linkMode !== 'link_to_files') {
    throw invalidParameter('link_data_only', "Input should be 'copy_files' or 'link_to_files'");
  }
  const link = linkMode === 'link_to_files';
  const fileType = str(body, 'file_type', 'auto');
  if (!isKnownExt(fileType)) {
    throw new GalaxyError(400, 0, `Requested extension '${fileType}' unknown, cannot upload dataset.`);
  }
  const dbkey = str(body, 'dbkey', '?');
  const rawTags = body.tags;
  const tags = Array.isArray(rawTags) ? rawTags.map((t) => `name:${String(t)}`) : [];
  let files: string[];
  if (option === 'upload_directory') {
    const base = serverDirBase(s, user, body.server_dir);
    files = listServerDir(s, base);
  } else if (option === 'upload_paths') {
    files = validatePaths(s, user, body.filesystem_paths);
  } else {
    throw new GalaxyError(400, 0, `Upload option '${option}' is not supported by this emulator.`);
  }
  const job = newJob(s, user, 'upload1', null);
  const out: unknown[] = [];
  for (const file of files) {
    const base = path.basename(file);
    const name = legacyDatasetName(base, link);
    const d = newDataset(s, folder, name, file, link, user, job.id, 'queued');
    d.ext = fileType;
    d.dbkey = dbkey;
    d.tags = tags;
    job.items.push({ folderId: folder.id, fullPath: file, name, ext: fileType, dbkey, link, info: '', tags, kind: 'file', datasetId: d.id });
    const id = s.codec.encode(d.id);
    out.push({ id, name, url: url(id) });
  }
  schedule(s, job);
  s.onChange();
  return out;
}

/** validate_server_directory_upload (lib/galaxy/actions/library.py). */
export function serverDirBase(s: Store, user: User, serverDir: unknown): string {
  if (serverDir === undefined || serverDir === null || serverDir === '' || serverDir === 'None') {
    throw new GalaxyError(400, 400008, 'Invalid or unspecified server_dir parameter');
  }
  if (typeof serverDir !== 'string') throw invalidParameter('server_dir', 'Input should be a valid string');
  if (!user.admin) {
    throw new GalaxyError(403, 403004, '"user_library_import_dir" is not set in the Galaxy configuration');
  }
  const importDir = s.settings.libraryImportDir;
  if (!importDir) throw new GalaxyError(403, 403004, '"library_import_dir" is not set in the Galaxy configuration');
  if (!safeRelpath(serverDir)) throw new GalaxyError(400, 400008, 'Invalid server_dir specified');
  return path.join(importDir, serverDir);
}

/** _get_server_dir_files: the top level only, regular files (symlinks followed). */
function listServerDir(s: Store, dir: string): string[] {
  let names: string[];
  try {
    names = readdirSorted(dir);
  } catch (err) {
    throw new GalaxyError(500, 500001, `Unable to get file list for configured library_import_dir, error: ${(err as Error).message}`);
  }
  const files = names.map((n) => path.join(dir, n)).filter((p) => isFileSync(p));
  if (files.length === 0) {
    throw new GalaxyError(400, 400005, `The directory '${dir}' contains no valid files`);
  }
  return files;
}

/** validate_path_upload: admin and allow_path_paste. */
function validatePaths(s: Store, user: User, raw: unknown): string[] {
  if (!s.settings.allowPathPaste) {
    throw new GalaxyError(403, 403004, '"allow_path_paste" is not set to True in the Galaxy configuration file');
  }
  if (!user.admin) throw adminRequired();
  const paths = typeof raw === 'string' ? raw.split('\n').map((p) => p.trim()).filter(Boolean) : [];
  if (paths.length === 0) throw new GalaxyError(400, 400008, 'No paths entered in the upload form');
  const bad = paths.filter((p) => !existsSync(p));
  if (bad.length > 0) throw new GalaxyError(400, 400008, `Invalid paths: "${bad.join('", "')}".`);
  const files: string[] = [];
  for (const p of paths) files.push(...walkFiles(p));
  return files;
}

function readdirSorted(dir: string): string[] {
  return readdirSync(dir).sort();
}

function isFileSync(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function walkFiles(p: string): string[] {
  const st = statSync(p);
  if (st.isFile()) return [p];
  if (!st.isDirectory()) return [];
  return readdirSorted(p).flatMap((n) => walkFiles(path.join(p, n)));
}
