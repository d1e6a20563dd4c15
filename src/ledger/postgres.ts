import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../observe/logger.js';
import type { Coordinator, FileRecord, FileState, Ledger, ReplicaInfo } from './ledger.js';
import type { Emit } from '../observe/events.js';
import { writeEvent } from '../observe/telemetry.js';
import { DONE_STATES, LedgerUnavailableError, zeroCounts } from './ledger.js';
import type { Row } from './rows.js';
import { fromRow, ROW_COLUMNS } from './rows.js';
import { LedgerError } from './sqlite.js';

/**
 * The shared ledger: one PostgreSQL database for several replicas watching the
 * same import directory (design.md, "PostgreSQL ledger").
 *
 * Each replica keeps the rows it knows in memory, so the pipeline's look-ups
 * stay synchronous and cheap, and writes its changes behind, in batches: one
 * statement per batch, whatever its size. Coordination happens where it must:
 * - a settled file is *claimed* (an upsert that takes the row only when it is
 *   free, done with another fingerprint, or its holder's lease ran out);
 * - before every upload request the replica *commits*: the `submitted` rows are
 *   in the database, written only where this replica still holds them;
 * - claims carry a lease, renewed every third of `lease_seconds` while the
 *   replica lives; files of a replica that stopped renewing are *adopted* by
 *   the others (`FOR UPDATE SKIP LOCKED`, so two never take the same row);
 * - library and folder creation runs under a transaction-scoped advisory lock;
 * - a replica's name is a session advisory lock on a dedicated connection
 *   (not the pool), so one name is one running process, and its histories are
 *   its own: a request in doubt is looked for in a history no other replica uses.
 */

const TERMINAL_SQL = `(${[...DONE_STATES].map((st) => `'${st}'`).join(', ')})`;
/** ledger.ts isInDoubt() as SQL, over a row named `f`. */
const IN_DOUBT_SQL = `(f.state = 'submitted' OR (f.state = 'retrying' AND f.history_id IS NOT NULL AND f.job_id IS NULL))`;
/** Advisory lock name spaces (first key of the two-key form): "gi" + 1, 2, 3. */
const LOCK_MIGRATE = 0x6769_0001;
const LOCK_NAME = 0x6769_0002;
const LOCK_TARGET = 0x6769_0003;

/** Versioned migrations: each runs once, in order, under LOCK_MIGRATE, so replicas starting together apply it once. */
const MIGRATIONS: readonly string[] = [
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** BIGINT (int8) as a JS number: sizes and millisecond times fit in 2^53. */
const parseInt8 = (v: string): number => Number(v);
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === 20) return parseInt8;
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

const UPSERT = `
  INSERT INTO importd_files AS f (path, size, mtime_ms, state, attempts, last_error, library_id, folder_id, dataset_id, job_id, history_id, submitted_at, updated_at, owner, lease_until)
  SELECT t.path, t.size, t.mtime_ms, t.state, t.attempts, t.last_error, t.library_id, t.folder_id, t.dataset_id, t.job_id, t.history_id, t.submitted_at, t.updated_at,
         CASE WHEN t.state IN ${TERMINAL_SQL} OR $14::text IS NULL THEN NULL ELSE $14::text END,
         CASE WHEN t.state IN ${TERMINAL_SQL} OR $14::text IS NULL THEN NULL ELSE now() + make_interval(secs => $15) END
  FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[])
    AS t(path, size, mtime_ms, state, attempts, last_error, library_id, folder_id, dataset_id, job_id, history_id, submitted_at, updated_at)
  ON CONFLICT (path) DO UPDATE SET
    size = EXCLUDED.size, mtime_ms = EXCLUDED.mtime_ms, state = EXCLUDED.state, attempts = EXCLUDED.attempts,
    last_error = EXCLUDED.last_error, library_id = EXCLUDED.library_id, folder_id = EXCLUDED.folder_id,
    dataset_id = EXCLUDED.dataset_id, job_id = EXCLUDED.job_id, history_id = EXCLUDED.history_id,
    submitted_at = EXCLUDED.submitted_at, updated_at = EXCLUDED.updated_at, owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
  -- Only the holder writes a held row, even after its lease lapsed: files change hands through
  -- claim and adopt alone, so a replica back from an outage cannot take back a file another
  -- replica may have sent already.
  WHERE f.owner = $14::text
     OR (f.owner IS NULL AND ($14::text IS NULL OR f.state NOT IN ${TERMINAL_SQL} OR EXCLUDED.state IN ${TERMINAL_SQL}))
  RETURNING f.path`;

const CLAIM = `
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

const ADOPT = `
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

export interface PostgresLedgerOptions {
  url: string;
  password: string | null;
  leaseSeconds: number;
  /** This replica's name; the host name when null. */
  replica: string | null;
  /**
   * replica: a daemon that claims files (holds its name, renews leases, adopts);
   * client: `status`, `retry`, `check`, which claim nothing.
   */
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
  clock?: () => number;
}

/** The URL without anything secret, for messages (it never carries a password: the config refuses one). */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'the PostgreSQL ledger';
  }
}

/**
 * PostgreSQL text cannot hold NUL, which a Galaxy message (a job's stderr) may carry: one such
 * reason must not block every later write, so NUL becomes U+FFFD.
 */
function storable<T extends string | null>(v: T): T {
  return (v !== null && v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v) as T;
}

/** A key's 32-bit FNV-1a hash, as the second key of an advisory lock (any text, NUL included). */
function lockKey(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) h = Math.imul(h ^ byte, 0x01000193);
  return h | 0;
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

export class PostgresLedger implements Ledger, Coordinator {
  readonly replica: string;
  readonly leaseSeconds: number;
  readonly coordinator: Coordinator = this;
  readonly #o: PostgresLedgerOptions;
  readonly #emit: Emit;
  readonly #pool: pg.Pool;
  readonly #clock: () => number;
  readonly #where: string;
  readonly #rows = new Map<string, FileRecord>();
  /** dataset id → path of the row that names it. */
  readonly #datasets = new Map<string, string>();
  readonly #jobs = new Map<string, Set<string>>();
  readonly #meta = new Map<string, string>();
  /** Changes not yet written. */
  #dirty = new Set<string>();
  #dirtyJobs: [string, string][] = [];
  #dirtyMeta = new Map<string, string>();
  /** Files another replica took over: this one must not send them. */
  readonly #lost = new Set<string>();
  /** Count of changes made, and of those known written. */
  #made = 0;
  #written = 0;
  #waiters: { upTo: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  #writer: Promise<void> | null = null;
  #writeTimer: NodeJS.Timeout | null = null;
  #renewTimer: NodeJS.Timeout | null = null;
  #nameClient: pg.Client | null = null;
  #holdingName = false;
  #ending = false;
  #unavailableSince: number | null = null;
  readonly #stop = new AbortController();
  readonly #startedAt = Date.now();
  /** Waits end when the caller stops (the start-up signal) or the ledger is closed. */
  get #waitSignal(): AbortSignal {
    return this.#o.signal ? AbortSignal.any([this.#o.signal, this.#stop.signal]) : this.#stop.signal;
  }

  private constructor(o: PostgresLedgerOptions) {
    this.#o = o;
    this.#emit = o.emit ?? ((e) => writeEvent(o.log, e));
    this.replica = o.replica ?? hostname();
    this.leaseSeconds = o.leaseSeconds;
    this.#clock = o.clock ?? Date.now;
    this.#where = where(o.url);
    // Every write or claim waiting out an outage listens on it.
    setMaxListeners(0, this.#stop.signal);
    // Library and folder creation holds a connection while it asks Galaxy: room for those and the writes.
    this.#pool = new pg.Pool(this.#clientConfig(8));
    // An idle connection dropped by the server (restart, failover) must not end the process.
    this.#pool.on('error', (err) => this.#unavailable(err));
  }

  #clientConfig(max?: number): pg.PoolConfig {
    return {
      ...connectionFields(this.#o.url),
      ...(this.#o.password !== null ? { password: this.#o.password } : {}),
      application_name: `galaxy-importd ${this.replica}`,
      connectionTimeoutMillis: 10_000,
      statement_timeout: 30_000,
      query_timeout: 35_000,
      keepAlive: true,
      types: TYPES,
      ...(max !== undefined ? { max, idleTimeoutMillis: 30_000 } : {}),
    };
  }

  /** Connect, migrate, (as a replica) take the name, and load what the database knows. */
  static async open(o: PostgresLedgerOptions): Promise<PostgresLedger> {
    const ledger = new PostgresLedger(o);
    try {
      await ledger.#connect();
      if (o.role === 'replica') {
        // Waited for the name: another process with it was writing meanwhile; load afresh.
        if (await ledger.#holdName()) await ledger.#load();
        await ledger.#renew();
        ledger.#renewTimer = setInterval(() => void ledger.#renew(), Math.max(1000, (o.leaseSeconds * 1000) / 3));
        ledger.#renewTimer.unref();
      }
    } catch (err) {
      await ledger.#close();
      throw err;
    }
    return ledger;
  }

  async #connect(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#migrate();
        await this.#load();
        if (this.#unavailableSince !== null) this.#available();
        return;
      } catch (err) {
        if (err instanceof LedgerError) throw err;
        if (!this.#o.waitForDatabase) {
          throw new LedgerError(`cannot use the PostgreSQL ledger at ${this.#where}: ${(err as Error).message}. Check [state] postgresql_url, that PostgreSQL runs and lets this user in (pg_hba.conf), and the password ($PGPASSWORD or [state] postgresql_password_file).`, { cause: err });
        }
        this.#unavailable(err);
        try {
          await sleep(Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5)), undefined, { signal: this.#waitSignal });
        } catch {
          throw new LedgerError(`stopped while waiting for the PostgreSQL ledger at ${this.#where}`);
        }
      }
    }
  }

  async #migrate(): Promise<void> {
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_MIGRATE]);
      await c.query('CREATE TABLE IF NOT EXISTS importd_schema (version INTEGER NOT NULL)');
      const r = await c.query<{ version: number }>('SELECT version FROM importd_schema');
      let version = r.rows[0]?.version ?? 0;
      if (r.rowCount === 0) await c.query('INSERT INTO importd_schema (version) VALUES (0)');
      if (version > MIGRATIONS.length) {
        await c.query('ROLLBACK');
        throw new LedgerError(`the PostgreSQL ledger at ${this.#where} has schema version ${version}, newer than this galaxy-importd knows (${MIGRATIONS.length}): upgrade this replica to the version the others run`);
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

  async #load(): Promise<void> {
    this.#rows.clear();
    this.#datasets.clear();
    this.#jobs.clear();
    this.#meta.clear();
    const files = await this.#pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM importd_files`);
    for (const r of files.rows) this.#set(fromRow(r));
    const jobs = await this.#pool.query<{ job_id: string; history_id: string }>('SELECT job_id, history_id FROM importd_jobs');
    for (const j of jobs.rows) this.#knowJob(j.history_id, j.job_id);
    const meta = await this.#pool.query<{ key: string; value: string }>('SELECT key, value FROM importd_meta');
    for (const m of meta.rows) this.#meta.set(m.key, m.value);
  }

  /**
   * The replica's name, held as a session advisory lock on its own connection: a second
   * process with the same name waits here until the first is gone (a killed one's
   * connection closes with it, which frees the name at once).
   */
  /** Returns whether it had to wait for the name. */
  async #holdName(): Promise<boolean> {
    let said = false;
    for (;;) {
      const c = new pg.Client(this.#clientConfig());
      c.on('error', () => undefined);
      try {
        await c.connect();
        const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_NAME, this.replica]);
        if (r.rows[0]?.ok === true) {
          c.removeAllListeners('error');
          c.on('error', (err) => this.#nameLost(c, err));
          c.on('end', () => this.#nameLost(c, new Error('connection closed')));
          this.#nameClient = c;
          this.#holdingName = true;
          if (said) this.#o.log.info({ event: 'ledger.replica_name', replica: this.replica }, 'replica name free again: starting');
          return said;
        }
        if (this.#o.waitForName === false) {
          await c.end().catch(() => undefined);
          throw new LedgerError(`another running galaxy-importd holds the replica name ${JSON.stringify(this.replica)} in the PostgreSQL ledger at ${this.#where}: while galaxy-importd run works there is no need to scan; otherwise set a different [state] replica_name for this command`);
        }
        if (!said) {
          this.#o.log.warn({ event: 'ledger.replica_name', replica: this.replica, reason: 'another running replica has this name' }, 'waiting for the replica name: set a different [state] replica_name for each replica');
          said = true;
        }
      } catch (err) {
        if (err instanceof LedgerError) throw err;
        this.#unavailable(err);
      }
      await c.end().catch(() => undefined);
      try {
        await sleep(5000, undefined, { signal: this.#waitSignal });
      } catch {
        throw new LedgerError(`stopped while waiting for the replica name ${JSON.stringify(this.replica)}`);
      }
    }
  }

  /** The name's connection dropped: send nothing until the name is held again (another process may take it). */
  #nameLost(c: pg.Client, err: Error): void {
    if (this.#nameClient !== c || this.#ending) return;
    this.#nameClient = null;
    this.#holdingName = false;
    this.#unavailable(err);
    void (async () => {
      try {
        await this.#holdName();
        this.#schedule(0);
      } catch {
        // stopping
      }
    })();
  }

  #unavailable(err: unknown): void {
    if (this.#unavailableSince !== null) return;
    this.#unavailableSince = this.#clock();
    this.#emit({ type: 'ledger.unavailable', ledger: this.#where, err: (err as Error).message, code: (err as { code?: string }).code });
  }

  #available(): void {
    const since = this.#unavailableSince;
    this.#unavailableSince = null;
    this.#emit({ type: 'ledger.available', ledger: this.#where, duration_ms: since === null ? 0 : this.#clock() - since });
  }

  // ---- the synchronous Ledger, from memory ----

  #set(r: FileRecord): void {
    const old = this.#rows.get(r.path);
    if (old?.datasetId && old.datasetId !== r.datasetId && this.#datasets.get(old.datasetId) === r.path) this.#datasets.delete(old.datasetId);
    if (r.datasetId) this.#datasets.set(r.datasetId, r.path);
    this.#rows.set(r.path, r);
  }

  #knowJob(historyId: string, jobId: string): void {
    let s = this.#jobs.get(historyId);
    if (!s) {
      s = new Set();
      this.#jobs.set(historyId, s);
    }
    s.add(jobId);
  }

  #changed(): void {
    this.#made++;
    this.#schedule(20);
  }

  get(p: string): FileRecord | undefined {
    return this.#rows.get(p);
  }

  fingerprint(p: string): Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined {
    return this.#rows.get(p);
  }

  put(record: FileRecord): void {
    this.#set({ ...record });
    this.#dirty.add(record.path);
    this.#changed();
  }

  update(p: string, fields: Partial<Omit<FileRecord, 'path'>>): void {
    const old = this.#rows.get(p);
    if (!old) return;
    this.#set({ ...old, ...fields, updatedAt: fields.updatedAt ?? this.#clock() });
    this.#dirty.add(p);
    this.#changed();
  }

  /** Changes made in one synchronous function are written in one database transaction. */
  transaction(fn: () => void): void {
    fn();
  }

  inState(...states: FileState[]): FileRecord[] {
    const want = new Set(states);
    return [...this.#rows.values()].filter((r) => want.has(r.state)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  counts(): Record<FileState, number> {
    const out = zeroCounts();
    for (const r of this.#rows.values()) out[r.state]++;
    return out;
  }

  countsByFolder(): { folderId: string | null; state: FileState; count: number }[] {
    const m = new Map<string, { folderId: string | null; state: FileState; count: number }>();
    for (const r of this.#rows.values()) {
      const k = `${r.folderId ?? ''}\u0000${r.state}`;
      const e = m.get(k) ?? { folderId: r.folderId, state: r.state, count: 0 };
      e.count++;
      m.set(k, e);
    }
    return [...m.values()].sort((a, b) => (a.folderId ?? '').localeCompare(b.folderId ?? '') || a.state.localeCompare(b.state));
  }

  isClaimed(datasetId: string): boolean {
    return this.#datasets.has(datasetId);
  }

  rememberJob(historyId: string, jobId: string): void {
    if (this.#jobs.get(historyId)?.has(jobId)) return;
    this.#knowJob(historyId, jobId);
    this.#dirtyJobs.push([historyId, jobId]);
    this.#changed();
  }

  jobsOf(historyId: string): Set<string> {
    return new Set(this.#jobs.get(historyId));
  }

  getMeta(key: string): string | undefined {
    return this.#meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.#meta.set(key, value);
    this.#dirtyMeta.set(key, value);
    this.#changed();
  }

  close(deadlineMs = 5000): Promise<void> {
    return this.end(deadlineMs);
  }

  /** Half the lease: a dead replica's files are taken over within 1.5 leases. */
  get adoptEveryMs(): number {
    return Math.max(2000, (this.leaseSeconds * 1000) / 2);
  }

  // ---- writing behind ----

  #schedule(delayMs: number): void {
    if (this.#writer !== null) return; // the running writer loops until nothing is left
    if (this.#writeTimer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.#writeTimer);
    }
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = null;
      this.#writer = this.#writeLoop().finally(() => {
        this.#writer = null;
        if (this.#made > this.#written) this.#schedule(0);
      });
    }, delayMs);
  }

  async #writeLoop(): Promise<void> {
    for (let failures = 0; this.#made > this.#written;) {
      if (this.#o.role === 'replica' && !this.#holdingName) return; // #nameLost re-schedules
      const upTo = this.#made;
      const paths = [...this.#dirty].sort();
      const jobs = this.#dirtyJobs;
      const meta = this.#dirtyMeta;
      this.#dirty = new Set();
      this.#dirtyJobs = [];
      this.#dirtyMeta = new Map();
      try {
        const lost = await this.#write(paths, jobs, meta);
        failures = 0;
        if (this.#unavailableSince !== null) this.#available();
        this.#written = upTo;
        if (lost.length > 0) await this.#lose(lost);
        const done = this.#waiters.filter((w) => w.upTo <= upTo);
        this.#waiters = this.#waiters.filter((w) => w.upTo > upTo);
        for (const w of done) w.resolve();
      } catch (err) {
        // Put the changes back (newer ones made meanwhile win) and try again after a pause.
        for (const p of paths) this.#dirty.add(p);
        this.#dirtyJobs = [...jobs, ...this.#dirtyJobs];
        for (const [k, v] of meta) if (!this.#dirtyMeta.has(k)) this.#dirtyMeta.set(k, v);
        this.#unavailable(err);
        failures++;
        if (this.#ending) return;
        try {
          await sleep(Math.min(15_000, 250 * 2 ** Math.min(failures, 6)), undefined, { signal: this.#stop.signal });
        } catch {
          return;
        }
      }
    }
  }

  /** One transaction: the rows, the jobs, the meta. Returns the paths another replica holds now. */
  async #write(paths: string[], jobs: [string, string][], meta: Map<string, string>): Promise<string[]> {
    const owner = this.#o.role === 'replica' ? this.replica : null;
    const lost: string[] = [];
    const c = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      for (let i = 0; i < paths.length; i += 2000) {
        const rows = paths.slice(i, i + 2000).map((p) => this.#rows.get(p)).filter((r): r is FileRecord => r !== undefined);
        const res = await c.query<{ path: string }>(UPSERT, [
          rows.map((r) => r.path), rows.map((r) => r.size), rows.map((r) => r.mtimeMs), rows.map((r) => r.state), rows.map((r) => r.attempts),
          rows.map((r) => storable(r.lastError)), rows.map((r) => storable(r.libraryId)), rows.map((r) => storable(r.folderId)), rows.map((r) => storable(r.datasetId)),
          rows.map((r) => storable(r.jobId)), rows.map((r) => storable(r.historyId)), rows.map((r) => r.submittedAt), rows.map((r) => r.updatedAt),
          owner, this.leaseSeconds,
        ]);
        const written = new Set(res.rows.map((r) => r.path));
        for (const r of rows) if (!written.has(r.path)) lost.push(r.path);
      }
      if (jobs.length > 0) {
        await c.query('INSERT INTO importd_jobs (history_id, job_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (job_id) DO NOTHING', [jobs.map((j) => storable(j[0])), jobs.map((j) => storable(j[1]))]);
      }
      for (const [k, v] of meta) {
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

  /** Rows another replica took over while this one was cut off: learn their state, send nothing more of them. */
  async #lose(paths: string[]): Promise<void> {
    for (const p of paths) this.#lost.add(p);
    // One line for the lot: a replica cut off for a while may lose thousands.
    this.#o.log.warn({
      event: 'ledger.lease_lost', files: paths.length, examples: paths.slice(0, 5), replica: this.replica,
      reason: 'another replica took these files over (this one did not renew its claims in time); this one sends nothing more of them',
    }, 'files handed to another replica');
    try {
      const r = await this.#pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM importd_files WHERE path = ANY($1)`, [paths]);
      for (const row of r.rows) if (!this.#dirty.has(row.path)) this.#set(fromRow(row));
    } catch {
      // learnt at the next claim or walk
    }
  }

  // ---- Coordinator ----

  async claim(files: readonly { path: string; size: number; mtimeMs: number }[]): Promise<Set<string>> {
    if (files.length === 0) return new Set();
    // Rows are locked in the order given: always by path, so that replicas claiming together never deadlock.
    files = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const out = new Set<string>();
    try {
      const res = await this.#pool.query<Row>(CLAIM, [files.map((f) => f.path), files.map((f) => f.size), files.map((f) => f.mtimeMs), this.#clock(), this.replica, this.leaseSeconds]);
      for (const r of res.rows) {
        out.add(r.path);
        this.#lost.delete(r.path);
        if (!this.#dirty.has(r.path)) this.#set(fromRow(r));
      }
      const others = files.filter((f) => !out.has(f.path)).map((f) => f.path);
      if (others.length > 0) {
        const known = await this.#pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM importd_files WHERE path = ANY($1)`, [others]);
        for (const r of known.rows) if (!this.#dirty.has(r.path)) this.#set(fromRow(r));
      }
    } catch (err) {
      this.#unavailable(err);
      throw new LedgerUnavailableError(`cannot claim files in the PostgreSQL ledger at ${this.#where}: ${(err as Error).message}`, { cause: err });
    }
    if (this.#unavailableSince !== null) this.#available();
    return out;
  }

  async commit(signal?: AbortSignal): Promise<void> {
    const upTo = this.#made;
    if (this.#written >= upTo) return;
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
    this.#schedule(0);
    if (!signal) return done;
    if (signal.aborted) throw new LedgerUnavailableError('stopping');
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new LedgerUnavailableError('stopping'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([done, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  problem(): string | null {
    if (this.#unavailableSince !== null) return `the PostgreSQL ledger at ${this.#where} cannot be reached since ${new Date(this.#unavailableSince).toISOString()}; files wait`;
    if (this.#o.role === 'replica' && !this.#holdingName && !this.#ending) return `the PostgreSQL ledger at ${this.#where}: this replica's name is not held (its connection was lost); uploads wait`;
    return null;
  }

  owns(p: string): boolean {
    return !this.#lost.has(p);
  }

  async adopt(initial: boolean): Promise<FileRecord[]> {
    if (this.#o.role !== 'replica' || !this.#holdingName) return [];
    try {
      const res = await this.#pool.query<Row>(ADOPT, [this.replica, initial, this.leaseSeconds]);
      const rows = res.rows.map(fromRow);
      const histories = [...new Set(rows.map((r) => r.historyId).filter((h): h is string => h !== null))];
      if (histories.length > 0) {
        const jobs = await this.#pool.query<{ job_id: string; history_id: string }>('SELECT job_id, history_id FROM importd_jobs WHERE history_id = ANY($1)', [histories]);
        for (const j of jobs.rows) this.#knowJob(j.history_id, j.job_id);
      }
      for (const r of rows) {
        this.#lost.delete(r.path);
        if (!this.#dirty.has(r.path)) this.#set(r);
      }
      if (this.#unavailableSince !== null) this.#available();
      return rows.filter((r) => !this.#dirty.has(r.path));
    } catch (err) {
      this.#unavailable(err);
      return [];
    }
  }

  async historiesInDoubt(): Promise<Set<string>> {
    const r = await this.#pool.query<{ history_id: string }>(
      `SELECT DISTINCT history_id FROM importd_files
       WHERE history_id IS NOT NULL AND job_id IS NULL AND state IN ('submitted', 'retrying') AND owner IS DISTINCT FROM $1`,
      [this.replica],
    );
    return new Set(r.rows.map((x) => x.history_id));
  }

  async withLock<T>(key: string, fn: (since: number) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.#pool.connect();
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_TARGET, lockKey(key)]);
    } catch (err) {
      this.#unavailable(err);
      throw new LedgerUnavailableError(`cannot take the creation lock in the PostgreSQL ledger at ${this.#where}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return await fn(this.#clock());
    } finally {
      await c.query('COMMIT').catch(() => undefined);
      c.release();
    }
  }

  async replicas(): Promise<ReplicaInfo[]> {
    const regs = await this.#pool.query<{ name: string; host: string | null; pid: number | null; version: string | null; started_at: number | null; age: number | null }>(
      'SELECT name, host, pid, version, started_at, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 AS age FROM importd_replicas ORDER BY name',
    );
    const holds = await this.#pool.query<{ owner: string; state: FileState; n: number }>(
      'SELECT owner, state, count(*)::int AS n FROM importd_files WHERE owner IS NOT NULL GROUP BY owner, state ORDER BY owner, state',
    );
    const out = new Map<string, ReplicaInfo>();
    for (const r of regs.rows) {
      out.set(r.name, {
        name: r.name, host: r.host, pid: r.pid, version: r.version, startedAt: r.started_at,
        heartbeatAgeSeconds: r.age === null ? null : Math.round(r.age), alive: r.age !== null && r.age < this.leaseSeconds, holds: {},
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

  /** Renew this replica's claims and its heartbeat. */
  async #renew(): Promise<void> {
    if (!this.#holdingName || this.#ending) return;
    try {
      // Rows locked in path order, as every other statement here does: no deadlock with this replica's own writes.
      await this.#pool.query(
        `UPDATE importd_files f SET lease_until = now() + make_interval(secs => $2)
         FROM (SELECT path FROM importd_files WHERE owner = $1 AND state NOT IN ${TERMINAL_SQL} ORDER BY path FOR UPDATE) c
         WHERE f.path = c.path`,
        [this.replica, this.leaseSeconds],
      );
      await this.#pool.query(
        `INSERT INTO importd_replicas (name, host, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version, started_at = EXCLUDED.started_at, heartbeat_at = now()`,
        [this.replica, hostname(), process.pid, this.#o.version, this.#startedAt],
      );
      if (this.#unavailableSince !== null) this.#available();
    } catch (err) {
      this.#unavailable(err);
    }
  }

  async end(deadlineMs: number): Promise<void> {
    if (this.#ending) return;
    try {
      await Promise.race([this.commit(), sleep(deadlineMs, undefined, { ref: false })]);
    } catch {
      // reported below
    }
    this.#ending = true;
    const left = this.#made - this.#written;
    if (left > 0) {
      this.#emit({ type: 'ledger.unwritten', ledger: this.#where, changes: left });
    } else if (this.#o.role === 'replica' && this.#holdingName) {
      // Hand back files that wait, so another replica takes them now; requests in doubt stay held
      // until the lease runs out, by when Galaxy has made their job if it took them.
      await this.#pool.query(
        `UPDATE importd_files f SET owner = NULL, lease_until = NULL
         WHERE f.owner = $1 AND NOT ${IN_DOUBT_SQL}`,
        [this.replica],
      ).catch(() => undefined);
      await this.#pool.query('UPDATE importd_replicas SET heartbeat_at = NULL WHERE name = $1', [this.replica]).catch(() => undefined);
    }
    await this.#close();
  }

  async #close(): Promise<void> {
    this.#ending = true;
    this.#stop.abort();
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    for (const w of this.#waiters) w.reject(new LedgerUnavailableError('the ledger is closed'));
    this.#waiters = [];
    const name = this.#nameClient;
    this.#nameClient = null;
    this.#holdingName = false;
    await name?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }
}
