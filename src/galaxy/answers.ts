import { GalaxyResponseError } from './errors.js';

/**
 * The answers of Galaxy's API that galaxy-importd reads (docs/galaxy-notes.md), and the
 * checks that they carry the fields it relies on; anything else passes through untouched.
 */

export interface LibrarySummary {
  id: string;
  name: string;
  description?: string;
  synopsis?: string;
  /** F-prefixed. */
  root_folder_id: string;
  deleted?: boolean;
  /** False once the library's access is restricted to roles. */
  public?: boolean;
  [key: string]: unknown;
}

export interface RoleSummary {
  id: string;
  name: string;
  /** private (a user's own, named by the email), admin, sharing, user_tool, … */
  type?: string;
  [key: string]: unknown;
}

/** A role in a permissions answer: [name, id]. */
export type NamedRole = [string, string];

export interface LibraryPermissions {
  access_library_role_list: NamedRole[];
  add_library_item_role_list?: NamedRole[];
  manage_library_role_list?: NamedRole[];
  modify_library_role_list?: NamedRole[];
}

export interface DatasetPermissions {
  access_dataset_roles: NamedRole[];
  manage_dataset_roles?: NamedRole[];
  modify_item_roles?: NamedRole[];
}

export interface ContentsEntry {
  id: string;
  type: 'folder' | 'file';
  /** The full path inside the library: '/', '/sub', '/sub/file.bed'. */
  name: string;
  url?: string;
}

export interface CreatedItem {
  id: string;
  name: string;
  url?: string;
  [key: string]: unknown;
}

export interface FolderDetails {
  /** F-prefixed. */
  id: string;
  name: string;
  parent_id?: string | null;
  parent_library_id?: string;
  [key: string]: unknown;
}

export interface FolderItem {
  id: string;
  type: 'folder' | 'file';
  name: string;
  state?: string;
  raw_size?: number;
  deleted?: boolean;
  /** A dataset readable by everyone who sees its library (no access roles). */
  is_unrestricted?: boolean;
  /** Restricted to the private role of the user asking, alone. */
  is_private?: boolean;
  [key: string]: unknown;
}

/** GET /api/libraries/datasets/{id}: a library dataset and its current version (the ldda). */
export interface LibraryDatasetDetails {
  id: string;
  /** The current version's id: what GET /api/datasets/{id}/storage?hda_ldda=ldda takes. */
  ldda_id: string;
  /** F-prefixed. */
  folder_id?: string;
  name?: string;
  state?: string;
  deleted?: boolean;
  [key: string]: unknown;
}

/** A hash Galaxy stores with a dataset (its DatasetHash rows), as the storage answer lists it. */
export interface StoredHash {
  hash_function: string;
  hash_value: string;
  [key: string]: unknown;
}

/** GET /api/datasets/{id}/storage: the underlying dataset's state and its stored hashes, among the object store's details. */
export interface DatasetStorage {
  dataset_state: string;
  hashes: StoredHash[];
  [key: string]: unknown;
}

export interface JobSummary {
  id: string;
  state: string;
  exit_code?: number | null;
  stderr?: string;
  tool_stderr?: string;
  [key: string]: unknown;
}

export interface FetchItem {
  /** Path relative to library_import_dir (`src: server_dir`), or an absolute path (`src: path`). */
  serverDir?: string;
  path?: string;
  name: string;
  ext: string;
  dbkey: string;
  linkDataOnly: boolean;
  info?: string;
  /** Checksums Galaxy verifies against the file it imports (data_fetch.py): a mismatch puts the dataset in error. */
  hashes?: readonly { hashFunction: 'MD5' | 'SHA-1' | 'SHA-256' | 'SHA-512'; hex: string }[];
}

export type Json = Record<string, unknown>;

export function shapeError(method: string, path: string, problem: string): GalaxyResponseError {
  return new GalaxyResponseError({ status: 200, method, path, problem });
}

export function expectObject(value: unknown, method: string, path: string, keys: string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw shapeError(method, path, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 80)}`);
  }
  const obj = value as Json;
  for (const key of keys) {
    if (typeof obj[key] !== 'string') throw shapeError(method, path, `the field "${key}" is missing or not a string`);
  }
  return obj;
}

/** A permissions answer: an object whose `key` is a list of [name, id] pairs. */
export function expectRoleLists(value: unknown, method: string, path: string, key: string): Json {
  const obj = expectObject(value, method, path, []);
  const list = obj[key];
  if (!Array.isArray(list) || !list.every((r) => Array.isArray(r) && r.length >= 2 && r.every((x) => typeof x === 'string'))) {
    throw shapeError(method, path, `the field "${key}" is missing or not a list of [role name, role id] pairs`);
  }
  return obj;
}

export function expectArray(value: unknown, method: string, path: string, keys: string[]): Json[] {
  if (!Array.isArray(value)) throw shapeError(method, path, `expected a JSON array, got ${typeof value}`);
  return value.map((item) => expectObject(item, method, path, keys));
}
