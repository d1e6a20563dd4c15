import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { FileRecord } from './ledger.js';
import type { Row } from './rows.js';

/** The embedded ledger's schema (sqlite.ts): its migrations, its columns, and how a reader opens it. */

/** Each field of a record and its column. */
export const COLUMNS: Record<keyof Omit<FileRecord, 'path'>, keyof Row> = {
  size: 'size',
  mtimeMs: 'mtime_ms',
  state: 'state',
  attempts: 'attempts',
  lastError: 'last_error',
  libraryId: 'library_id',
  folderId: 'folder_id',
  datasetId: 'dataset_id',
  jobId: 'job_id',
  historyId: 'history_id',
  submittedAt: 'submitted_at',
  updatedAt: 'updated_at',
  checksum: 'checksum',
  verified: 'verified',
};

/** A whole row written (put). */
export const PUT_ROW = `INSERT OR REPLACE INTO files (path, size, mtime_ms, state, attempts, last_error, library_id, folder_id, dataset_id, job_id, history_id, submitted_at, updated_at, checksum, verified)
  VALUES (@path, @size, @mtime_ms, @state, @attempts, @last_error, @library_id, @folder_id, @dataset_id, @job_id, @history_id, @submitted_at, @updated_at, @checksum, @verified)`;

/** Versioned migrations (PRAGMA user_version): each runs once, in order. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE files (
     path TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     mtime_ms REAL NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     library_id TEXT,
     folder_id TEXT,
     dataset_id TEXT,
     job_id TEXT,
     history_id TEXT,
     submitted_at INTEGER,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX files_state ON files(state);
   CREATE INDEX files_dataset ON files(dataset_id);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE jobs (job_id TEXT PRIMARY KEY, history_id TEXT NOT NULL);
   CREATE INDEX jobs_history ON jobs(history_id);`,
  // Issue 28: each version's checksum, and whether Galaxy verified it in the upload job.
  `ALTER TABLE files ADD COLUMN checksum TEXT;
   ALTER TABLE files ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;`,
];

/**
 * The ledger file for reading only, leaving the state directory as it is. A reader of a WAL
 * database makes `-wal` and `-shm` files beside it (and, read-only, cannot remove them). So
 * while no `-wal` file is there (no daemon has the ledger open), the file's bytes are read into
 * memory, marked as a rollback-journal database in that copy's header (bytes 18 and 19), and
 * opened from there; while one is there, its readers' files exist already and the file is
 * opened read-only, seeing what the running daemon has committed.
 */
export function openReadOnly(file: string): Database.Database {
  if (existsSync(`${file}-wal`)) {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.exec('PRAGMA busy_timeout = 5000;');
    return db;
  }
  const bytes = readFileSync(file);
  if (bytes.length >= 20) bytes[18] = bytes[19] = 1;
  return new Database(bytes, { readonly: true });
}
