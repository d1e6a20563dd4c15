/**
 * The emulator's records: the rows of its tables (users, roles, libraries, folders, library
 * datasets, histories, jobs), its settings, job faults and the state file's snapshot. Types
 * only; the tables themselves live in store.ts.
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
  /**
   * Galaxy's Celery: `none` (enable_celery_tasks false, the single-process shape: no task ever
   * runs), `running` (an upload's dataset is hashed after its job, and PUT .../hash works), or
   * `stopped` (enable_celery_tasks true but no worker: tasks are queued and never run).
   */
  celery: 'none' | 'running' | 'stopped';
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

export interface LibraryRec {
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

export interface FolderRec {
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
  /**
   * The hashes the fetch item sent (Galaxy's DatasetHash rows): stored when the job verified them,
   * and also when one did not match (the dataset is then in error), as Galaxy does.
   */
  hashes?: { id: number; hashFunction: string; hex: string }[];
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

export interface HistoryRec {
  id: number;
  userId: number;
  name: string;
  createTime: string;
  /** DATASET_ACCESS role ids a fetch job's new datasets get: the user's defaults when the history was made. */
  defaultAccess?: number[];
  deleted?: boolean;
  purged?: boolean;
}

export type JobState = 'new' | 'queued' | 'running' | 'ok' | 'error';

export interface JobItem {
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
  /** Fetch items' `hashes` (and MD5/SHA-… keys), verified against the file when the job runs. */
  hashes?: { hashFunction: string; hex: string }[];
}

export interface JobRec {
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
