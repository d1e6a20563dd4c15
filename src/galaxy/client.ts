import type { Dispatcher } from 'undici';
import type { ContentsEntry, CreatedItem, DatasetPermissions, FetchItem, FolderDetails, FolderItem, Json, JobSummary, LibraryPermissions, LibrarySummary, RoleSummary } from './answers.js';
import { expectArray, expectObject, expectRoleLists, shapeError } from './answers.js';
import { isUnusable } from './errors.js';
import type { PageOf, RecentOptions } from './folder-pages.js';
import { allItems, leadingFolders, recentDatasets } from './folder-pages.js';
import type { Limiter } from './http.js';
import { createAgent, GalaxyHttp, unlimited } from './http.js';

/**
 * Galaxy's API, one typed function per endpoint galaxy-importd uses
 * (../shared/galaxy-api.md). Answers are checked for the fields the daemon
 * relies on; anything else passes through untouched.
 */

export type { LibrarySummary, ContentsEntry, CreatedItem, DatasetPermissions, FolderDetails, FolderItem, JobSummary, FetchItem, LibraryPermissions, NamedRole, RoleSummary } from './answers.js';

export interface GalaxyClientOptions {
  url: string;
  /** The key, or where to read the current one (http.ts). */
  apiKey: string | (() => string);
  /** Deadline for one request; 60 s when absent. */
  timeoutMs?: number;
  /** Largest answer accepted; 64 MiB when absent. */
  maxBodyBytes?: number;
  /** An undici dispatcher (Agent, MockAgent); one is made when absent and closed by close(). */
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Runs every request; the daemon passes its throttling queue. */
  limiter?: Limiter;
  /**
   * Told of every typed call's outcome: `request` is its method and route (`GET /api/jobs/{id}`),
   * `unusable` the error when the answer is one the client cannot use whatever it retries
   * (isUnusable), else null. The daemon counts these to tell a Galaxy that lacks an endpoint.
   */
  onAnswer?: (request: string, unusable: Error | null) => void;
}

const enc = encodeURIComponent;

/** The route of a request, ids left out: `/api/folders/F2c24…/contents?limit=5` → `/api/folders/{id}/contents`. */
export function routeOf(pathOrUrl: string): string {
  const p = pathOrUrl.replace(/^https?:\/\/[^/]+/i, '').split('?')[0] ?? '';
  return p.replace(/\/F?[0-9a-f]{16,}(?=\/|$)/gi, '/{id}');
}


export class GalaxyClient {
  readonly #http: GalaxyHttp;
  readonly #ownAgent: Dispatcher | null;
  readonly #onAnswer: GalaxyClientOptions['onAnswer'];

  constructor(opts: GalaxyClientOptions) {
    this.#onAnswer = opts.onAnswer;
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

  /** One typed call: the request, then `check` of its answer; the outcome goes to onAnswer. */
  async #json<T>(method: 'GET' | 'POST' | 'DELETE' | 'PATCH', p: string, body: unknown, check: (answer: unknown) => T): Promise<T> {
    const request = `${method} ${routeOf(p)}`;
    try {
      const result = check((await this.#http.call(method, p, body)).body);
      this.#onAnswer?.(request, null);
      return result;
    } catch (err) {
      if (isUnusable(err)) this.#onAnswer?.(request, err as Error);
      throw err;
    }
  }

  // ---- who and what ----------------------------------------------------------------------------

  async version(): Promise<{ version_major: string; version_minor?: string | null }> {
    const p = '/api/version';
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, ['version_major'])) as { version_major: string };
  }

  /** The key's user, or null for an anonymous request. */
  async whoami(): Promise<{ id: string; email: string; username?: string } | null> {
    const p = '/api/whoami';
    return await this.#json('GET', p, undefined, (b) => (b === null ? null : expectObject(b, 'GET', p, ['id', 'email']))) as { id: string; email: string } | null;
  }

  async currentUser(): Promise<{ id?: string; email?: string; is_admin?: boolean }> {
    const p = '/api/users/current';
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, []));
  }

  async configuration(keys: string[]): Promise<Json> {
    const p = `/api/configuration?keys=${enc(keys.join(','))}`;
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', '/api/configuration', []));
  }

  // ---- libraries --------------------------------------------------------------------------------

  /** Live libraries only unless `deleted` is given: admins otherwise see deleted ones too. */
  async listLibraries(deleted = false): Promise<LibrarySummary[]> {
    const p = `/api/libraries?deleted=${deleted}`;
    return await this.#json('GET', p, undefined, (b) => expectArray(b, 'GET', '/api/libraries', ['id', 'name'])) as LibrarySummary[];
  }

  async createLibrary(name: string, description?: string, synopsis?: string): Promise<LibrarySummary> {
    const p = '/api/libraries';
    const body: Json = { name };
    if (description) body.description = description;
    if (synopsis) body.synopsis = synopsis;
    // Early Galaxy answered with a one-element list (why example_watch_folder.py reads library[0]).
    return await this.#json('POST', p, body, (res) => expectObject(Array.isArray(res) && res.length === 1 ? res[0] : res, 'POST', p, ['id', 'name'])) as LibrarySummary;
  }

  async showLibrary(libraryId: string): Promise<LibrarySummary> {
    const p = `/api/libraries/${enc(libraryId)}`;
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, ['id', 'name', 'root_folder_id'])) as LibrarySummary;
  }

  async deleteLibrary(libraryId: string, undelete = false): Promise<LibrarySummary> {
    const p = `/api/libraries/${enc(libraryId)}${undelete ? '?undelete=true' : ''}`;
    return await this.#json('DELETE', p, undefined, (b) => expectObject(b, 'DELETE', p, ['id'])) as LibrarySummary;
  }

  /** The library's flat list: root '/' first, then every folder and dataset by full path. */
  async libraryContents(libraryId: string): Promise<ContentsEntry[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    return await this.#json('GET', p, undefined, (b) => expectArray(b, 'GET', p, ['id', 'type', 'name'])) as unknown as ContentsEntry[];
  }

  async showLibraryContent(libraryId: string, contentId: string): Promise<Json> {
    const p = `/api/libraries/${enc(libraryId)}/contents/${enc(contentId)}`;
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, ['id']));
  }

  /** The legacy folder creation (library_create_folder.py). `folderId` is F-prefixed. */
  async createFolderInLibrary(libraryId: string, folderId: string, name: string, description = ''): Promise<CreatedItem[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    return await this.#json('POST', p, { folder_id: folderId, name, description, create_type: 'folder' }, (b) => expectArray(b, 'POST', p, ['id', 'name'])) as CreatedItem[];
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
    return await this.#json('POST', p, {
      folder_id: opts.folderId,
      file_type: opts.fileType,
      server_dir: opts.serverDir,
      dbkey: opts.dbkey,
      upload_option: 'upload_directory',
      create_type: 'file',
      link_data_only: opts.linkDataOnly ? 'link_to_files' : 'copy_files',
    }, (b) => expectArray(b, 'POST', p, ['id', 'name'])) as CreatedItem[];
  }

  /** The legacy `upload_paths` import of absolute paths; Galaxy needs allow_path_paste. */
  async uploadPaths(
    libraryId: string,
    opts: { folderId: string; paths: string[]; fileType: string; dbkey: string; linkDataOnly?: boolean; tags?: readonly string[] },
  ): Promise<CreatedItem[]> {
    const p = `/api/libraries/${enc(libraryId)}/contents`;
    return await this.#json('POST', p, {
      folder_id: opts.folderId,
      file_type: opts.fileType,
      ...(opts.tags && opts.tags.length > 0 ? { tags: opts.tags } : {}),
      filesystem_paths: opts.paths.join('\n'),
      dbkey: opts.dbkey,
      upload_option: 'upload_paths',
      create_type: 'file',
      link_data_only: opts.linkDataOnly ? 'link_to_files' : 'copy_files',
    }, (b) => expectArray(b, 'POST', p, ['id', 'name'])) as CreatedItem[];
  }

  /** Change a library dataset (PATCH /api/libraries/datasets/{id}): its tags, name, genome_build, misc_info. */
  async updateLibraryDataset(datasetId: string, fields: { tags?: readonly string[]; name?: string; genome_build?: string; misc_info?: string }): Promise<Json> {
    const p = `/api/libraries/datasets/${enc(datasetId)}`;
    return this.#json('PATCH', p, fields, (b) => expectObject(b, 'PATCH', p, ['id']));
  }

  /** Mark a library dataset deleted (DELETE /api/libraries/datasets/{id}); Galaxy answers with the dataset, `deleted: true`. */
  async deleteLibraryDataset(datasetId: string): Promise<Json> {
    const p = `/api/libraries/datasets/${enc(datasetId)}`;
    return this.#json('DELETE', p, undefined, (b) => expectObject(b, 'DELETE', '/api/libraries/datasets/{id}', []));
  }

  // ---- roles and permissions --------------------------------------------------------------------

  /** Every role an admin can see: groups' and admins' roles, and each user's private role (named by the user's email). */
  async listRoles(): Promise<RoleSummary[]> {
    const p = '/api/roles';
    return await this.#json('GET', p, undefined, (b) => expectArray(b, 'GET', p, ['id', 'name'])) as RoleSummary[];
  }

  /** A library's roles by permission, each role as [name, id]. */
  async libraryPermissions(libraryId: string): Promise<LibraryPermissions> {
    const p = `/api/libraries/${enc(libraryId)}/permissions?scope=current`;
    return await this.#json('GET', p, undefined, (b) => expectRoleLists(b, 'GET', `/api/libraries/${enc(libraryId)}/permissions`, 'access_library_role_list')) as unknown as LibraryPermissions;
  }

  /**
   * Set a library's permissions (each a list of role ids; the ones left out are emptied). Galaxy
   * leaves out, with only a line in its own log, a role it finds invalid: the answer says what holds.
   */
  async setLibraryPermissions(libraryId: string, ids: { access: readonly string[]; add: readonly string[]; manage: readonly string[]; modify: readonly string[] }): Promise<LibraryPermissions> {
    const p = `/api/libraries/${enc(libraryId)}/permissions`;
    const body = { action: 'set_permissions', 'access_ids[]': ids.access, 'add_ids[]': ids.add, 'manage_ids[]': ids.manage, 'modify_ids[]': ids.modify };
    return await this.#json('POST', p, body, (b) => expectRoleLists(b, 'POST', p, 'access_library_role_list')) as unknown as LibraryPermissions;
  }

  /**
   * Restrict a library dataset (its `ld` id) to roles: who may read it (`access`: a user needs
   * every one of them) and manage its permissions. Invalid roles are left out as above.
   */
  async setDatasetPermissions(datasetId: string, ids: { access: readonly string[]; manage: readonly string[] }): Promise<DatasetPermissions> {
    const p = `/api/libraries/datasets/${enc(datasetId)}/permissions`;
    const body = { action: 'set_permissions', 'access_ids[]': ids.access, 'manage_ids[]': ids.manage };
    return await this.#json('POST', p, body, (b) => expectRoleLists(b, 'POST', p, 'access_dataset_roles')) as unknown as DatasetPermissions;
  }

  /** Make a library dataset readable by everybody (action remove_restrictions); its manage roles stay. */
  async makeDatasetPublic(datasetId: string): Promise<DatasetPermissions> {
    const p = `/api/libraries/datasets/${enc(datasetId)}/permissions`;
    return await this.#json('POST', p, { action: 'remove_restrictions' }, (b) => expectRoleLists(b, 'POST', p, 'access_dataset_roles')) as unknown as DatasetPermissions;
  }

  /**
   * A user's default dataset permissions, which a new history takes and a fetch job's datasets
   * take from its history (GET /api/users/{id}/permissions/inputs): the names of the roles each
   * action is restricted to (DATASET_ACCESS, DATASET_MANAGE_PERMISSIONS). This route's role ids
   * are Galaxy's plain numbers, not encoded ids, so names are what it gives.
   */
  async userDefaultPermissions(userId: string): Promise<Record<string, string[]>> {
    const p = `/api/users/${enc(userId)}/permissions/inputs`;
    const answer = await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', '/api/users/{id}/permissions/inputs', []));
    if (!Array.isArray(answer.inputs)) throw shapeError('GET', '/api/users/{id}/permissions/inputs', 'the field "inputs" is not a list');
    const out: Record<string, string[]> = {};
    for (const input of answer.inputs as { name?: unknown; value?: unknown; options?: unknown }[]) {
      if (typeof input.name !== 'string') continue;
      const options = Array.isArray(input.options) ? input.options as unknown[][] : [];
      const values = Array.isArray(input.value) ? input.value : [];
      out[input.name] = values.map((v) => String(options.find((o) => Array.isArray(o) && String(o[1]) === String(v))?.[0] ?? v));
    }
    return out;
  }

  // ---- notifications (Galaxy 23.1 and later, with enable_notification_system) ---------------------

  /** Send a personal message to roles' users (an admin's key); Galaxy answers how many it sent. */
  async sendNotification(o: { roleIds: readonly string[]; subject: string; message: string; source: string }): Promise<{ total_notifications_sent?: number }> {
    const p = '/api/notifications';
    const body = {
      recipients: { user_ids: [], group_ids: [], role_ids: o.roleIds },
      notification: { source: o.source, category: 'message', variant: 'info', content: { category: 'message', subject: o.subject, message: o.message } },
    };
    return await this.#json('POST', p, body, (b) => expectObject(b, 'POST', p, []));
  }

  // ---- folders -----------------------------------------------------------------------------------

  async showFolder(folderId: string): Promise<FolderDetails> {
    const p = `/api/folders/${enc(folderId)}`;
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, ['id', 'name'])) as FolderDetails;
  }

  async createFolder(parentFolderId: string, name: string, description = ''): Promise<FolderDetails> {
    const p = `/api/folders/${enc(parentFolderId)}`;
    return await this.#json('POST', p, { name, description }, (b) => expectObject(b, 'POST', p, ['id', 'name'])) as FolderDetails;
  }

  /** Every item of a folder, following pagination to the end (Galaxy's default page is 10). */
  async folderContents(folderId: string, opts: { pageSize?: number; includeDeleted?: boolean } = {}): Promise<FolderItem[]> {
    return await allItems(this.#folderPage(folderId), opts.pageSize ?? 500, opts.includeDeleted ? 'include_deleted=true' : '');
  }

  /** The folder's subfolders (not deleted), by their names: a page or two whatever its datasets. */
  async subfolders(folderId: string): Promise<FolderItem[]> {
    return await leadingFolders(this.#folderPage(folderId), 100);
  }

  /** The folder's datasets updated lately, newest first, as far as `o` asks (folder-pages.ts). */
  async recentDatasets(folderId: string, o: RecentOptions): Promise<FolderItem[]> {
    return await recentDatasets(this.#folderPage(folderId), o);
  }

  #folderPage(folderId: string): PageOf {
    const base = `/api/folders/${enc(folderId)}/contents`;
    return async (offset, limit, query) => await this.#json('GET', `${base}?limit=${limit}&offset=${offset}${query ? `&${query}` : ''}`, undefined, (b) => {
      const body = expectObject(b, 'GET', base, []);
      const meta = expectObject(body.metadata, 'GET', base, []);
      if (typeof meta.total_rows !== 'number') throw shapeError('GET', base, 'metadata.total_rows is missing');
      return { total: meta.total_rows, page: expectArray(body.folder_contents, 'GET', base, ['id', 'type', 'name']) as FolderItem[] };
    });
  }

  // ---- histories, fetch, jobs -------------------------------------------------------------

  async createHistory(name: string): Promise<{ id: string; name: string }> {
    const p = '/api/histories';
    return await this.#json('POST', p, { name }, (b) => expectObject(b, 'POST', p, ['id'])) as { id: string; name: string };
  }

  async listHistories(): Promise<{ id: string; name: string }[]> {
    const p = '/api/histories';
    return await this.#json('GET', p, undefined, (b) => expectArray(b, 'GET', p, ['id'])) as { id: string; name: string }[];
  }

  /**
   * `POST /api/tools/fetch` into a library folder. `folderId` may carry the
   * `F` prefix the library APIs use: the fetch API wants it without.
   * Returns the job id; the datasets appear in the folder when the job ends.
   */
  /** One fetch request (one Galaxy job) with a target per library folder. */
  async fetchToFolders(opts: { historyId: string; targets: readonly { folderId: string; items: readonly FetchItem[] }[] }): Promise<{ jobId: string }> {
    const p = '/api/tools/fetch';
    const targets = opts.targets.map((t) => {
      const folder = t.folderId.startsWith('F') ? t.folderId.slice(1) : t.folderId;
      const items = t.items.map((it) => {
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
      return { destination: { type: 'library_folder', library_folder_id: folder }, items };
    });
    const body = { history_id: opts.historyId, targets };
    return this.#json('POST', p, body, (res) => {
      const first = expectArray(expectObject(res, 'POST', p, []).jobs, 'POST', p, ['id'])[0];
      if (!first) throw shapeError('POST', p, 'the answer names no job');
      return { jobId: first.id as string };
    });
  }

  /**
   * Jobs of one history, most recently updated first: after an upload whose answer was lost, they
   * tell whether Galaxy took it; with `updatedSinceMs`, only those Galaxy updated since then
   * (`date_range_min`, compared with `update_time`: Galaxy's times are UTC without a zone).
   */
  async listJobs(opts: { historyId: string; toolId?: string; limit?: number; updatedSinceMs?: number }): Promise<JobSummary[]> {
    const q = new URLSearchParams({ history_id: opts.historyId, limit: String(opts.limit ?? 100) });
    if (opts.toolId) q.set('tool_id', opts.toolId);
    if (opts.updatedSinceMs !== undefined) q.set('date_range_min', new Date(opts.updatedSinceMs).toISOString().slice(0, 23));
    const p = '/api/jobs';
    return await this.#json('GET', `${p}?${q.toString()}`, undefined, (b) => expectArray(b, 'GET', p, ['id', 'state'])) as JobSummary[];
  }

  async showJob(jobId: string, full = false): Promise<JobSummary> {
    const p = `/api/jobs/${enc(jobId)}${full ? '?full=true' : ''}`;
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', `/api/jobs/${enc(jobId)}`, ['id', 'state'])) as JobSummary;
  }
}
