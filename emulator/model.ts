import * as contents from './contents.js';
import * as datasets from './datasets.js';
import * as fetchApi from './fetch.js';
import * as folders from './folders.js';
import * as histories from './histories.js';
import type { IdCodec } from './ids.js';
import * as jobs from './jobs.js';
import * as libraries from './libraries.js';
import * as notifications from './notifications.js';
import type { DatasetRec, DatasetState, EmulatorSettings, FolderRec, HistoryRec, JobFault, JobRec, LibraryRec, NotificationRec, RoleRec, Snapshot, User } from './records.js';
import * as roles from './roles.js';
import { Store } from './store.js';
import * as users from './users.js';

export type { DatasetRec, DatasetState, EmulatorSettings, JobFault, JobState, NotificationRec, RoleRec, Snapshot, User } from './records.js';

/**
 * Galaxy's data-library model as galaxy-api.md describes it: libraries with a
 * root folder, nested folders, library datasets, histories and asynchronous
 * jobs. No HTTP here: server.ts maps requests onto these methods.
 *
 * A facade: the state is a Store (store.ts, the records in records.ts) and each
 * resource is a module of functions that take it: roles.ts, notifications.ts,
 * users.ts, libraries.ts, folders.ts, datasets.ts, contents.ts, histories.ts,
 * fetch.ts and jobs.ts (with the job runner).
 */
export class GalaxyModel {
  readonly #store: Store;
  readonly settings: EmulatorSettings;
  readonly codec: IdCodec;
  readonly users: Map<number, User>;
  readonly roles: Map<number, RoleRec>;
  readonly notifications: NotificationRec[];
  readonly libraries: Map<number, LibraryRec>;
  readonly folders: Map<number, FolderRec>;
  readonly datasets: Map<number, DatasetRec>;
  readonly histories: Map<number, HistoryRec>;
  readonly jobs: Map<number, JobRec>;
  readonly jobFaults: JobFault[];

  constructor(settings: EmulatorSettings, secret: string) {
    const s = new Store(settings, secret);
    this.#store = s;
    this.settings = s.settings;
    this.codec = s.codec;
    this.users = s.users;
    this.roles = s.roles;
    this.notifications = s.notifications;
    this.libraries = s.libraries;
    this.folders = s.folders;
    this.datasets = s.datasets;
    this.histories = s.histories;
    this.jobs = s.jobs;
    this.jobFaults = s.jobFaults;
  }

  /** Called after every change, so a state file can be kept. */
  get onChange(): () => void {
    return this.#store.onChange;
  }

  set onChange(fn: () => void) {
    this.#store.onChange = fn;
  }

  addUser(email: string, key: string, admin: boolean): User {
    return users.addUser(this.#store, email, key, admin);
  }

  // ---- roles and permissions (roles.ts) ---------------------------------------------------

  listRoles(user: User | null): unknown[] {
    return roles.listRoles(this.#store, user);
  }

  createRole(user: User | null, body: Record<string, unknown>): unknown {
    return roles.createRole(this.#store, user, body);
  }

  libraryPermissions(user: User | null, encoded: string): unknown {
    return roles.libraryPermissions(this.#store, user, encoded);
  }

  setLibraryPermissions(user: User | null, encoded: string, body: Record<string, unknown>): unknown {
    return roles.setLibraryPermissions(this.#store, user, encoded, body);
  }

  setDatasetPermissions(user: User | null, encoded: string, body: Record<string, unknown>): unknown {
    return roles.setDatasetPermissions(this.#store, user, encoded, body);
  }

  // ---- notifications (notifications.ts) ---------------------------------------------------

  sendNotification(user: User | null, body: Record<string, unknown>): unknown {
    return notifications.sendNotification(this.#store, user, body);
  }

  listNotifications(user: User | null): unknown[] {
    return notifications.listNotifications(this.#store, user);
  }

  // ---- users, version, configuration (users.ts) -------------------------------------------

  userByKey(key: string): User | undefined {
    return users.userByKey(this.#store, key);
  }

  whoami(user: User | null): unknown {
    return users.whoami(this.#store, user);
  }

  userPermissions(user: User | null, encodedId: string): unknown {
    return users.userPermissions(this.#store, user, encodedId);
  }

  setUserPermissions(user: User | null, encodedId: string, body: Record<string, unknown>): unknown {
    return users.setUserPermissions(this.#store, user, encodedId, body);
  }

  currentUser(user: User | null): unknown {
    return users.currentUser(this.#store, user);
  }

  configuration(user: User | null, keys: string[] | null): Record<string, unknown> {
    return users.configuration(this.#store, user, keys);
  }

  // ---- libraries (libraries.ts) -----------------------------------------------------------

  listLibraries(user: User | null, deleted: boolean | null): unknown[] {
    return libraries.listLibraries(this.#store, user, deleted);
  }

  createLibrary(user: User | null, body: Record<string, unknown>): unknown {
    return libraries.createLibrary(this.#store, user, body);
  }

  showLibrary(user: User | null, encoded: string): unknown {
    return libraries.showLibrary(this.#store, user, encoded);
  }

  deleteLibrary(user: User | null, encoded: string, undelete: boolean): unknown {
    return libraries.deleteLibrary(this.#store, user, encoded, undelete);
  }

  // ---- folders (folders.ts) ---------------------------------------------------------------

  /** The folder's path below the library root: '/' for the root, '/a/b' otherwise. */
  folderPath(folder: FolderRec): string {
    return folders.folderPath(this.#store, folder);
  }

  showFolder(encoded: string): unknown {
    return folders.showFolder(this.#store, encoded);
  }

  createFolder(user: User | null, parentEncoded: string, body: Record<string, unknown>): unknown {
    return folders.createFolder(this.#store, user, parentEncoded, body);
  }

  folderContents(user: User | null, encoded: string, q: URLSearchParams): unknown {
    return folders.folderContents(this.#store, user, encoded, q);
  }

  // ---- library datasets (datasets.ts) and library contents, the legacy API (contents.ts) --

  contentsIndex(user: User | null, libEncoded: string): unknown[] {
    return contents.contentsIndex(this.#store, user, libEncoded);
  }

  showContent(user: User | null, libEncoded: string, contentId: string): unknown {
    return contents.showContent(this.#store, user, libEncoded, contentId);
  }

  updateDataset(user: User | null, encoded: string, body: Record<string, unknown>): unknown {
    return datasets.updateDataset(this.#store, user, encoded, body);
  }

  showDataset(user: User | null, encoded: string): unknown {
    return datasets.showDataset(this.#store, user, encoded);
  }

  computeDatasetHash(user: User | null, encoded: string, q: URLSearchParams, body: Record<string, unknown>): unknown {
    return datasets.computeDatasetHash(this.#store, user, encoded, q, body);
  }

  datasetStorage(user: User | null, encoded: string, q: URLSearchParams): unknown {
    return datasets.datasetStorage(this.#store, user, encoded, q);
  }

  deleteContent(user: User | null, contentId: string): unknown {
    return contents.deleteContent(this.#store, user, contentId);
  }

  datasetDetails(d: DatasetRec): Record<string, unknown> {
    return datasets.datasetDetails(this.#store, d);
  }

  createContent(user: User | null, libEncoded: string, body: Record<string, unknown>): unknown[] {
    return contents.createContent(this.#store, user, libEncoded, body);
  }

  // ---- histories (histories.ts) -----------------------------------------------------------

  createHistory(user: User | null, body: Record<string, unknown>): unknown {
    return histories.createHistory(this.#store, user, body);
  }

  listHistories(user: User | null): unknown[] {
    return histories.listHistories(this.#store, user);
  }

  deleteHistory(user: User | null, encoded: string, purge: boolean): unknown {
    return histories.deleteHistory(this.#store, user, encoded, purge);
  }

  // ---- the fetch API (fetch.ts) -----------------------------------------------------------

  fetch(user: User | null, body: Record<string, unknown>): unknown {
    return fetchApi.fetchData(this.#store, user, body);
  }

  // ---- jobs (jobs.ts) ---------------------------------------------------------------------

  /** A job as GET /api/jobs lists it; `show`: as GET /api/jobs/{id} shows it (more keys). */
  jobDict(job: JobRec, full: boolean, show = false): Record<string, unknown> {
    return jobs.jobDict(this.#store, job, full, show);
  }

  listJobs(user: User | null, q: URLSearchParams): unknown[] {
    return jobs.listJobs(this.#store, user, q);
  }

  showJob(encoded: string, full: boolean): unknown {
    return jobs.showJob(this.#store, encoded, full);
  }

  /** Restart the timers of unfinished jobs, after a restore. */
  resumeJobs(): void {
    jobs.resumeJobs(this.#store);
  }

  /** Galaxy restarted under its jobs: each unfinished one ends error with no message (jobs.ts). */
  killUnfinishedJobs(): number {
    return jobs.killUnfinishedJobs(this.#store);
  }

  // ---- state for tests and restarts ---------------------------------------------------------

  /**
   * A folder that already holds `count` ok datasets (`<prefix><n>`, last updated a day ago), for
   * tests and benchmarks of large folders; the library and folders are made when missing.
   * Returns the folder's encoded id.
   */
  seedFolder(libraryName: string, folderPath: string[], count: number, prefix = 'old-'): string {
    const s = this.#store;
    const find = (): LibraryRec | undefined => [...s.libraries.values()].find((l) => l.name === libraryName && !l.deleted);
    if (!find()) libraries.createLibrary(s, [...s.users.values()].find((u) => u.admin) ?? null, { name: libraryName });
    const lib = find();
    if (!lib) throw new Error(`seedFolder: library ${libraryName} could not be made`);
    let folder = folders.getFolder(s, lib.rootFolderId);
    for (const name of folderPath) folder = folders.childFolders(s, folder.id).find((f) => f.name === name) ?? folders.newFolder(s, lib.id, folder.id, name, '');
    const dayAgo = new Date(Date.now() - 86_400_000).toISOString().replace('Z', '000');
    for (let i = 0; i < count; i++) {
      const d = datasets.newDataset(s, folder, `${prefix}${i}`, '', false, undefined, 0, 'ok');
      d.createTime = dayAgo;
      d.updateTime = dayAgo;
    }
    s.onChange();
    return s.codec.folder(folder.id);
  }

  /** Every live dataset with its library and folder path, for assertions. */
  tree(): { library: string; folder: string; name: string; state: DatasetState; size: number; sha256: string | null; sourcePath: string; id: string; info: string }[] {
    const s = this.#store;
    const out = [];
    for (const d of s.datasets.values()) {
      if (d.deleted) continue;
      const folder = s.folders.get(d.folderId);
      const lib = s.libraries.get(d.libraryId);
      out.push({
        library: lib?.name ?? '',
        folder: folder ? folders.folderPath(s, folder) : '',
        name: d.name,
        state: d.state,
        size: d.fileSize,
        sha256: d.sha256,
        sourcePath: d.sourcePath,
        id: s.codec.encode(d.id),
        info: d.info,
      });
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.#store.snapshot();
  }

  restore(s: Snapshot): void {
    this.#store.restore(s);
  }

  close(): void {
    jobs.stopJobs(this.#store);
  }
}
