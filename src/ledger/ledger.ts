import { ImportdError } from '../errors.js';
import type { FileState } from '../states.js';

/**
 * The ledger: the daemon's memory of every file across restarts. The pipeline
 * uses only this interface, so the embedded SQLite store and a shared
 * PostgreSQL store can stand behind it alike.
 */

// The states live on the ground floor (states.ts): the ledger stores them, observe/ counts them.
export type { FileState } from '../states.js';
export { DONE_STATES, FILE_STATES, zeroCounts } from '../states.js';

/**
 * A request that may have reached Galaxy: sent, or retrying after a lost answer whose job was
 * not looked for yet. It is confirmed through the history the row names, never sent blindly.
 */
export function isInDoubt(r: Pick<FileRecord, 'state' | 'historyId' | 'jobId'>): boolean {
  return r.state === 'submitted' || (r.state === 'retrying' && r.historyId !== null && r.jobId === null);
}

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
  /**
   * The checksum of this version (size, mtime) taken once it settled ([upload] checksum), as
   * `<Galaxy's hash function>:<hex>` (`SHA-256:9f86…`); null: none taken.
   */
  checksum: string | null;
  /** Galaxy verified the checksum in the job that imported this version (the fetch item's hashes). */
  verified: boolean;
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
  /** Up to `limit` rows in `state`, oldest first (a backlog's turn, ledger-ordered: SQLite's rowid, the shared ledger's first load). */
  firstInState(state: FileState, limit: number): FileRecord[];
  counts(): Record<FileState, number>;
  /**
   * Files per directory (relative, '' for the top; where routing starts) and state, for
   * `status` and the status page: one entry per directory and state, whatever the number of files;
   * `verified`: of them, those Galaxy verified the checksum of.
   */
  countsByDirectory(): { dir: string; state: FileState; count: number; verified: number }[];
  /** Whether a dataset id is already assigned to a file: a dataset is never claimed twice. */
  isClaimed(datasetId: string): boolean;
  /** Remember a job Galaxy created for an upload from this history. */
  rememberJob(historyId: string, jobId: string): void;
  /** Jobs known to come from this daemon's uploads in a history. */
  jobsOf(historyId: string): Set<string>;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Write what is pending (up to `deadlineMs`), let go of what this process holds, and close. */
  close(deadlineMs?: number): Promise<void>;
  /** How this process shares the ledger's files with others (coordinator.ts): the same interface for both stores. */
  readonly coordinator: Coordinator;
}

/** What the pipeline's per-file transitions need of the ledger (pipeline/files.ts). */
export type FileRows = Pick<Ledger, 'get' | 'put' | 'update' | 'transaction' | 'rememberJob' | 'inState' | 'firstInState'>;

/** A replica's row in a shared ledger, for `status`. */
export interface ReplicaInfo {
  name: string;
  host: string | null;
  pid: number | null;
  version: string | null;
  startedAt: number | null;
  /** Seconds since its last renewal; null when it never registered (files of a replica that stopped). */
  heartbeatAgeSeconds: number | null;
  /** Renewed within the lease time. */
  alive: boolean;
  /** Files it holds, by state. */
  holds: Partial<Record<FileState, number>>;
}

/**
 * How the processes that use one ledger share its files. With the embedded SQLite ledger one
 * process owns it whole (coordinator.ts, `localCoordinator`): every claim succeeds, commits
 * are immediate. With PostgreSQL several replicas share it: claims with leases, a durable
 * write before every Galaxy call, take-over of a dead replica's files, and a lock for creating
 * libraries and folders. No caller asks which one it has.
 */
export interface Coordinator {
  /** This replica's name (the owner of its claims); null when one process owns the ledger. */
  readonly replica: string | null;
  /** How long a claim lasts unrenewed; null without leases. */
  readonly leaseSeconds: number | null;
  /** How often to look for files no running replica holds (adopt(false)); null: never. */
  readonly adoptEveryMs: number | null;
  /**
   * Claim settled files for this process. Returns the paths now held; the others are done or
   * held by a live replica (their rows are then known to get() and fingerprint()).
   */
  claim(files: readonly { path: string; size: number; mtimeMs: number }[]): Promise<Set<string>>;
  /** Resolves when every change made so far is durable; waits (and retries) while the database is unreachable. */
  commit(signal?: AbortSignal): Promise<void>;
  /** Why the ledger cannot be used now (for /readyz), or null. */
  problem(): string | null;
  /** Whether this process still holds the file (false once another replica took it over). */
  owns(path: string): boolean;
  /**
   * Rows to pick up: at start (`initial`), this process's own from its last run; later, files
   * whose holder stopped renewing and those `retry` queued.
   */
  adopt(initial: boolean): Promise<FileRecord[]>;
  /** Histories with a request in doubt held by another replica: not to be used for new requests. */
  historiesInDoubt(): Promise<Set<string>>;
  /**
   * Run `fn` holding a lock on `key` that every process of this ledger respects (creating a
   * library or folder). `since`: what another process made before the lock was held is seen
   * only by a look begun after this time (0 when no other process can have).
   */
  withLock<T>(key: string, fn: (since: number) => Promise<T>): Promise<T>;
  /** Each replica and what it holds, for `status`; null when one process owns the ledger. */
  replicas(): Promise<ReplicaInfo[] | null>;
}

/** A shared ledger's database cannot be reached now: a transient failure, retried; nothing is lost. */
export class LedgerUnavailableError extends ImportdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LEDGER_UNAVAILABLE', message, options);
  }
}
