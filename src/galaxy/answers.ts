import { GalaxyResponseError } from './errors.js';

/**
 * The answers of Galaxy's API that galaxy-importd reads (../shared/galaxy-api.md), and the
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
  [key: string]: unknown;
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

export function expectArray(value: unknown, method: string, path: string, keys: string[]): Json[] {
  if (!Array.isArray(value)) throw shapeError(method, path, `expected a JSON array, got ${typeof value}`);
  return value.map((item) => expectObject(item, method, path, keys));
}
