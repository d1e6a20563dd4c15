import type { FileRecord, FileState } from './ledger.js';

/** A ledger row as both stores name its columns. */
export interface Row {
  path: string;
  size: number;
  mtime_ms: number;
  state: FileState;
  attempts: number;
  last_error: string | null;
  library_id: string | null;
  folder_id: string | null;
  dataset_id: string | null;
  job_id: string | null;
  history_id: string | null;
  submitted_at: number | null;
  updated_at: number;
  checksum: string | null;
  /** SQLite: 0 or 1; PostgreSQL: a boolean. */
  verified: number | boolean;
}

/** The columns of a file's row, in the order of Row. */
export const ROW_COLUMNS = 'path, size, mtime_ms, state, attempts, last_error, library_id, folder_id, dataset_id, job_id, history_id, submitted_at, updated_at, checksum, verified';

export const fromRow = (r: Row): FileRecord => ({
  path: r.path,
  size: r.size,
  mtimeMs: r.mtime_ms,
  state: r.state,
  attempts: r.attempts,
  lastError: r.last_error,
  libraryId: r.library_id,
  folderId: r.folder_id,
  datasetId: r.dataset_id,
  jobId: r.job_id,
  historyId: r.history_id,
  submittedAt: r.submitted_at,
  updatedAt: r.updated_at,
  // A ledger of schema 1 read without migrating it (read-only) has neither column.
  checksum: r.checksum ?? null,
  verified: r.verified === true || r.verified === 1,
});
