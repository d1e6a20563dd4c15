import { DONE_STATES } from '../ledger.js';
import { ROW_COLUMNS } from '../rows.js';

/** The shared ledger's schema and statements (store.ts explains how they are used). */

export const TERMINAL_SQL = `(${[...DONE_STATES].map((st) => `'${st}'`).join(', ')})`;
/** ledger.ts isInDoubt() as SQL, over a row named `f`. */
export const IN_DOUBT_SQL = `(f.state = 'submitted' OR (f.state = 'retrying' AND f.history_id IS NOT NULL AND f.job_id IS NULL))`;
/** Advisory lock name spaces (first key of the two-key form): "gi" + 1, 2, 3. */
export const LOCK_MIGRATE = 0x6769_0001;
export const LOCK_NAME = 0x6769_0002;
export const LOCK_TARGET = 0x6769_0003;

/** Versioned migrations: each runs once, in order, under LOCK_MIGRATE, so replicas starting together apply it once. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE importd_files (
     path TEXT PRIMARY KEY,
     size BIGINT NOT NULL,
     mtime_ms DOUBLE PRECISION NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     library_id TEXT,
     folder_id TEXT,
     dataset_id TEXT,
     job_id TEXT,
     history_id TEXT,
     submitted_at BIGINT,
     updated_at BIGINT NOT NULL,
     owner TEXT,
     lease_until TIMESTAMPTZ
   );
   CREATE INDEX importd_files_owner ON importd_files (owner, lease_until) WHERE owner IS NOT NULL;
   CREATE INDEX importd_files_dataset ON importd_files (dataset_id) WHERE dataset_id IS NOT NULL;
   CREATE TABLE importd_jobs (job_id TEXT PRIMARY KEY, history_id TEXT NOT NULL);
   CREATE INDEX importd_jobs_history ON importd_jobs (history_id);
   CREATE TABLE importd_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE importd_replicas (
     name TEXT PRIMARY KEY,
     host TEXT,
     pid INTEGER,
     version TEXT,
     started_at BIGINT,
     heartbeat_at TIMESTAMPTZ
   );`,
  // Issue 28: each version's checksum, and whether Galaxy verified it in the upload job.
  `ALTER TABLE importd_files ADD COLUMN checksum TEXT, ADD COLUMN verified BOOLEAN NOT NULL DEFAULT false;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export const UPSERT = `
  INSERT INTO importd_files AS f (path, size, mtime_ms, state, attempts, last_error, library_id, folder_id, dataset_id, job_id, history_id, submitted_at, updated_at, checksum, verified, owner, lease_until)
  SELECT t.path, t.size, t.mtime_ms, t.state, t.attempts, t.last_error, t.library_id, t.folder_id, t.dataset_id, t.job_id, t.history_id, t.submitted_at, t.updated_at, t.checksum, t.verified,
         CASE WHEN t.state IN ${TERMINAL_SQL} OR $16::text IS NULL THEN NULL ELSE $16::text END,
         CASE WHEN t.state IN ${TERMINAL_SQL} OR $16::text IS NULL THEN NULL ELSE now() + make_interval(secs => $17) END
  FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::text[], $15::bool[])
    AS t(path, size, mtime_ms, state, attempts, last_error, library_id, folder_id, dataset_id, job_id, history_id, submitted_at, updated_at, checksum, verified)
  ON CONFLICT (path) DO UPDATE SET
    size = EXCLUDED.size, mtime_ms = EXCLUDED.mtime_ms, state = EXCLUDED.state, attempts = EXCLUDED.attempts,
    last_error = EXCLUDED.last_error, library_id = EXCLUDED.library_id, folder_id = EXCLUDED.folder_id,
    dataset_id = EXCLUDED.dataset_id, job_id = EXCLUDED.job_id, history_id = EXCLUDED.history_id,
    submitted_at = EXCLUDED.submitted_at, updated_at = EXCLUDED.updated_at, checksum = EXCLUDED.checksum, verified = EXCLUDED.verified,
    owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
  -- Only the holder writes a held row, even after its lease lapsed: files change hands through
  -- claim and adopt alone, so a replica back from an outage cannot take back a file another
  -- replica may have sent already.
  WHERE f.owner = $16::text
     OR (f.owner IS NULL AND ($16::text IS NULL OR f.state NOT IN ${TERMINAL_SQL} OR EXCLUDED.state IN ${TERMINAL_SQL}))
  RETURNING f.path`;

export const CLAIM = `
  INSERT INTO importd_files AS f (path, size, mtime_ms, state, attempts, updated_at, owner, lease_until)
  SELECT t.path, t.size, t.mtime_ms, 'ready', 0, $4, $5, now() + make_interval(secs => $6)
  FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS t(path, size, mtime_ms)
  ON CONFLICT (path) DO UPDATE SET owner = $5, lease_until = now() + make_interval(secs => $6)
  WHERE f.owner = $5
     OR ((f.owner IS NULL OR f.lease_until < now())
         AND NOT (f.state IN ${TERMINAL_SQL} AND f.size = EXCLUDED.size AND f.mtime_ms = EXCLUDED.mtime_ms)
         -- A request in doubt is adopted (and looked for in Galaxy), never claimed afresh.
         AND NOT ${IN_DOUBT_SQL})
  RETURNING ${ROW_COLUMNS.split(', ').map((c) => `f.${c}`).join(', ')}`;

export const ADOPT = `
  WITH c AS (
    SELECT path FROM importd_files
    WHERE state NOT IN ${TERMINAL_SQL}
      -- Never this replica's own while it runs (its lease may have lapsed in an outage; the
      -- files are still in its pipeline): only at start, when they are its last run's.
      AND (owner IS NULL OR (owner <> $1 AND lease_until < now()) OR ($2 AND owner = $1))
    ORDER BY path
    LIMIT 20000
    FOR UPDATE SKIP LOCKED)
  UPDATE importd_files f SET owner = $1, lease_until = now() + make_interval(secs => $3)
  FROM c WHERE f.path = c.path
  RETURNING ${ROW_COLUMNS.split(', ').map((c) => `f.${c}`).join(', ')}`;

/** Histories with a request in doubt held by another replica than $1. */
export const HISTORIES_IN_DOUBT = `
  SELECT DISTINCT history_id FROM importd_files
  WHERE history_id IS NOT NULL AND job_id IS NULL AND state IN ('submitted', 'retrying') AND owner IS DISTINCT FROM $1`;

/** A key of the advisory lock LOCK_TARGET (a library or folder being created). */
export function lockKey(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) h = Math.imul(h ^ byte, 0x01000193);
  return h | 0;
}

/**
 * PostgreSQL text cannot hold NUL, which a Galaxy message (a job's stderr) may carry: one such
 * reason must not block every later write, so NUL becomes U+FFFD.
 */
export function storable<T extends string | null>(v: T): T {
  return (v !== null && v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v) as T;
}
