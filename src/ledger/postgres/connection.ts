import pg from 'pg';
import type { Clock } from '../../clock.js';
import type { Emit } from '../../observe/events.js';
import type { Logger } from '../../observe/logger.js';
import { LedgerError } from '../sqlite.js';
import { LOCK_MIGRATE, MIGRATIONS } from './sql.js';

/** Connecting to the shared ledger's database, and bringing its schema up to date. */

export interface PostgresLedgerOptions {
  url: string;
  password: string | null;
  leaseSeconds: number;
  /** This replica's name; the host name when null. */
  replica: string | null;
  /** replica: a daemon that claims files (holds its name, renews leases, adopts); client: `status`, `retry`, `check`. */
  role: 'replica' | 'client';
  version: string;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Where ledger.unavailable, ledger.available and ledger.unwritten go (the log and the metrics); `log` without it. */
  emit?: Emit;
  /** Keep trying while the database cannot be reached (the daemon); otherwise fail at once. */
  waitForDatabase: boolean;
  /** A replica whose name another running process holds: wait for it (`run`), or fail at once (`scan`). */
  waitForName?: boolean;
  signal?: AbortSignal;
  /** Stamps rows, claims and leases, and times the waits and the writes behind. */
  clock: Clock;
}

/** The URL without anything secret, for messages (it never carries a password: the config refuses one). */
export function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'the PostgreSQL ledger';
  }
}

/** BIGINT (int8) as a JS number: sizes and millisecond times fit in 2^53. */
const parseInt8 = (v: string): number => Number(v);
export const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === 20) return parseInt8;
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};


/** pg's settings for one connection (`max`: a pool of that many). The password is never in the URL. */
export function clientConfig(o: { url: string; password: string | null; replica: string }, max?: number): pg.PoolConfig {
  return {
    ...connectionFields(o.url),
    ...(o.password !== null ? { password: o.password } : {}),
    application_name: `galaxy-importd ${o.replica}`,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
    query_timeout: 35_000,
    keepAlive: true,
    types: TYPES,
    ...(max !== undefined ? { max, idleTimeoutMillis: 30_000 } : {}),
  };
}

/**
 * The URL as pg's separate fields: given as `connectionString`, pg lets the URL's (absent)
 * password override the one given beside it. `?host=/run/postgresql` names a socket
 * directory; `?sslmode=` is disable (default), require, or verify-full.
 */
export function connectionFields(url: string): pg.ClientConfig {
  const u = new URL(url);
  const socketDir = u.searchParams.get('host');
  const sslmode = u.searchParams.get('sslmode') ?? 'disable';
  const fields: pg.ClientConfig = {
    host: socketDir ?? (u.hostname.replace(/^\[|\]$/g, '') || 'localhost'),
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    user: u.username ? decodeURIComponent(u.username) : undefined,
  };
  if (sslmode === 'require' || sslmode === 'prefer') fields.ssl = { rejectUnauthorized: false };
  else if (sslmode === 'verify-ca' || sslmode === 'verify-full') fields.ssl = { rejectUnauthorized: true };
  return fields;
}

/** Apply the migrations this database lacks, once, under LOCK_MIGRATE (replicas starting together). */
export async function migrate(pool: pg.Pool, where: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_MIGRATE]);
    await c.query('CREATE TABLE IF NOT EXISTS importd_schema (version INTEGER NOT NULL)');
    const r = await c.query<{ version: number }>('SELECT version FROM importd_schema');
    let version = r.rows[0]?.version ?? 0;
    if (r.rowCount === 0) await c.query('INSERT INTO importd_schema (version) VALUES (0)');
    if (version > MIGRATIONS.length) {
      await c.query('ROLLBACK');
      throw new LedgerError(`the PostgreSQL ledger at ${where} has schema version ${version}, newer than this galaxy-importd knows (${MIGRATIONS.length}): upgrade this replica to the version the others run`);
    }
    for (; version < MIGRATIONS.length; version++) await c.query(MIGRATIONS[version] ?? '');
    await c.query('UPDATE importd_schema SET version = $1', [version]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
