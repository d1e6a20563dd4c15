import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { legacyDatasetName } from '../src/galaxy/names.js';
import { dataTypeClass, isKnownExt, metadataFor, sniff } from './datatypes.js';
import { adminRequired, GalaxyError, invalidParameter, missingParameter } from './errors.js';
import { IdCodec } from './ids.js';

/**
 * Galaxy's data-library model as galaxy-api.md describes it: libraries with a
 * root folder, nested folders, library datasets, histories and asynchronous
 * jobs. No HTTP here: routes.ts maps requests onto these methods.
 */

export interface EmulatorSettings {
  /** The release it answers as, "26.1.2" (the one its answers follow; docs/galaxy-notes.md). */
  version: string;
  /** Galaxy's library_import_dir; null when unset (server_dir imports are refused with 403004). */
  libraryImportDir: string | null;
  /** Galaxy's allow_path_paste (allow_library_path_paste). */
  allowPathPaste: boolean;
  /** How long a job stays `queued`, then `running`, in milliseconds. */
  jobQueuedMs: number;
  jobRunMs: number;
  /**
   * Folder contents pagination: `uniform` pages folders and datasets alike (older
   * code); `newest` returns every dataset on the page once folders fill it.
   */
  pagination: 'uniform' | 'newest';
  /** Galaxy's enable_notification_system (23.1 and later). */
  notifications: boolean;
}

export interface NotificationRec {
  id: number;
  userIds: number[];
  source: string;
  variant: string;
  subject: string;
  message: string;
  createTime: string;
}

export interface User {
  id: number;
  email: string;
  username: string;
  key: string;
  admin: boolean;
  /** The user's default DATASET_ACCESS role ids (User → Preferences → Set Dataset Permissions for New Histories); none: public. */
  defaultAccess?: number[];
}

interface LibraryRec {
  id: number;
  name: string;
  description: string;
  synopsis: string;
  rootFolderId: number;
  deleted: boolean;
  createTime: string;
  /** Role ids per library permission (LIBRARY_ACCESS: a member of any sees the library). */
  access?: number[];
  add?: number[];
  manage?: number[];
  modify?: number[];
}

export interface RoleRec {
  id: number;
  name: string;
  /** private: a user's own, named by the email. */
  type: 'private' | 'admin';
  description: string;
  userIds: number[];
}

interface FolderRec {
  id: number;
  libraryId: number;
  parentId: number | null;
  name: string;
  description: string;
  deleted: boolean;
  createTime: string;
  updateTime: string;
}

export type DatasetState = 'new' | 'queued' | 'running' | 'ok' | 'error';

export interface DatasetRec {
  id: number;
  lddaId: number;
  libraryId: number;
  folderId: number;
  name: string;
  state: DatasetState;
  ext: string;
  dbkey: string;
  fileSize: number;
  sha256: string | null;
  /** The path Galaxy read (or links to, in link mode). */
  sourcePath: string;
  linked: boolean;
  uploadedBy: string;
  info: string;
  blurb: string;
  peek: string;
  message: string;
  tags: string[];
  metadata: Record<string, string | number | null>;
  deleted: boolean;
  jobId: number;
  createTime: string;
  updateTime: string;
  /** DATASET_ACCESS role ids: a user needs every one; none means readable by all. */
  access?: number[];
  manage?: number[];
}

interface HistoryRec {
  id: number;
  userId: number;
  name: string;
  createTime: string;
  /** DATASET_ACCESS role ids a fetch job's new datasets get: the user's defaults when the history was made. */
  defaultAccess?: number[];
  deleted?: boolean;
  purged?: boolean;
}

const HISTORY_STATES = ['deferred', 'discarded', 'empty', 'error', 'failed_metadata', 'new', 'ok', 'paused', 'queued', 'running', 'setting_metadata', 'upload'];

export type JobState = 'new' | 'queued' | 'running' | 'ok' | 'error';

interface JobItem {
  folderId: number;
  fullPath: string;
  /** The name the client asked for (fetch) or Galaxy chose (legacy). */
  name: string | null;
  ext: string;
  dbkey: string;
  link: boolean;
  info: string;
  tags: string[];
  /** `directory`: mirror the tree below fullPath (items_from: directory). */
  kind: 'file' | 'directory';
  /** Legacy uploads create their dataset at request time. */
  datasetId: number | null;
}

interface JobRec {
  id: number;
  userId: number;
  toolId: '__DATA_FETCH__' | 'upload1';
  historyId: number | null;
  state: JobState;
  items: JobItem[];
  stderr: string;
  createTime: string;
  updateTime: string;
  stuck: boolean;
}

/** A rule that makes jobs fail or hang, for tests (see faults.ts for HTTP faults). */
export interface JobFault {
  /** A regular expression tested against each item's path relative to library_import_dir and its name. */
  match: string;
  /**
   * disk-full: as a real Galaxy whose file_path is full (docs/galaxy-notes.md): the job makes each
   * file's library dataset `ok` but empty or cut short, then ends `error` with no message.
   */
  outcome: 'job-error' | 'dataset-error' | 'stuck' | 'disk-full';
  /** How many jobs it applies to; unlimited when absent. */
  times?: number;
  message?: string;
}

export interface Snapshot {
  version: 1;
  secret: string;
  counters: Record<string, number>;
  users: User[];
  roles?: RoleRec[];
  libraries: LibraryRec[];
  folders: FolderRec[];
  datasets: DatasetRec[];
  histories: HistoryRec[];
  jobs: JobRec[];
}

const TERMINAL_JOB: ReadonlySet<JobState> = new Set(['ok', 'error']);

function now(): string {
  return new Date().toISOString().replace('Z', '000');
}

function str(body: Record<string, unknown>, key: string, fallback: string): string {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw invalidParameter(key, 'Input should be a valid string');
  return v;
}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** lib/galaxy/util/path safe_relpath: a string check only, no symlink resolution. */
function safeRelpath(p: string): boolean {
  return !path.isAbsolute(p) && !path.normalize(p).startsWith('..');
}

async function readForJob(file: string): Promise<{ size: number; sha256: string; head: Buffer }> {
  const hash = createHash('sha256');
  let size = 0;
  const chunks: Buffer[] = [];
  let headBytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (headBytes < 1 << 20) {
      chunks.push(chunk);
      headBytes += chunk.length;
    }
  }
  return { size, sha256: hash.digest('hex'), head: Buffer.concat(chunks) };
}

export class GalaxyModel {
  readonly settings: EmulatorSettings;
  readonly codec: IdCodec;
  readonly #secret: string;
  #counters: Record<string, number> = {};
  readonly users = new Map<number, User>();
  readonly roles = new Map<number, RoleRec>();
  readonly notifications: NotificationRec[] = [];
  readonly libraries = new Map<number, LibraryRec>();
  readonly folders = new Map<number, FolderRec>();
  readonly datasets = new Map<number, DatasetRec>();
  readonly histories = new Map<number, HistoryRec>();
  readonly jobs = new Map<number, JobRec>();
  readonly jobFaults: JobFault[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  /** Called after every change, so a state file can be kept. */
  onChange: () => void = () => undefined;

  constructor(settings: EmulatorSettings, secret: string) {
    this.settings = settings;
    this.#secret = secret;
    this.codec = new IdCodec(secret);
  }

  #next(table: string): number {
    const n = (this.#counters[table] ?? 0) + 1;
    this.#counters[table] = n;
    return n;
  }

  addUser(email: string, key: string, admin: boolean): User {
    const user: User = { id: this.#next('user'), email, username: email.split('@')[0] ?? email, key, admin };
    this.users.set(user.id, user);
    this.codec.encode(user.id);
    this.#newRole(email, 'private', '', [user.id]);
    return user;
  }

  #newRole(name: string, type: RoleRec['type'], description: string, userIds: number[]): RoleRec {
    const role: RoleRec = { id: this.#next('role'), name, type, description, userIds };
    this.roles.set(role.id, role);
    this.codec.encode(role.id);
    return role;
  }

  // ---- roles and permissions ---------------------------------------------------------------

  #roleView(r: RoleRec): Record<string, unknown> {
    const id = this.codec.encode(r.id);
    return { model_class: 'Role', id, name: r.name, type: r.type, description: r.type === 'private' ? null : r.description, url: `role?id=${id}` };
  }

  /** GET /api/roles: an admin sees every role, a user the roles they are in. */
  listRoles(user: User | null): unknown[] {
    return [...this.roles.values()].filter((r) => user?.admin === true || (user !== null && r.userIds.includes(user.id))).map((r) => this.#roleView(r));
  }

  /** POST /api/roles {name, description, user_ids, group_ids}. */
  createRole(user: User | null, body: Record<string, unknown>): unknown {
    if (!user?.admin) throw adminRequired();
    const name = str(body, 'name', '');
    if (name === '') throw missingParameter('name');
    if ([...this.roles.values()].some((r) => r.name === name)) throw new GalaxyError(409, 409001, `A role with that name already exists`);
    const ids = Array.isArray(body.user_ids) ? body.user_ids.map((u) => this.codec.decode(String(u), 'user id')) : [];
    const role = this.#newRole(name, 'admin', str(body, 'description', ''), ids);
    this.onChange();
    return this.#roleView(role);
  }

  /** Role ids from a permissions payload's `key[]` (one id or a list); an id that is no role is refused as Galaxy does. */
  #roleIds(body: Record<string, unknown>, key: string): number[] {
    const raw = body[`${key}[]`];
    const list = (Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    return list.map((enc) => {
      let id: number;
      try {
        id = this.codec.decode(enc, 'role id');
      } catch {
        throw new GalaxyError(400, 400009, `Wrong  id ( ${enc} ) specified, unable to decode.`);
      }
      if (!this.roles.has(id)) throw new GalaxyError(404, 404001, 'Role with the id provided was not found.');
      return id;
    });
  }

  #named(ids: number[] | undefined): [string, string][] {
    return (ids ?? []).map((id) => [this.roles.get(id)?.name ?? '', this.codec.encode(id)]);
  }

  #libraryPermissionsView(lib: LibraryRec): unknown {
    return {
      access_library_role_list: this.#named(lib.access),
      modify_library_role_list: this.#named(lib.modify),
      manage_library_role_list: this.#named(lib.manage),
      add_library_item_role_list: this.#named(lib.add),
    };
  }

  /** GET /api/libraries/{id}/permissions?scope=current. */
  libraryPermissions(user: User | null, encoded: string): unknown {
    if (!user?.admin) throw new GalaxyError(403, 403005, 'You do not have proper permission to access permissions of this library.');
    return this.#libraryPermissionsView(this.#library(user, encoded));
  }

  /** POST /api/libraries/{id}/permissions {action: set_permissions | remove_restrictions, access_ids[], add_ids[], manage_ids[], modify_ids[]}. */
  setLibraryPermissions(user: User | null, encoded: string, body: Record<string, unknown>): unknown {
    if (!user?.admin) throw new GalaxyError(403, 403005, 'You do not have proper permission to modify permissions of this library.');
    const lib = this.#library(user, encoded);
    if (body.action === 'remove_restrictions') lib.access = [];
    else if (body.action === 'set_permissions') {
      lib.access = this.#roleIds(body, 'access_ids');
      lib.add = this.#roleIds(body, 'add_ids');
      lib.manage = this.#roleIds(body, 'manage_ids');
      lib.modify = this.#roleIds(body, 'modify_ids');
    } else throw new GalaxyError(400, 400008, 'The mandatory parameter "action" has an invalid value.Allowed values are: "remove_restrictions", set_permissions"');
    this.onChange();
    return this.#libraryPermissionsView(lib);
  }

  /** POST /api/libraries/datasets/{id}/permissions {action: set_permissions, access_ids[], manage_ids[]}. */
  setDatasetPermissions(user: User | null, encoded: string, body: Record<string, unknown>): unknown {
    if (!['remove_restrictions', 'make_private', 'set_permissions'].includes(String(body.action))) {
      throw new GalaxyError(400, 400008, 'The mandatory parameter "action" has an invalid value. Allowed values are: "remove_restrictions", "make_private", "set_permissions"');
    }
    const d = this.datasets.get(this.codec.decode(encoded, 'library dataset id'));
    if (!d || d.deleted) throw new GalaxyError(404, 404001, 'Library dataset with the id provided was not found.');
    if (!user?.admin) throw new GalaxyError(403, 403005, 'You do not have proper permissions to manage permissions on this dataset.');
    if (body.action === 'remove_restrictions') d.access = [];
    else if (body.action === 'make_private') d.access = [...this.roles.values()].filter((r) => r.type === 'private' && r.userIds.includes(user.id)).map((r) => r.id);
    else {
      d.access = this.#roleIds(body, 'access_ids');
      d.manage = this.#roleIds(body, 'manage_ids');
    }
    this.onChange();
    return { access_dataset_roles: this.#named(d.access), manage_dataset_roles: this.#named(d.manage), modify_item_roles: [] };
  }

  // ---- notifications ------------------------------------------------------------------------

  /** POST /api/notifications (admins): a message to the users of the given users, roles (groups are not modelled). */
  sendNotification(user: User | null, body: Record<string, unknown>): unknown {
    if (!this.settings.notifications) throw new GalaxyError(403, 403004, 'Notifications are disabled in this Galaxy.');
    if (!user?.admin) throw new GalaxyError(403, 403006, 'Only administrators can create and send notifications.');
    const recipients = (body.recipients ?? {}) as Record<string, unknown>;
    const notification = (body.notification ?? {}) as Record<string, unknown>;
    const content = (notification.content ?? {}) as Record<string, unknown>;
    if (typeof content.subject !== 'string' || typeof content.message !== 'string') throw invalidParameter('notification', 'Field required in (\'body\', \'notification\', \'content\', \'subject\')');
    const ids = (key: string): number[] => (Array.isArray(recipients[key]) ? (recipients[key] as unknown[]).map((v) => this.codec.decode(String(v), key)) : []);
    const userIds = new Set(ids('user_ids'));
    for (const r of ids('role_ids')) for (const u of this.roles.get(r)?.userIds ?? []) userIds.add(u);
    const t = now();
    const rec: NotificationRec = { id: this.#next('notification'), userIds: [...userIds], source: typeof notification.source === 'string' ? notification.source : '', variant: typeof notification.variant === 'string' ? notification.variant : 'info', subject: content.subject, message: content.message, createTime: t };
    this.codec.encode(rec.id);
    this.notifications.push(rec);
    return { total_notifications_sent: rec.userIds.length, notification: this.#notificationView(rec) };
  }

  /** GET /api/notifications: the key's user's own. */
  listNotifications(user: User | null): unknown[] {
    if (!this.settings.notifications) throw new GalaxyError(403, 403004, 'Notifications are disabled in this Galaxy.');
    if (!user) throw new GalaxyError(403, 403001, 'You must be logged in to see your notifications.');
    return this.notifications.filter((n) => n.userIds.includes(user.id)).map((n) => ({ ...this.#notificationView(n), seen_time: null, deleted: false }));
  }

  #notificationView(n: NotificationRec): Record<string, unknown> {
    return { id: this.codec.encode(n.id), source: n.source, category: 'message', variant: n.variant, create_time: n.createTime, update_time: n.createTime, publication_time: n.createTime, content: { subject: n.subject, message: n.message, category: 'message' } };
  }

  /** Whether a user may see a library: an admin, a public one, or a member of one of its access roles. */
  #sees(user: User | null, lib: LibraryRec): boolean {
    return user?.admin === true || (lib.access ?? []).length === 0 || (user !== null && (lib.access ?? []).some((id) => this.roles.get(id)?.userIds.includes(user.id) === true));
  }

  userByKey(key: string): User | undefined {
    for (const u of this.users.values()) if (u.key === key) return u;
    return undefined;
  }

  // ---- users, version, configuration ---------------------------------------------------

  whoami(user: User | null): unknown {
    if (!user) return null;
    return {
      model_class: 'User',
      id: this.codec.encode(user.id),
      username: user.username,
      email: user.email,
      deleted: false,
      active: true,
      last_password_change: null,
    };
  }

  /** GET /api/users/{id}/permissions/inputs: the user's default dataset permissions as a form; role ids are plain numbers here. */
  userPermissions(user: User | null, encodedId: string): unknown {
    const target = this.#permissionsUser(user, encodedId);
    const roles = [...this.roles.values()].filter((r) => r.userIds.includes(target.id)).map((r) => [r.name, r.id]);
    const input = (name: string, label: string, value: number[]): unknown => ({ type: 'select', multiple: true, optional: true, name, label, help: '', options: roles, value });
    const own = [...this.roles.values()].find((r) => r.type === 'private' && r.userIds.includes(target.id))?.id;
    return { inputs: [input('DATASET_MANAGE_PERMISSIONS', 'manage permissions', own === undefined ? [] : [own]), input('DATASET_ACCESS', 'access', target.defaultAccess ?? [])] };
  }

  /** PUT /api/users/{id}/permissions/inputs {DATASET_ACCESS: [role number…], …}. */
  setUserPermissions(user: User | null, encodedId: string, body: Record<string, unknown>): unknown {
    const target = this.#permissionsUser(user, encodedId);
    const access = Array.isArray(body.DATASET_ACCESS) ? body.DATASET_ACCESS.map(Number) : [];
    target.defaultAccess = access.filter((id) => this.roles.has(id));
    this.onChange();
    return { message: 'Permissions have been saved.' };
  }

  #permissionsUser(user: User | null, encodedId: string): User {
    if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
    const id = this.codec.decode(encodedId, 'user id');
    const target = this.users.get(id);
    if (!target) throw new GalaxyError(404, 404001, 'User not found.');
    if (target.id !== user.id && !user.admin) throw new GalaxyError(403, 403006, 'Access denied.');
    return target;
  }

  currentUser(user: User | null): unknown {
    if (!user) return { total_disk_usage: 0, nice_total_disk_usage: '0 bytes', quota_percent: null };
    return {
      id: this.codec.encode(user.id),
      username: user.username,
      email: user.email,
      deleted: false,
      is_admin: user.admin,
      purged: false,
      preferences: {},
      preferred_object_store_id: null,
      quota: 'unlimited',
      quota_bytes: null,
      quota_percent: null,
      tags_used: [],
      total_disk_usage: 0,
      nice_total_disk_usage: '0 bytes',
    };
  }

  configuration(user: User | null, keys: string[] | null): Record<string, unknown> {
    const all: Record<string, unknown> = {
      version_major: this.settings.version.split('.').slice(0, 2).join('.'),
      version_minor: this.settings.version.split('.')[2] ?? null,
      brand: null,
      is_admin_user: Boolean(user?.admin),
      user_library_import_dir_available: false,
      allow_user_creation: true,
      enable_quotas: false,
      enable_notification_system: this.settings.notifications,
    };
    if (user?.admin) {
      Object.assign(all, {
        library_import_dir: this.settings.libraryImportDir,
        user_library_import_dir: null,
        allow_library_path_paste: this.settings.allowPathPaste,
        allow_user_deletion: false,
      });
    }
    if (!keys) return all;
    return Object.fromEntries(keys.filter((k) => Object.hasOwn(all, k)).map((k) => [k, all[k]]));
  }

  // ---- libraries --------------------------------------------------------------------------

  #librarySummary(lib: LibraryRec, user: User | null): Record<string, unknown> {
    const admin = Boolean(user?.admin);
    return {
      model_class: 'Library',
      id: this.codec.encode(lib.id),
      name: lib.name,
      description: lib.description,
      synopsis: lib.synopsis,
      root_folder_id: this.codec.folder(lib.rootFolderId),
      create_time: lib.createTime,
      create_time_pretty: '',
      deleted: lib.deleted,
      public: (lib.access ?? []).length === 0,
      can_user_add: admin,
      can_user_modify: admin,
      can_user_manage: admin,
    };
  }

  listLibraries(user: User | null, deleted: boolean | null): unknown[] {
    if (deleted === true && !user?.admin) throw adminRequired();
    const visible = [...this.libraries.values()].filter((lib) => {
      if (!user?.admin) return !lib.deleted && this.#sees(user, lib);
      return deleted === null ? true : lib.deleted === deleted;
    });
    visible.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id - b.id);
    return visible.map((lib) => this.#librarySummary(lib, user));
  }

  createLibrary(user: User | null, body: Record<string, unknown>): unknown {
    if (!user?.admin) throw adminRequired();
    if (body.name === undefined || body.name === null) throw missingParameter('name');
    const name = str(body, 'name', '');
    const t = now();
    const lib: LibraryRec = {
      id: this.#next('library'),
      name,
      description: str(body, 'description', ''),
      synopsis: str(body, 'synopsis', ''),
      rootFolderId: 0,
      deleted: false,
      createTime: t,
    };
    this.codec.encode(lib.id);
    const root = this.#newFolder(lib.id, null, name, '');
    lib.rootFolderId = root.id;
    this.libraries.set(lib.id, lib);
    this.onChange();
    return this.#librarySummary(lib, user);
  }

  #library(user: User | null, encoded: string): LibraryRec {
    const lib = this.libraries.get(this.codec.decode(encoded, 'library id'));
    if (!lib) throw new GalaxyError(404, 404001, 'Library with the id provided was not found.');
    if (lib.deleted && !user?.admin) throw new GalaxyError(404, 404001, 'Library with the id provided is deleted.');
    return lib;
  }

  showLibrary(user: User | null, encoded: string): unknown {
    return this.#librarySummary(this.#library(user, encoded), user);
  }

  deleteLibrary(user: User | null, encoded: string, undelete: boolean): unknown {
    if (!user?.admin) throw adminRequired();
    const lib = this.#library(user, encoded);
    lib.deleted = !undelete;
    this.onChange();
    return this.#librarySummary(lib, user);
  }

  // ---- folders ----------------------------------------------------------------------------

  #newFolder(libraryId: number, parentId: number | null, name: string, description: string): FolderRec {
    const t = now();
    const folder: FolderRec = {
      id: this.#next('folder'),
      libraryId,
      parentId,
      name,
      description,
      deleted: false,
      createTime: t,
      updateTime: t,
    };
    this.codec.encode(folder.id);
    this.folders.set(folder.id, folder);
    return folder;
  }

  #folder(id: number): FolderRec {
    const folder = this.folders.get(id);
    if (!folder || folder.deleted) throw new GalaxyError(400, 400008, 'No folder found with the id provided.');
    return folder;
  }

  /** The folder's path below the library root: '/' for the root, '/a/b' otherwise. */
  folderPath(folder: FolderRec): string {
    const names: string[] = [];
    let f: FolderRec | undefined = folder;
    while (f && f.parentId !== null) {
      names.unshift(f.name);
      f = this.folders.get(f.parentId);
    }
    return `/${names.join('/')}`;
  }

  #folderDetails(folder: FolderRec): Record<string, unknown> {
    const lib = this.libraries.get(folder.libraryId);
    const chain: string[] = [];
    let f: FolderRec | undefined = folder;
    while (f) {
      chain.unshift(f.parentId === null ? (lib?.name ?? f.name) : f.name);
      f = f.parentId === null ? undefined : this.folders.get(f.parentId);
    }
    return {
      model_class: 'LibraryFolder',
      id: this.codec.folder(folder.id),
      name: folder.name,
      description: folder.description,
      item_count: this.#children(folder.id).length + this.#datasetsIn(folder.id).length,
      parent_library_id: this.codec.encode(folder.libraryId),
      parent_id: folder.parentId === null ? null : this.codec.folder(folder.parentId),
      genome_build: '?',
      update_time: folder.updateTime,
      deleted: folder.deleted,
      library_path: chain,
    };
  }

  #children(folderId: number, includeDeleted = false): FolderRec[] {
    return [...this.folders.values()]
      .filter((f) => f.parentId === folderId && (includeDeleted || !f.deleted))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
  }

  #datasetsIn(folderId: number, includeDeleted = false): DatasetRec[] {
    return [...this.datasets.values()].filter((d) => d.folderId === folderId && (includeDeleted || !d.deleted));
  }

  showFolder(encoded: string): unknown {
    return this.#folderDetails(this.#folder(this.codec.decodeFolder(encoded)));
  }

  createFolder(user: User | null, parentEncoded: string, body: Record<string, unknown>): unknown {
    const parent = this.#folder(this.codec.decodeFolder(parentEncoded));
    if (!user?.admin) {
      throw new GalaxyError(403, 403005, 'You do not have proper permission to create folders under given folder.');
    }
    if (body.name === undefined || body.name === null) throw missingParameter('name');
    const folder = this.#newFolder(parent.libraryId, parent.id, str(body, 'name', ''), str(body, 'description', ''));
    this.onChange();
    return this.#folderDetails(folder);
  }

  folderContents(user: User | null, encoded: string, q: URLSearchParams): unknown {
    const folder = this.#folder(this.codec.decodeFolder(encoded));
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
    const folders = this.#children(folder.id, includeDeleted)
      .filter((f) => matches(f.name))
      .sort((a, b) => desc * compare(folderKey(a), folderKey(b)) || a.id - b.id);
    const datasets = this.#datasetsIn(folder.id, includeDeleted)
      .filter((d) => matches(d.name))
      .sort((a, b) => desc * compare(datasetKey(a), datasetKey(b)) || a.id - b.id);
    const admin = Boolean(user?.admin);
    const items: Record<string, unknown>[] = [
      ...folders.map((f) => ({
        id: this.codec.folder(f.id),
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
        id: this.codec.encode(d.id),
        type: 'file',
        name: d.name,
        file_ext: d.ext,
        date_uploaded: d.createTime,
        create_time: d.createTime,
        update_time: d.updateTime,
        is_unrestricted: (d.access ?? []).length === 0,
        is_private: (d.access ?? []).length === 1 && this.roles.get(d.access?.[0] ?? 0)?.type === 'private',
        can_manage: admin,
        state: d.state,
        file_size: humanSize(d.fileSize),
        raw_size: d.fileSize,
        ldda_id: this.codec.encode(d.lddaId),
        tags: d.tags,
        message: d.message || null,
        deleted: d.deleted,
      })),
    ];
    let page: Record<string, unknown>[];
    if (this.settings.pagination === 'newest' && offset < folders.length && offset + limit <= folders.length) {
      // Newest Galaxy: once folders fill the page, all datasets come along on it.
      page = [...items.slice(offset, offset + limit), ...items.slice(folders.length)];
    } else if (this.settings.pagination === 'newest' && offset >= folders.length && folders.length > 0) {
      page = [];
    } else {
      page = items.slice(offset, offset + limit);
    }
    const lib = this.libraries.get(folder.libraryId);
    const fullPath: [string, string][] = [];
    let f: FolderRec | undefined = folder;
    while (f) {
      fullPath.unshift([this.codec.folder(f.id), f.parentId === null ? (lib?.name ?? f.name) : f.name]);
      f = f.parentId === null ? undefined : this.folders.get(f.parentId);
    }
    return {
      metadata: {
        full_path: fullPath,
        total_rows: items.length,
        can_add_library_item: admin,
        can_modify_folder: admin,
        folder_name: folder.name,
        folder_description: folder.description,
        parent_library_id: this.codec.encode(folder.libraryId),
      },
      folder_contents: page,
    };
  }

  // ---- library contents (legacy API) --------------------------------------------------------

  contentsIndex(user: User | null, libEncoded: string): unknown[] {
    let lib: LibraryRec | undefined;
    try {
      lib = this.#library(user, libEncoded);
    } catch (err) {
      if (err instanceof GalaxyError && err.status === 404) {
        throw new GalaxyError(400, 400008, 'No library found with the id provided.');
      }
      throw err;
    }
    const libId = this.codec.encode(lib.id);
    const out: unknown[] = [];
    const url = (id: string): string => `/api/libraries/${libId}/contents/${id}`;
    const visit = (folder: FolderRec): void => {
      const fid = this.codec.folder(folder.id);
      out.push({ id: fid, type: 'folder', name: this.folderPath(folder), url: url(fid) });
      for (const child of this.#children(folder.id)) visit(child);
      const base = this.folderPath(folder);
      for (const d of this.#datasetsIn(folder.id)) {
        const id = this.codec.encode(d.id);
        out.push({ id, type: 'file', name: `${base === '/' ? '' : base}/${d.name}`, url: url(id) });
      }
    };
    visit(this.#folder(lib.rootFolderId));
    return out;
  }

  showContent(user: User | null, libEncoded: string, contentId: string): unknown {
    if (contentId.startsWith('F')) return this.#folderDetails(this.#folder(this.codec.decodeFolder(contentId)));
    if (contentId.length % 16 !== 0) throw new GalaxyError(400, 400009, `Malformed library content id ( ${contentId} ) specified, unable to decode.`);
    const id = this.codec.decode(contentId, 'library dataset id');
    const d = this.datasets.get(id);
    if (!d || d.deleted) throw new GalaxyError(400, 0, `Invalid LibraryDataset id ( ${contentId} ) specified`);
    void user;
    void libEncoded;
    return this.datasetDetails(d);
  }

  /** PATCH /api/libraries/datasets/{id}: name, genome_build, misc_info and tags of a library dataset. */
  updateDataset(user: User | null, encoded: string, body: Record<string, unknown>): unknown {
    if (!user?.admin) throw adminRequired();
    const d = this.datasets.get(this.codec.decode(encoded, 'library dataset id'));
    if (!d || d.deleted) throw new GalaxyError(400, 0, `Invalid LibraryDataset id ( ${encoded} ) specified`);
    if (typeof body.name === 'string' && body.name !== '') d.name = body.name;
    if (typeof body.misc_info === 'string') d.info = body.misc_info;
    if (typeof body.genome_build === 'string') d.dbkey = body.genome_build;
    if (Array.isArray(body.tags)) d.tags = body.tags.map(String);
    this.onChange();
    // Galaxy 26.1 answers with the library dataset manager's own view: the size as text, the path.
    const fullPath: [string, string][] = [[this.codec.encode(d.id), d.name]];
    for (let f: FolderRec | undefined = this.folders.get(d.folderId); f; f = f.parentId === null ? undefined : this.folders.get(f.parentId)) {
      fullPath.unshift([this.codec.folder(f.id), f.name]);
    }
    return {
      ...this.datasetDetails(d),
      file_size: humanSize(d.fileSize),
      deleted: d.deleted,
      full_path: fullPath,
      can_user_modify: true,
      is_unrestricted: true,
      can_user_manage: true,
    };
  }

  /** DELETE /api/libraries/{id}/contents/{dataset id}: marks a library dataset deleted. */
  deleteContent(user: User | null, contentId: string): unknown {
    if (!user?.admin) throw adminRequired();
    const d = this.datasets.get(this.codec.decode(contentId, 'library dataset id'));
    if (!d) throw new GalaxyError(400, 0, `Invalid LibraryDataset id ( ${contentId} ) specified`);
    d.deleted = true;
    this.onChange();
    return { id: contentId, deleted: true };
  }

  datasetDetails(d: DatasetRec): Record<string, unknown> {
    return {
      model_class: 'LibraryDataset',
      id: this.codec.encode(d.id),
      ldda_id: this.codec.encode(d.lddaId),
      parent_library_id: this.codec.encode(d.libraryId),
      folder_id: this.codec.folder(d.folderId),
      name: d.name,
      genome_build: d.dbkey,
      update_time: d.updateTime,
      state: d.state,
      file_name: d.linked ? d.sourcePath : `/galaxy/database/objects/${d.lddaId}/dataset_${d.lddaId}.dat`,
      // Galaxy 26.1 keeps no basename for server_dir and path imports.
      created_from_basename: null,
      uploaded_by: d.uploadedBy,
      message: d.message || null,
      date_uploaded: d.createTime,
      file_size: d.fileSize,
      file_ext: d.ext,
      data_type: dataTypeClass(d.ext),
      misc_info: d.info,
      misc_blurb: d.blurb,
      peek: d.peek,
      uuid: createHash('md5').update(`${this.#secret}:${d.id}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'),
      tags: d.tags,
      ...d.metadata,
    };
  }

  createContent(user: User | null, libEncoded: string, body: Record<string, unknown>): unknown[] {
    const createType = body.create_type;
    if (createType === undefined) throw missingParameter('create_type');
    if (body.folder_id === undefined) throw missingParameter('folder_id');
    // The library id in the URL is decoded but otherwise ignored: the folder decides (galaxy-api.md 3.5).
    this.codec.decode(libEncoded, 'library id');
    const folder = this.#folder(this.codec.decodeFolder(body.folder_id));
    const libId = this.codec.encode(folder.libraryId);
    const url = (id: string): string => `/api/libraries/${libId}/contents/${id}`;
    if (createType === 'folder') {
      if (!user?.admin) throw new GalaxyError(403, 403005, `You are not authorized to add an item to (${folder.name}).`);
      const created = this.#newFolder(folder.libraryId, folder.id, str(body, 'name', ''), str(body, 'description', ''));
      this.onChange();
      const id = this.codec.folder(created.id);
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
      const base = this.#serverDirBase(user, body.server_dir);
      files = this.#listServerDir(base);
    } else if (option === 'upload_paths') {
      files = this.#validatePaths(user, body.filesystem_paths);
    } else {
      throw new GalaxyError(400, 0, `Upload option '${option}' is not supported by this emulator.`);
    }
    const job = this.#newJob(user, 'upload1', null);
    const out: unknown[] = [];
    for (const file of files) {
      const base = path.basename(file);
      const name = legacyDatasetName(base, link);
      const d = this.#newDataset(folder, name, file, link, user, job.id, 'queued');
      d.ext = fileType;
      d.dbkey = dbkey;
      d.tags = tags;
      job.items.push({ folderId: folder.id, fullPath: file, name, ext: fileType, dbkey, link, info: '', tags, kind: 'file', datasetId: d.id });
      const id = this.codec.encode(d.id);
      out.push({ id, name, url: url(id) });
    }
    this.#schedule(job);
    this.onChange();
    return out;
  }

  /** validate_server_directory_upload (lib/galaxy/actions/library.py). */
  #serverDirBase(user: User, serverDir: unknown): string {
    if (serverDir === undefined || serverDir === null || serverDir === '' || serverDir === 'None') {
      throw new GalaxyError(400, 400008, 'Invalid or unspecified server_dir parameter');
    }
    if (typeof serverDir !== 'string') throw invalidParameter('server_dir', 'Input should be a valid string');
    if (!user.admin) {
      throw new GalaxyError(403, 403004, '"user_library_import_dir" is not set in the Galaxy configuration');
    }
    const importDir = this.settings.libraryImportDir;
    if (!importDir) throw new GalaxyError(403, 403004, '"library_import_dir" is not set in the Galaxy configuration');
    if (!safeRelpath(serverDir)) throw new GalaxyError(400, 400008, 'Invalid server_dir specified');
    return path.join(importDir, serverDir);
  }

  /** _get_server_dir_files: the top level only, regular files (symlinks followed). */
  #listServerDir(dir: string): string[] {
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
  #validatePaths(user: User, raw: unknown): string[] {
    if (!this.settings.allowPathPaste) {
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

  // ---- histories ----------------------------------------------------------------------------

  createHistory(user: User | null, body: Record<string, unknown>): unknown {
    if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
    const h: HistoryRec = { id: this.#next('history'), userId: user.id, name: str(body, 'name', 'Unnamed history'), createTime: now(), defaultAccess: [...(user.defaultAccess ?? [])] };
    this.codec.encode(h.id);
    this.histories.set(h.id, h);
    this.onChange();
    return this.#historySummary(h);
  }

  #historySummary(h: HistoryRec): Record<string, unknown> {
    return {
      model_class: 'History',
      id: this.codec.encode(h.id),
      name: h.name,
      deleted: h.deleted === true,
      purged: h.purged === true,
      count: 0,
      url: `/api/histories/${this.codec.encode(h.id)}`,
      create_time: h.createTime,
      update_time: h.createTime,
      tags: [],
      annotation: null,
      archived: false,
      contents_url: `/api/histories/${this.codec.encode(h.id)}/contents`,
      genome_build: null,
      importable: false,
      preferred_object_store_id: null,
      published: false,
      size: 0,
      slug: null,
      state: 'new',
      state_details: Object.fromEntries(HISTORY_STATES.map((x) => [x, 0])),
      state_ids: Object.fromEntries(HISTORY_STATES.map((x) => [x, []])),
      user_id: this.codec.encode(h.userId),
      username: [...this.users.values()].find((u) => u.id === h.userId)?.email.split('@')[0] ?? '',
      username_and_slug: null,
    };
  }

  listHistories(user: User | null): unknown[] {
    if (!user) return [];
    return [...this.histories.values()].filter((h) => h.userId === user.id && !h.deleted).map((h) => this.#historySummary(h));
  }

  /** DELETE /api/histories/{id}[?purge=true], as an admin does in the UI. */
  deleteHistory(user: User | null, encoded: string, purge: boolean): unknown {
    if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
    const h = this.histories.get(this.codec.decode(encoded, 'history id'));
    if (!h) throw new GalaxyError(400, 400008, 'History not found.');
    h.deleted = true;
    if (purge) h.purged = true;
    this.onChange();
    return this.#historySummary(h);
  }

  // ---- the fetch API ------------------------------------------------------------------------

  fetch(user: User | null, body: Record<string, unknown>): unknown {
    if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
    if (body.history_id === undefined || body.history_id === null) throw missingParameter('history_id');
    const history = this.histories.get(this.codec.decode(body.history_id, 'history id'));
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
    for (const target of targets) items.push(...this.#fetchTarget(user, target, requestLink));
    const job = this.#newJob(user, '__DATA_FETCH__', history.id);
    job.items = items;
    this.#schedule(job);
    this.onChange();
    return {
      outputs: [],
      output_collections: [],
      implicit_collections: [],
      produces_entry_points: false,
      jobs: [this.jobDict(job, false)],
    };
  }

  #fetchTarget(user: User, target: unknown, requestLink: unknown): JobItem[] {
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
      folderNum = this.codec.decode(dest.library_folder_id, 'library_folder_id');
    } catch (err) {
      if (!(err instanceof GalaxyError) || err.errCode !== 400008) throw err;
      const loc = ['body', 'targets', 0, 'DataElementsTarget', 'destination', 'library_folder', 'library_folder_id'];
      throw new GalaxyError(400, 400007, `Value error, Invalid id length, must be multiple of 16 in (${loc.map((l) => (typeof l === 'string' ? `'${l}'` : l)).join(', ')})`, {
        validation_errors: [JSON.stringify({ type: 'value_error', loc, msg: 'Value error, Invalid id length, must be multiple of 16', input: dest.library_folder_id })],
      });
    }
    const folder = this.#folder(folderNum);
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
      const full = this.#itemPath(user, t);
      return [{ folderId: folder.id, fullPath: full, name: null, ext: 'auto', dbkey: '?', link: false, info: '', tags: [], kind: 'directory', datasetId: null }];
    }
    const list = t.items ?? t.elements;
    if (!Array.isArray(list)) throw missingParameter('items');
    return list.map((raw) => this.#fetchItem(user, folder, raw, requestLink));
  }

  #fetchItem(user: User, folder: FolderRec, raw: unknown, requestLink: unknown): JobItem {
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
      folderId: folder.id,
      fullPath: this.#itemPath(user, item),
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

  #itemPath(user: User, item: Record<string, unknown>): string {
    const src = item.src;
    if (src === 'server_dir') return this.#serverDirBase(user, item.server_dir);
    if (src === 'path' || (src === 'url' && typeof item.url === 'string' && item.url.startsWith('file://'))) {
      const p = src === 'path' ? item.path : (item.url as string).slice('file://'.length);
      if (typeof p !== 'string' || p === '') throw missingParameter('path');
      if (!this.settings.allowPathPaste) {
        throw new GalaxyError(403, 403004, '"allow_path_paste" is not set to True in the Galaxy configuration file');
      }
      if (!user.admin) throw adminRequired();
      return p;
    }
    if (src === undefined) throw missingParameter('src');
    throw new GalaxyError(400, 400008, `Item src '${JSON.stringify(src)}' is not supported by this emulator.`);
  }

  // ---- jobs ---------------------------------------------------------------------------------

  #newJob(user: User, toolId: JobRec['toolId'], historyId: number | null): JobRec {
    const t = now();
    const job: JobRec = { id: this.#next('job'), userId: user.id, toolId, historyId, state: 'new', items: [], stderr: '', createTime: t, updateTime: t, stuck: false };
    this.codec.encode(job.id);
    this.jobs.set(job.id, job);
    return job;
  }

  /** A job as GET /api/jobs lists it; `show`: as GET /api/jobs/{id} shows it (more keys). */
  jobDict(job: JobRec, full: boolean, show = false): Record<string, unknown> {
    const base: Record<string, unknown> = {
      model_class: 'Job',
      id: this.codec.encode(job.id),
      history_id: job.historyId === null ? null : this.codec.encode(job.historyId),
      tool_id: job.toolId,
      state: job.state,
      exit_code: TERMINAL_JOB.has(job.state) ? (job.state === 'ok' ? 0 : 1) : null,
      create_time: job.createTime,
      update_time: job.updateTime,
      galaxy_version: this.settings.version.split('.').slice(0, 2).join('.'),
      external_id: String(10_000 + job.id),
      handler: null,
      job_runner_name: null,
      command_line: job.toolId === 'upload1' ? 'python upload.py' : 'python data_fetch.py --request-version 1',
      user_email: null,
      // Galaxy 26.1 names the user in a job's own view only.
      user_id: show ? this.codec.encode(job.userId) : null,
    };
    if (show) {
      // A fetch job into a library lists no outputs, ever: the datasets are found in the folder.
      Object.assign(base, {
        command_version: null,
        params: { request_version: '"1"', request_json: '"{}"', file_count: '"0"', files: '[]', paramfile: 'null' },
        inputs: {},
        outputs: {},
        copied_from_job_id: null,
        output_collections: {},
      });
    }
    if (full) {
      Object.assign(base, { stdout: '', stderr: job.stderr, job_stdout: '', job_stderr: '', tool_stdout: '', tool_stderr: job.stderr, job_messages: [] });
    }
    return base;
  }

  /**
   * GET /api/jobs: the key's own jobs (every job for admins), most recently updated first,
   * filtered like Galaxy's index (managers/jobs.py index_query): `date_range_min` keeps jobs
   * whose update_time is at or after it (a naive UTC time, or one with a zone).
   */
  listJobs(user: User | null, q: URLSearchParams): unknown[] {
    if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
    const historyId = q.get('history_id');
    const history = historyId === null ? null : this.codec.decode(historyId, 'history id');
    const states = q.getAll('state').flatMap((s) => s.split(','));
    const tool = q.get('tool_id');
    const limit = q.has('limit') ? Number(q.get('limit')) : 500;
    const offset = q.has('offset') ? Number(q.get('offset')) : 0;
    const minText = q.get('date_range_min');
    const min = minText === null ? null : Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(minText) ? minText : `${minText}Z`);
    if (min !== null && Number.isNaN(min)) throw new GalaxyError(400, 400008, `Invalid datetime: ${minText}`);
    const updated = (j: JobRec): number => Date.parse(`${j.updateTime.slice(0, 23)}Z`);
    return [...this.jobs.values()]
      .filter((j) => (user.admin || j.userId === user.id) && (history === null || j.historyId === history))
      .filter((j) => (states.length === 0 || states.includes(j.state)) && (tool === null || j.toolId === tool))
      .filter((j) => min === null || updated(j) >= min)
      .sort((a, b) => updated(b) - updated(a) || b.id - a.id)
      .slice(offset, offset + limit)
      .map((j) => this.jobDict(j, false));
  }

  showJob(encoded: string, full: boolean): unknown {
    const job = this.jobs.get(this.codec.decode(encoded, 'job id'));
    if (!job) throw new GalaxyError(404, 404001, 'Job not found.');
    return this.jobDict(job, full, true);
  }

  /** Every fault that matches one of the job's items (a job of several folders can meet several). */
  #faultsFor(job: JobRec): JobFault[] {
    const importDir = this.settings.libraryImportDir ?? '/';
    const hits: JobFault[] = [];
    for (const fault of this.jobFaults) {
      if (fault.times !== undefined && fault.times <= 0) continue;
      const re = new RegExp(fault.match);
      const hit = job.items.some((it) => re.test(path.relative(importDir, it.fullPath)) || (it.name !== null && re.test(it.name)));
      if (hit) {
        if (fault.times !== undefined) fault.times--;
        hits.push(fault);
      }
    }
    return hits;
  }

  #later(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #schedule(job: JobRec): void {
    const faults = job.state === 'new' ? this.#faultsFor(job) : [];
    if (faults.some((f) => f.outcome === 'stuck')) job.stuck = true;
    this.#later(0, () => {
      this.#setJob(job, 'queued');
      if (job.stuck) return;
      this.#later(this.settings.jobQueuedMs, () => {
        this.#setJob(job, 'running');
        this.#setDatasets(job, 'running');
        this.#later(this.settings.jobRunMs, () => {
          void this.#run(job, faults);
        });
      });
    });
  }

  /** Restart the timers of unfinished jobs, after a restore. */
  resumeJobs(): void {
    for (const job of this.jobs.values()) {
      if (TERMINAL_JOB.has(job.state) || job.stuck) continue;
      job.state = 'new';
      this.#schedule(job);
    }
  }

  #setJob(job: JobRec, state: JobState): void {
    job.state = state;
    job.updateTime = now();
    this.onChange();
  }

  #setDatasets(job: JobRec, state: DatasetState): void {
    for (const it of job.items) {
      const d = it.datasetId === null ? undefined : this.datasets.get(it.datasetId);
      if (d) {
        d.state = state;
        d.updateTime = now();
      }
    }
  }

  async #run(job: JobRec, faults: readonly JobFault[]): Promise<void> {
    const fault = faults.find((f) => f.outcome === 'job-error');
    if (fault) {
      job.stderr = fault.message ?? 'Job failed: the emulator was told to fail it.';
      for (const it of job.items) {
        const d = it.datasetId === null ? undefined : this.datasets.get(it.datasetId);
        if (d) {
          d.state = 'error';
          d.info = job.stderr;
        }
      }
      this.#setJob(job, 'error');
      return;
    }
    const user = this.users.get(job.userId);
    if (faults.some((f) => f.outcome === 'disk-full')) {
      job.items.forEach((it, i) => {
        const folder = this.folders.get(it.folderId);
        if (!folder || it.kind === 'directory') return;
        let size = 0;
        try {
          size = i === 0 ? 0 : Math.floor(statSync(it.fullPath).size / 3);
        } catch {
          // gone: an empty dataset all the same
        }
        const d = this.#itemDataset(it, folder, it.name ?? path.basename(it.fullPath), user, job.id, 'ok');
        Object.assign(d, { ext: 'txt', fileSize: size, updateTime: now() });
      });
      job.stderr = '';
      this.#setJob(job, 'error');
      return;
    }
    for (const it of job.items) {
      if (this.#closed) return;
      const rel = path.relative(this.settings.libraryImportDir ?? '/', it.fullPath);
      const hit = faults.find((f) => f.outcome === 'dataset-error' && new RegExp(f.match).test(rel));
      const forced = hit ? (hit.message ?? 'The emulator was told to fail this dataset.') : null;
      if (it.kind === 'directory') await this.#runDirectory(job, it, user);
      else await this.#runFile(job, it, user, forced);
    }
    if (this.#closed) return;
    this.#setJob(job, 'ok');
  }

  async #runFile(job: JobRec, it: JobItem, user: User | undefined, forcedError: string | null): Promise<void> {
    const folder = this.folders.get(it.folderId);
    if (!folder) return;
    let d = it.datasetId === null ? undefined : this.datasets.get(it.datasetId);
    const fail = (message: string): void => {
      // A failed fetch item leaves the job ok and creates an "Unnamed dataset" in error (galaxy-api.md 9).
      d ??= this.#itemDataset(it, folder, 'Unnamed dataset', user, job.id, 'error');
      d.state = 'error';
      d.info = message;
      d.updateTime = now();
    };
    if (forcedError !== null) return fail(forcedError);
    let st;
    try {
      st = await fsp.stat(it.fullPath);
    } catch (err) {
      return fail(`Failed to fetch ${it.fullPath}: ${(err as Error).message}`);
    }
    if (st.isDirectory()) return fail(`${it.fullPath} is a directory; use items_from: directory to import its contents.`);
    let read;
    try {
      read = await readForJob(it.fullPath);
    } catch (err) {
      return fail(`Failed to read ${it.fullPath}: ${(err as Error).message}`);
    }
    const name = it.name ?? path.basename(it.fullPath);
    d ??= this.#itemDataset(it, folder, name, user, job.id, 'running');
    const ext = it.ext === 'auto' ? sniff(name, read.head) : it.ext;
    const meta = metadataFor(ext, read.head, it.dbkey);
    Object.assign(d, {
      state: 'ok',
      ext,
      dbkey: it.dbkey,
      fileSize: read.size,
      sha256: read.sha256,
      blurb: meta.blurb,
      info: it.info || meta.info,
      peek: meta.peek,
      metadata: meta.fields,
      updateTime: now(),
    } satisfies Partial<DatasetRec>);
  }

  async #runDirectory(job: JobRec, it: JobItem, user: User | undefined): Promise<void> {
    const walk = async (dir: string, folderId: number): Promise<void> => {
      const entries = await fsp.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
          const parent = this.folders.get(folderId);
          if (!parent) continue;
          const sub = this.#newFolder(parent.libraryId, folderId, e.name, '');
          await walk(full, sub.id);
        } else {
          await this.#runFile(job, { ...it, kind: 'file', folderId, fullPath: full, name: e.name, datasetId: null }, user, null);
        }
      }
    };
    try {
      await walk(it.fullPath, it.folderId);
    } catch (err) {
      const folder = this.folders.get(it.folderId);
      if (folder) {
        const d = this.#newDataset(folder, 'Unnamed dataset', it.fullPath, false, user, job.id, 'error');
        d.info = `Failed to list ${it.fullPath}: ${(err as Error).message}`;
      }
    }
  }

  /**
   * The dataset a job item creates, remembered on the item: a job resumed after a restart
   * finishes the same dataset instead of making a second one (Galaxy's job handlers resume a
   * job; they do not import its files twice).
   */
  #itemDataset(it: JobItem, folder: FolderRec, name: string, user: User | undefined, jobId: number, state: DatasetState): DatasetRec {
    const d = this.#newDataset(folder, name, it.fullPath, it.link, user, jobId, state);
    it.datasetId = d.id;
    return d;
  }

  #newDataset(folder: FolderRec, name: string, sourcePath: string, linked: boolean, user: User | undefined, jobId: number, state: DatasetState): DatasetRec {
    const t = now();
    const d: DatasetRec = {
      id: this.#next('library_dataset'),
      lddaId: this.#next('ldda'),
      libraryId: folder.libraryId,
      folderId: folder.id,
      name,
      state,
      ext: 'auto',
      dbkey: '?',
      fileSize: 0,
      sha256: null,
      sourcePath,
      linked,
      uploadedBy: user?.email ?? '',
      info: '',
      blurb: '',
      peek: '',
      message: '',
      tags: [],
      metadata: {},
      deleted: false,
      jobId,
      createTime: t,
      updateTime: t,
    };
    // A fetch job's datasets take its history's default permissions, not the library's (Galaxy's
    // PermissionProvider in job_execution/output_collect.py; docs/galaxy-notes.md, "Access").
    const job = this.jobs.get(jobId);
    const history = job?.toolId === '__DATA_FETCH__' && job.historyId !== null ? this.histories.get(job.historyId) : undefined;
    if (history?.defaultAccess?.length) d.access = [...history.defaultAccess];
    this.codec.encode(d.id);
    this.codec.encode(d.lddaId);
    this.datasets.set(d.id, d);
    folder.updateTime = t;
    return d;
  }

  // ---- state for tests and restarts ---------------------------------------------------------

  /**
   * A folder that already holds `count` ok datasets (`<prefix><n>`, last updated a day ago), for
   * tests and benchmarks of large folders; the library and folders are made when missing.
   * Returns the folder's encoded id.
   */
  seedFolder(libraryName: string, folderPath: string[], count: number, prefix = 'old-'): string {
    const find = (): LibraryRec | undefined => [...this.libraries.values()].find((l) => l.name === libraryName && !l.deleted);
    if (!find()) this.createLibrary([...this.users.values()].find((u) => u.admin) ?? null, { name: libraryName });
    const lib = find();
    if (!lib) throw new Error(`seedFolder: library ${libraryName} could not be made`);
    let folder = this.#folder(lib.rootFolderId);
    for (const name of folderPath) folder = this.#children(folder.id).find((f) => f.name === name) ?? this.#newFolder(lib.id, folder.id, name, '');
    const dayAgo = new Date(Date.now() - 86_400_000).toISOString().replace('Z', '000');
    for (let i = 0; i < count; i++) {
      const d = this.#newDataset(folder, `${prefix}${i}`, '', false, undefined, 0, 'ok');
      d.createTime = dayAgo;
      d.updateTime = dayAgo;
    }
    this.onChange();
    return this.codec.folder(folder.id);
  }


  /** Every live dataset with its library and folder path, for assertions. */
  tree(): { library: string; folder: string; name: string; state: DatasetState; size: number; sha256: string | null; sourcePath: string; id: string; info: string }[] {
    const out = [];
    for (const d of this.datasets.values()) {
      if (d.deleted) continue;
      const folder = this.folders.get(d.folderId);
      const lib = this.libraries.get(d.libraryId);
      out.push({
        library: lib?.name ?? '',
        folder: folder ? this.folderPath(folder) : '',
        name: d.name,
        state: d.state,
        size: d.fileSize,
        sha256: d.sha256,
        sourcePath: d.sourcePath,
        id: this.codec.encode(d.id),
        info: d.info,
      });
    }
    return out;
  }

  snapshot(): Snapshot {
    return {
      version: 1,
      secret: this.#secret,
      counters: { ...this.#counters },
      users: [...this.users.values()],
      roles: [...this.roles.values()],
      libraries: [...this.libraries.values()],
      folders: [...this.folders.values()],
      datasets: [...this.datasets.values()],
      histories: [...this.histories.values()],
      jobs: [...this.jobs.values()],
    };
  }

  restore(s: Snapshot): void {
    this.#counters = { ...s.counters };
    const fill = <T extends { id: number }>(map: Map<number, T>, rows: T[]): void => {
      map.clear();
      for (const r of rows) {
        map.set(r.id, r);
        this.codec.encode(r.id);
      }
    };
    fill(this.users, s.users);
    fill(this.roles, s.roles ?? []);
    fill(this.libraries, s.libraries);
    fill(this.folders, s.folders);
    fill(this.datasets, s.datasets);
    fill(this.histories, s.histories);
    fill(this.jobs, s.jobs);
    for (const d of s.datasets) this.codec.encode(d.lddaId);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
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
