import type { Dispatcher } from 'undici';
import { GalaxyResponseError } from './errors.js';
import type { Limiter } from './http.js';
import { createAgent, GalaxyHttp, unlimited } from './http.js';

/**
 * Galaxy's API, one typed function per endpoint galaxy-importd uses
 * (../shared/galaxy-api.md). Answers are checked for the fields the daemon
 * relies on; anything else passes through untouched.
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

export interface GalaxyClientOptions {
  url: string;
  apiKey: string;
  /** Deadline for one request; 60 s when absent. */
  timeoutMs?: number;
  /** Largest answer accepted; 64 MiB when absent. */
  maxBodyBytes?: number;
  /** An undici dispatcher (Agent, MockAgent); one is made when absent and closed by close(). */
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Runs every request; the daemon passes its throttling queue. */
  limiter?: Limiter;
}

type Json = Record<string, unknown>;

function shapeError(method: string, path: string, problem: string): GalaxyResponseError {
  return new GalaxyResponseError({ status: 200, method, path, problem });
}

function expectObject(value: unknown, method: string, path: string, keys: string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw shapeError(method, path, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 80)}`);
  }
  const obj = value as Json;
  for (const key of keys) {
    if (typeof obj[key] !== 'string') throw shapeError(method, path, `the field "${key}" is missing or not a string`);
  }
  return obj;
}

function expectArray(value: unknown, method: string, path: string, keys: string[]): Json[] {
  if (!Array.isArray(value)) throw shapeError(method, path, `expected a JSON array, got ${typeof value}`);
  return value.map((item) => expectObject(item, method, path, keys));
}

const enc = encodeURIComponent;

export class GalaxyClient {
  readonly #http: GalaxyHttp;
  readonly #ownAgent: Dispatcher | null;

  constructor(opts: GalaxyClientOptions) {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    this.#ownAgent = opts.dispatcher ? null : createAgent(timeoutMs);
    this.#http = new GalaxyHttp({
      url: opts.url,
      apiKey: opts.apiKey,
      timeoutMs,
      maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024 * 1024,
      dispatcher: opts.dispatcher ?? (this.#ownAgent as Dispatcher),
      userAgent: opts.userAgent ?? 'galaxy-importd',
      limiter: opts.limiter ?? unlimited,
    });
  }

  get baseUrl(): string {
    return this.#http.baseUrl;
  }

  async close(): Promise<void> {
    await this.#ownAgent?.close();
  }

  // ---- generic calls (the seed's display.py and submit) ------------------------------------

  async get(pathOrUrl: string): Promise<unknown> {
    return (await this.#http.call('GET', pathOrUrl)).body;
  }

  async post(pathOrUrl: string, body: unknown): Promise<unknown> {
    return (await this.#http.call('POST', pathOrUrl, body)).body;
  }

  // ---- who and what ----------------------------------------------------------------------------

  async version(): Promise<{ version_major: string; version_minor?: string | null }> {
    const p = '/api/version';
    return expectObject(await this.get(p), 'GET', p, ['version_major']) as { version_major: string };
  }

  /** The key's user, or null for an anonymous request. */
  async whoami(): Promise<{ id: string; email: string; username?: string } | null> {
    const p = '/api/whoami';
    const body = await this.get(p);
    if (body === null) return null;
    return expectObject(body, 'GET', p, ['id', 'email']) as { id: string; email: string };
  }

  async currentUser(): Promise<{ id?: string; email?: string; is_admin?: boolean }> {
    const p = '/api/users/current';
    return expectObject(await this.get(p), 'GET', p, []);
  }

  async configuration(keys: string[]): Promise<Json> {
    const p = `/api/configuration?keys=${enc(keys.join(','))}`;
    return expectObject(await this.get(p), 'GET', '/api/configuration', []);
  }

  // ---- libraries --------------------------------------------------------------------------------

  /** Live libraries only unless `deleted` is given: admins otherwise see deleted ones too. */
  async listLibraries(deleted = false): Promise<LibrarySummary[]> {
    const p = `/api/libraries?deleted=${deleted}`;
    return expectArray(await this.get(p), 'GET', '/api/libraries', ['id', 'name']) as LibrarySummary[];
  }

  async createLibrary(name: string, description?: string, synopsis?: string): Promise<LibrarySummary> {
    const p = '/api/libraries';
    const body: Json = { name };
    if (description) body.description = description;
    if (synopsis) body.synopsis = synopsis;
    let res = await this.post(p, body);
    // Early Galaxy answered with a one-element list (why example_watch_folder.py reads library[0]).
    if (Array.isArray(res) && res.length === 1) res = res[0];
    return expectObject(res, 'POST', p, ['id', 'name']) as LibrarySummary;
  }

  async showLibrary(libraryId: string): Promise<LibrarySummary> {
    const p = `/api/libraries/${enc(libraryId)}`;
    return expectObject(await this.get(p), 'GET', p, ['id', 'name', 'root_folder_id']) as LibrarySummary;
  }

  async deleteLibrary(libraryId: string, undelete = false): Promise<LibrarySummary> {
    const p = `/api/libraries/${enc(libraryId)}${undelete ? '?undelete=true' : ''}`;
    return expectObject((await this.#http.call('DELETE', p)).body, 'DELETE', p, ['id']) as LibrarySummary;
  }

  /** The library's flat list: root '/' first, then every folder and dataset by full path. */
  async libraryContents(libraryId: string): Promise<ContentsEntry[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    return expectArray(await this.get(p), 'GET', p, ['id', 'type', 'name']) as unknown as ContentsEntry[];
  }

  async showLibraryContent(libraryId: string, contentId: string): Promise<Json> {
    const p = `/api/libraries/${enc(libraryId)}/contents/${enc(contentId)}`;
    return expectObject(await this.get(p), 'GET', p, ['id']);
  }

  /** The legacy folder creation (library_create_folder.py). `folderId` is F-prefixed. */
  async createFolderInLibrary(libraryId: string, folderId: string, name: string, description = ''): Promise<CreatedItem[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    const res = await this.post(p, { folder_id: folderId, name, description, create_type: 'folder' });
    return expectArray(res, 'POST', p, ['id', 'name']) as CreatedItem[];
  }

  /**
   * The legacy import of every top-level file of a `library_import_dir`
   * subdirectory (library_upload_from_import_dir.py). Answers at once, with
   * library dataset ids whose state is still queued.
   */
  async uploadFromImportDir(
    libraryId: string,
    opts: { folderId: string; serverDir: string; fileType: string; dbkey: string; linkDataOnly?: boolean },
  ): Promise<CreatedItem[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    const res = await this.post(p, {
      folder_id: opts.folderId,
      file_type: opts.fileType,
      server_dir: opts.serverDir,
      dbkey: opts.dbkey,
      upload_option: 'upload_directory',
      create_type: 'file',
      link_data_only: opts.linkDataOnly ? 'link_to_files' : 'copy_files',
    });
    return expectArray(res, 'POST', p, ['id', 'name']) as CreatedItem[];
  }

  /** The legacy `upload_paths` import of absolute paths; Galaxy needs allow_path_paste. */
  async uploadPaths(
    libraryId: string,
    opts: { folderId: string; paths: string[]; fileType: string; dbkey: string; linkDataOnly?: boolean; tags?: readonly string[] },
  ): Promise<CreatedItem[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    const res = await this.post(p, {
      folder_id: opts.folderId,
      file_type: opts.fileType,
      ...(opts.tags && opts.tags.length > 0 ? { tags: opts.tags } : {}),
      filesystem_paths: opts.paths.join('\n'),
      dbkey: opts.dbkey,
      upload_option: 'upload_paths',
      create_type: 'file',
      link_data_only: opts.linkDataOnly ? 'link_to_files' : 'copy_files',
    });
    return expectArray(res, 'POST', p, ['id', 'name']) as CreatedItem[];
  }

  // ---- folders -----------------------------------------------------------------------------------

  async showFolder(folderId: string): Promise<FolderDetails> {
    const p = `/api/folders/${enc(folderId)}`;
    return expectObject(await this.get(p), 'GET', p, ['id', 'name']) as FolderDetails;
  }

  async createFolder(parentFolderId: string, name: string, description = ''): Promise<FolderDetails> {
    const p = `/api/folders/${enc(parentFolderId)}`;
    return expectObject(await this.post(p, { name, description }), 'POST', p, ['id', 'name']) as FolderDetails;
  }

  /**
   * Every item of a folder, following pagination to the end (Galaxy's default
   * page is 10). Handles both pagination styles of galaxy-api.md 9: pages are
   * requested until `total_rows` is reached or a page comes back empty, and
   * items seen twice are kept once.
   */
  async folderContents(folderId: string, opts: { pageSize?: number; includeDeleted?: boolean } = {}): Promise<FolderItem[]> {
    const limit = opts.pageSize ?? 500;
    const base = `/api/folders/${enc(folderId)}/contents`;
    const seen = new Map<string, FolderItem>();
    for (let offset = 0; ; offset += limit) {
      const q = `limit=${limit}&offset=${offset}${opts.includeDeleted ? '&include_deleted=true' : ''}`;
      const body = expectObject(await this.get(`${base}?${q}`), 'GET', base, []);
      const meta = expectObject(body.metadata, 'GET', base, []);
      const total = meta.total_rows;
      if (typeof total !== 'number') throw shapeError('GET', base, 'metadata.total_rows is missing');
      const page = expectArray(body.folder_contents, 'GET', base, ['id', 'type', 'name']) as FolderItem[];
      for (const item of page) seen.set(item.id, item);
      if (page.length === 0 || offset + limit >= total) break;
    }
    return [...seen.values()];
  }

  // ---- histories, fetch, jobs -------------------------------------------------------------

  async createHistory(name: string): Promise<{ id: string; name: string }> {
    const p = '/api/histories';
    return expectObject(await this.post(p, { name }), 'POST', p, ['id']) as { id: string; name: string };
  }

  async listHistories(): Promise<{ id: string; name: string }[]> {
    const p = '/api/histories';
    return expectArray(await this.get(p), 'GET', p, ['id']) as { id: string; name: string }[];
  }

  /**
   * `POST /api/tools/fetch` into a library folder. `folderId` may carry the
   * `F` prefix the library APIs use: the fetch API wants it without.
   * Returns the job id; the datasets appear in the folder when the job ends.
   */
  async fetchToFolder(opts: { historyId: string; folderId: string; items: FetchItem[] }): Promise<{ jobId: string }> {
    const p = '/api/tools/fetch';
    const folder = opts.folderId.startsWith('F') ? opts.folderId.slice(1) : opts.folderId;
    const items = opts.items.map((it) => {
      const out: Json = it.serverDir !== undefined
        ? { src: 'server_dir', server_dir: it.serverDir }
        : { src: 'path', path: it.path };
      out.name = it.name;
      out.ext = it.ext;
      out.dbkey = it.dbkey;
      // Always a boolean: the legacy strings are read inverted here (galaxy-api.md 3.9).
      out.link_data_only = it.linkDataOnly;
      if (it.info) out.info = it.info;
      return out;
    });
    const res = expectObject(
      await this.post(p, {
        history_id: opts.historyId,
        targets: [{ destination: { type: 'library_folder', library_folder_id: folder }, items }],
      }),
      'POST',
      p,
      [],
    );
    const jobs = expectArray(res.jobs, 'POST', p, ['id']);
    const first = jobs[0];
    if (!first) throw shapeError('POST', p, 'the answer names no job');
    return { jobId: first.id as string };
  }

  /** Jobs of one history, newest first: after an upload whose answer was lost, they tell whether Galaxy took it. */
  async listJobs(opts: { historyId: string; toolId?: string; limit?: number }): Promise<JobSummary[]> {
    const q = new URLSearchParams({ history_id: opts.historyId, limit: String(opts.limit ?? 100) });
    if (opts.toolId) q.set('tool_id', opts.toolId);
    const p = '/api/jobs';
    return expectArray(await this.get(`${p}?${q.toString()}`), 'GET', p, ['id', 'state']) as JobSummary[];
  }

  async showJob(jobId: string, full = false): Promise<JobSummary> {
    const p = `/api/jobs/${enc(jobId)}${full ? '?full=true' : ''}`;
    return expectObject(await this.get(p), 'GET', `/api/jobs/${enc(jobId)}`, ['id', 'state']) as JobSummary;
  }
}
