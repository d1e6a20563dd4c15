/**
 * The ledger: the daemon's memory of every file across restarts. The pipeline
 * uses only this interface, so the embedded SQLite store and a shared
 * PostgreSQL store can stand behind it alike.
 */

export type FileState = 'seen' | 'settling' | 'ready' | 'queued' | 'submitted' | 'retrying' | 'ok' | 'failed' | 'skipped';

export const FILE_STATES: readonly FileState[] = ['seen', 'settling', 'ready', 'queued', 'submitted', 'retrying', 'ok', 'failed', 'skipped'];

export interface FileRecord {
  /** Path relative to the import directory, '/'-separated: the file's identity. */
  path: string;
  size: number;
  /** Modification time in milliseconds: with size and path, the fingerprint. */
  mtimeMs: number;
  state: FileState;
  attempts: number;
  lastError: string | null;
  libraryId: string | null;
  /** F-prefixed folder id. */
  folderId: string | null;
  datasetId: string | null;
  jobId: string | null;
  /** The history the upload request named: after a lost answer, its jobs tell whether Galaxy took the request. */
  historyId: string | null;
  /** When the last upload request was sent (ms since the epoch); null before any. */
  submittedAt: number | null;
  /** Milliseconds since the epoch. */
  updatedAt: number;
}

export interface Ledger {
  get(path: string): FileRecord | undefined;
  /** Just state and fingerprint: the hot look-up of every walk, kept cheap. */
  fingerprint(path: string): Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined;
  /** Insert or replace a whole record. */
  put(record: FileRecord): void;
  /** Change some fields of an existing record; `updatedAt` is set to now. */
  update(path: string, fields: Partial<Omit<FileRecord, 'path'>>): void;
  /** Several changes at once, atomically. */
  transaction(fn: () => void): void;
  inState(...states: FileState[]): FileRecord[];
  counts(): Record<FileState, number>;
  /** Per library folder and state, for `status`. */
  countsByFolder(): { folderId: string | null; state: FileState; count: number }[];
  /** Whether a dataset id is already assigned to a file: a dataset is never claimed twice. */
  isClaimed(datasetId: string): boolean;
  /** Remember a job Galaxy created for an upload from this history. */
  rememberJob(historyId: string, jobId: string): void;
  /** Jobs known to come from this daemon's uploads in a history. */
  jobsOf(historyId: string): Set<string>;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  close(): void;
}
