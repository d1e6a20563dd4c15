import { datasetsIn, humanSize } from './datasets.js';
import { GalaxyError, invalidParameter, missingParameter } from './errors.js';
import type { DatasetRec, FolderRec, User } from './records.js';
import type { Store } from './store.js';
import { now, str } from './store.js';

/** Library folders (F-prefixed ids): nested folders, their details and their paged contents. */

export function newFolder(s: Store, libraryId: number, parentId: number | null, name: string, description: string): FolderRec {
  const t = now();
  const folder: FolderRec = {
    id: s.next('folder'),
    libraryId,
    parentId,
    name,
    description,
    deleted: false,
    createTime: t,
    updateTime: t,
  };
  s.codec.encode(folder.id);
  s.folders.set(folder.id, folder);
  return folder;
}

export function getFolder(s: Store, id: number): FolderRec {
  const folder = s.folders.get(id);
  if (!folder || folder.deleted) throw new GalaxyError(400, 400008, 'No folder found with the id provided.');
  return folder;
}

/** The folder's path below the library root: '/' for the root, '/a/b' otherwise. */
export function folderPath(s: Store, folder: FolderRec): string {
  const names: string[] = [];
  let f: FolderRec | undefined = folder;
  while (f && f.parentId !== null) {
    names.unshift(f.name);
    f = s.folders.get(f.parentId);
  }
  return `/${names.join('/')}`;
}

export function folderDetails(s: Store, folder: FolderRec): Record<string, unknown> {
  const lib = s.libraries.get(folder.libraryId);
  const chain: string[] = [];
  let f: FolderRec | undefined = folder;
  while (f) {
    chain.unshift(f.parentId === null ? (lib?.name ?? f.name) : f.name);
    f = f.parentId === null ? undefined : s.folders.get(f.parentId);
  }
  return {
    model_class: 'LibraryFolder',
    id: s.codec.folder(folder.id),
    name: folder.name,
    description: folder.description,
    item_count: childFolders(s, folder.id).length + datasetsIn(s, folder.id).length,
    parent_library_id: s.codec.encode(folder.libraryId),
    parent_id: folder.parentId === null ? null : s.codec.folder(folder.parentId),
    genome_build: '?',
    update_time: folder.updateTime,
    deleted: folder.deleted,
    library_path: chain,
  };
}

export function childFolders(s: Store, folderId: number, includeDeleted = false): FolderRec[] {
  return [...s.folders.values()]
    .filter((f) => f.parentId === folderId && (includeDeleted || !f.deleted))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
}

export function showFolder(s: Store, encoded: string): unknown {
  return folderDetails(s, getFolder(s, s.codec.decodeFolder(encoded)));
}

export function createFolder(s: Store, user: User | null, parentEncoded: string, body: Record<string, unknown>): unknown {
  const parent = getFolder(s, s.codec.decodeFolder(parentEncoded));
  if (!user?.admin) {
    throw new GalaxyError(403, 403005, 'You do not have proper permission to create folders under given folder.');
  }
  if (body.name === undefined || body.name === null) throw missingParameter('name');
  const folder = newFolder(s, parent.libraryId, parent.id, str(body, 'name', ''), str(body, 'description', ''));
  s.onChange();
  return folderDetails(s, folder);
}

export function folderContents(s: Store, user: User | null, encoded: string, q: URLSearchParams): unknown {
  const folder = getFolder(s, s.codec.decodeFolder(encoded));
  const limit = q.has('limit') ? Number(q.get('limit')) : 10;
  const offset = q.has('offset') ? Number(q.get('offset')) : 0;
  if (!Number.isInteger(limit) || limit < 0) throw invalidParameter('limit', 'Input should be a valid integer');
  if (!Number.isInteger(offset) || offset < 0) throw invalidParameter('offset', 'Input should be a valid integer');
  const includeDeleted = q.get('include_deleted') === 'true' && Boolean(user?.admin);
  const search = q.get('search_text')?.toLowerCase() ?? null;
  const matches = (name: string): boolean => search === null || name.toLowerCase().includes(search);
  // Galaxy's order_by and sort_desc (managers/folders.py): folders sort by name, description or
  // update_time (name for the rest), datasets by any of the five.
  const orderBy = q.get('order_by') ?? 'name';
  if (!['name', 'description', 'type', 'size', 'update_time'].includes(orderBy)) throw invalidParameter('order_by', "Input should be 'name', 'description', 'type', 'size' or 'update_time'");
  const desc = q.get('sort_desc') === 'true' ? -1 : 1;
  const folderKey = (f: FolderRec): string => (orderBy === 'description' ? f.description : orderBy === 'update_time' ? f.updateTime : f.name);
  const datasetKey = (d: DatasetRec): string | number => ({ name: d.name, description: d.message, type: d.ext, size: d.fileSize, update_time: d.updateTime })[orderBy] ?? d.name;
  const compare = (a: string | number, b: string | number): number => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)));
  const folders = childFolders(s, folder.id, includeDeleted)
    .filter((f) => matches(f.name))
    .sort((a, b) => desc * compare(folderKey(a), folderKey(b)) || a.id - b.id);
  const datasets = datasetsIn(s, folder.id, includeDeleted)
    .filter((d) => matches(d.name))
    .sort((a, b) => desc * compare(datasetKey(a), datasetKey(b)) || a.id - b.id);
  const admin = Boolean(user?.admin);
  const items: Record<string, unknown>[] = [
    ...folders.map((f) => ({
      id: s.codec.folder(f.id),
      type: 'folder',
      name: f.name,
      description: f.description,
      create_time: f.createTime,
      update_time: f.updateTime,
      can_manage: admin,
      can_modify: admin,
      deleted: f.deleted,
    })),
    ...datasets.map((d) => ({
      id: s.codec.encode(d.id),
      type: 'file',
      name: d.name,
      file_ext: d.ext,
      date_uploaded: d.createTime,
      create_time: d.createTime,
      update_time: d.updateTime,
      is_unrestricted: (d.access ?? []).length === 0,
      is_private: (d.access ?? []).length === 1 && s.roles.get(d.access?.[0] ?? 0)?.type === 'private',
      can_manage: admin,
      state: d.state,
      file_size: humanSize(d.fileSize),
      raw_size: d.fileSize,
      ldda_id: s.codec.encode(d.lddaId),
      tags: d.tags,
      message: d.message || null,
      deleted: d.deleted,
    })),
  ];
  let page: Record<string, unknown>[];
  if (s.settings.pagination === 'newest' && offset < folders.length && offset + limit <= folders.length) {
    // Newest Galaxy: once folders fill the page, all datasets come along on it.
    page = [...items.slice(offset, offset + limit), ...items.slice(folders.length)];
  } else if (s.settings.pagination === 'newest' && offset >= folders.length && folders.length > 0) {
    page = [];
  } else {
    page = items.slice(offset, offset + limit);
  }
  const lib = s.libraries.get(folder.libraryId);
  const fullPath: [string, string][] = [];
  let f: FolderRec | undefined = folder;
  while (f) {
    fullPath.unshift([s.codec.folder(f.id), f.parentId === null ? (lib?.name ?? f.name) : f.name]);
    f = f.parentId === null ? undefined : s.folders.get(f.parentId);
  }
  return {
    metadata: {
      full_path: fullPath,
      total_rows: items.length,
      can_add_library_item: admin,
      can_modify_folder: admin,
      folder_name: folder.name,
      folder_description: folder.description,
      parent_library_id: s.codec.encode(folder.libraryId),
    },
    folder_contents: page,
  };
}
