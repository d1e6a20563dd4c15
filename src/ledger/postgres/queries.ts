import type pg from 'pg';
import type { FileRecord, FileState, ReplicaInfo } from '../ledger.js';
import { UPSERT, storable } from './sql.js';
import type { Unwritten } from './memory.js';

/** The shared ledger's statements that are more than one line: writing changes, and `status`. */

/**
 * One transaction: the rows (written only where `owner` still holds them), the jobs, the meta.
 * Returns the paths another replica holds now.
 */
export async function writeChanges(pool: pg.Pool, rowOf: (path: string) => FileRecord | undefined, u: Unwritten, owner: string | null, leaseSeconds: number): Promise<string[]> {
  const lost: string[] = [];
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query('BEGIN');
    for (let i = 0; i < u.paths.length; i += 2000) {
      const rows = u.paths.slice(i, i + 2000).map(rowOf).filter((r): r is FileRecord => r !== undefined);
      const res = await c.query<{ path: string }>(UPSERT, [
        rows.map((r) => r.path), rows.map((r) => r.size), rows.map((r) => r.mtimeMs), rows.map((r) => r.state), rows.map((r) => r.attempts),
        rows.map((r) => storable(r.lastError)), rows.map((r) => storable(r.libraryId)), rows.map((r) => storable(r.folderId)), rows.map((r) => storable(r.datasetId)),
        rows.map((r) => storable(r.jobId)), rows.map((r) => storable(r.historyId)), rows.map((r) => r.submittedAt), rows.map((r) => r.updatedAt),
        rows.map((r) => r.checksum), rows.map((r) => r.verified), owner, leaseSeconds,
      ]);
      const written = new Set(res.rows.map((r) => r.path));
      for (const r of rows) if (!written.has(r.path)) lost.push(r.path);
    }
    if (u.jobs.length > 0) {
      await c.query('INSERT INTO importd_jobs (history_id, job_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (job_id) DO NOTHING', [u.jobs.map((j) => storable(j[0])), u.jobs.map((j) => storable(j[1]))]);
    }
    for (const [k, v] of u.meta) {
      await c.query('INSERT INTO importd_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [k, storable(v)]);
    }
    await c.query('COMMIT');
  } catch (err) {
    broken = err as Error;
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release(broken);
  }
  return lost;
}

/** Each replica, whether it renews, and what it holds (`status`). */
export async function replicaStatus(pool: pg.Pool, leaseSeconds: number): Promise<ReplicaInfo[]> {
  const regs = await pool.query<{ name: string; host: string | null; pid: number | null; version: string | null; started_at: number | null; age: number | null }>(
    'SELECT name, host, pid, version, started_at, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 AS age FROM importd_replicas ORDER BY name',
  );
  const holds = await pool.query<{ owner: string; state: FileState; n: number }>(
    'SELECT owner, state, count(*)::int AS n FROM importd_files WHERE owner IS NOT NULL GROUP BY owner, state ORDER BY owner, state',
  );
  const out = new Map<string, ReplicaInfo>();
  for (const r of regs.rows) {
    out.set(r.name, {
      name: r.name, host: r.host, pid: r.pid, version: r.version, startedAt: r.started_at,
      heartbeatAgeSeconds: r.age === null ? null : Math.round(r.age), alive: r.age !== null && r.age < leaseSeconds, holds: {},
    });
  }
  for (const h of holds.rows) {
    let info = out.get(h.owner);
    if (!info) {
      info = { name: h.owner, host: null, pid: null, version: null, startedAt: null, heartbeatAgeSeconds: null, alive: false, holds: {} };
      out.set(h.owner, info);
    }
    info.holds[h.state] = h.n;
  }
  return [...out.values()];
}
