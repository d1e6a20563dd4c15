import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import pg from 'pg';
import type { Clock, Timer } from '../../clock.js';
import { unref, within } from '../../clock.js';
import type { Emit } from '../../observe/events.js';
import { writeEvent } from '../../observe/telemetry.js';
import { StoppedError, backoffMs, retry } from '../../retry.js';
import type { Coordinator, FileRecord, Ledger, ReplicaInfo } from '../ledger.js';
import { LedgerUnavailableError } from '../ledger.js';
import type { Row } from '../rows.js';
import { fromRow, ROW_COLUMNS } from '../rows.js';
import { LedgerError } from '../sqlite.js';
import { clientConfig, migrate, where } from './connection.js';
import type { PostgresLedgerOptions } from './connection.js';
import { ReplicaName, renewLeases } from './leases.js';
import { MemoryRows } from './memory.js';
import { replicaStatus, writeChanges } from './queries.js';
import { ADOPT, CLAIM, HISTORIES_IN_DOUBT, IN_DOUBT_SQL, LOCK_TARGET, lockKey } from './sql.js';
import { WriteBehind } from './write-behind.js';

/**
 * The shared ledger: one PostgreSQL database for several replicas watching the same import
 * directory (design-decisions.md, "The shared ledger"). Rows live in memory (memory.ts) and are
 * written behind (write-behind.ts); settled files are *claimed* with a lease renewed while the
 * replica lives (leases.ts); before every upload request the replica *commits*; files of a
 * replica that stopped renewing are *adopted* (`FOR UPDATE SKIP LOCKED`); library and folder
 * creation runs under an advisory lock; a replica's name is one running process (leases.ts).
 */

/** Connecting while the database is away: from 1 s, doubling up to 30 s. */
const CONNECT_BACKOFF = { firstMs: 1000, capMs: 30_000, jitter: false };

export class PostgresLedger extends MemoryRows implements Ledger, Coordinator {
  readonly replica: string;
  readonly leaseSeconds: number;
  readonly coordinator: Coordinator = this;
  readonly #o: PostgresLedgerOptions;
  readonly #emit: Emit;
  readonly #clock: Clock;
  readonly #pool: pg.Pool;
  readonly #where: string;
  readonly #writes: WriteBehind;
  readonly #name: ReplicaName | null;
  /** Files another replica took over: this one must not send them. */
  readonly #lost = new Set<string>();
  #renewTimer: Timer | null = null;
  #ending = false;
  #unavailableSince: number | null = null;
  readonly #stop = new AbortController();
  readonly #startedAt: number;

  private constructor(o: PostgresLedgerOptions) {
    super(o.clock);
    const clock = o.clock;
    this.#o = o;
    this.#clock = clock;
    this.#startedAt = clock.now();
    this.#emit = o.emit ?? ((e) => writeEvent(o.log, e));
    this.replica = o.replica ?? hostname();
    this.leaseSeconds = o.leaseSeconds;
    this.#where = where(o.url);
    // Every write or claim waiting out an outage listens on it.
    setMaxListeners(0, this.#stop.signal);
    const conn = { url: o.url, password: o.password, replica: this.replica };
    // Library and folder creation holds a connection while it asks Galaxy: room for those and the writes.
    this.#pool = new pg.Pool(clientConfig(conn, 8));
    // An idle connection dropped by the server (restart, failover) must not end the process.
    this.#pool.on('error', (err) => this.#unavailable(err));
    this.#name = o.role === 'replica'
      ? new ReplicaName({
        config: clientConfig(conn), replica: this.replica, where: this.#where, waitForName: o.waitForName !== false, emit: (e) => this.#emit(e), clock,
        signal: () => this.#waitSignal, unavailable: (err) => this.#unavailable(err), regained: () => this.#writes.schedule(0),
      })
      : null;
    this.#writes = new WriteBehind({
      memory: this, clock, signal: this.#stop.signal, ending: () => this.#ending,
      canWrite: () => this.#name === null || this.#name.held,
      write: (u) => writeChanges(this.#pool, (p) => this.get(p), u, this.#name === null ? null : this.replica, this.leaseSeconds),
      written: async (lost) => {
        if (this.#unavailableSince !== null) this.#available();
        if (lost.length > 0) await this.#lose(lost);
      },
      failed: (err) => this.#unavailable(err),
    });
  }

  protected override changed(): void {
    this.#writes.changed();
  }

  /** Waits end when the caller stops (the start-up signal) or the ledger is closed. */
  get #waitSignal(): AbortSignal {
    return this.#o.signal ? AbortSignal.any([this.#o.signal, this.#stop.signal]) : this.#stop.signal;
  }

  /** Connect, migrate, (as a replica) take the name, and load what the database knows. */
  static async open(o: PostgresLedgerOptions): Promise<PostgresLedger> {
    const ledger = new PostgresLedger(o);
    try {
      await ledger.#connect();
      if (ledger.#name) {
        // Waited for the name: another process with it was writing meanwhile; load afresh.
        if (await ledger.#name.hold()) await ledger.load(ledger.#pool);
        await ledger.#renew();
        ledger.#renewTimer = unref(ledger.#clock.setInterval(() => void ledger.#renew(), Math.max(1000, (o.leaseSeconds * 1000) / 3)));
      }
    } catch (err) {
      await ledger.#close();
      throw err;
    }
    return ledger;
  }

  async #connect(): Promise<void> {
    try {
      await retry(async () => {
        await migrate(this.#pool, this.#where);
        await this.load(this.#pool);
      }, {
        clock: this.#clock,
        signal: this.#waitSignal,
        onFailure: (err, attempt) => {
          if (err instanceof LedgerError || !this.#o.waitForDatabase) return null;
          this.#unavailable(err);
          return backoffMs(attempt, CONNECT_BACKOFF);
        },
      });
    } catch (err) {
      if (err instanceof StoppedError) throw new LedgerError(`stopped while waiting for the PostgreSQL ledger at ${this.#where}`);
      if (err instanceof LedgerError) throw err;
      throw new LedgerError(`cannot use the PostgreSQL ledger at ${this.#where}: ${(err as Error).message}. Check [state] postgresql_url, that PostgreSQL runs and lets this user in (pg_hba.conf), and the password ($PGPASSWORD or [state] postgresql_password_file).`, { cause: err });
    }
    if (this.#unavailableSince !== null) this.#available();
  }

  #unavailable(err: unknown): void {
    if (this.#unavailableSince !== null) return;
    this.#unavailableSince = this.#clock.now();
    this.#emit({ type: 'ledger.unavailable', ledger: this.#where, err: (err as Error).message, code: (err as { code?: string }).code });
  }

  #available(): void {
    const since = this.#unavailableSince;
    this.#unavailableSince = null;
    this.#emit({ type: 'ledger.available', ledger: this.#where, duration_ms: since === null ? 0 : this.#clock.now() - since });
  }

  /** Rows another replica took over while this one was cut off: learn their state, send nothing more of them. */
  async #lose(paths: string[]): Promise<void> {
    for (const p of paths) this.#lost.add(p);
    // One line for the lot: a replica cut off for a while may lose thousands.
    this.#emit({
      type: 'ledger.lease_lost', files: paths.length, examples: paths.slice(0, 5), replica: this.replica,
      reason: 'another replica took these files over (this one did not renew its claims in time); this one sends nothing more of them',
    });
    try {
      const r = await this.#pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM importd_files WHERE path = ANY($1)`, [paths]);
      for (const row of r.rows) this.learn(fromRow(row));
    } catch {
      // learnt at the next claim or walk
    }
  }

  // ---- Coordinator ----

  /** Half the lease: a dead replica's files are taken over within 1.5 leases. */
  get adoptEveryMs(): number {
    return Math.max(2000, (this.leaseSeconds * 1000) / 2);
  }

  async claim(files: readonly { path: string; size: number; mtimeMs: number }[]): Promise<Set<string>> {
    if (files.length === 0) return new Set();
    // Rows are locked in the order given: always by path, so that replicas claiming together never deadlock.
    files = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const out = new Set<string>();
    try {
      const res = await this.#pool.query<Row>(CLAIM, [files.map((f) => f.path), files.map((f) => f.size), files.map((f) => f.mtimeMs), this.#clock.now(), this.replica, this.leaseSeconds]);
      for (const r of res.rows) {
        out.add(r.path);
        this.#lost.delete(r.path);
        this.learn(fromRow(r));
      }
      const others = files.filter((f) => !out.has(f.path)).map((f) => f.path);
      if (others.length > 0) {
        const known = await this.#pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM importd_files WHERE path = ANY($1)`, [others]);
        for (const r of known.rows) this.learn(fromRow(r));
      }
    } catch (err) {
      this.#unavailable(err);
      throw new LedgerUnavailableError(`cannot claim files in the PostgreSQL ledger at ${this.#where}: ${(err as Error).message}`, { cause: err });
    }
    if (this.#unavailableSince !== null) this.#available();
    return out;
  }

  commit(signal?: AbortSignal): Promise<void> {
    return this.#writes.commit(signal);
  }

  problem(): string | null {
    if (this.#unavailableSince !== null) return `the PostgreSQL ledger at ${this.#where} cannot be reached since ${new Date(this.#unavailableSince).toISOString()}; files wait`;
    if (this.#name !== null && !this.#name.held && !this.#ending) return `the PostgreSQL ledger at ${this.#where}: this replica's name is not held (its connection was lost); uploads wait`;
    return null;
  }

  owns(p: string): boolean {
    return !this.#lost.has(p);
  }

  async adopt(initial: boolean): Promise<FileRecord[]> {
    if (this.#name === null || !this.#name.held) return [];
    try {
      const rows = (await this.#pool.query<Row>(ADOPT, [this.replica, initial, this.leaseSeconds])).rows.map(fromRow);
      const histories = [...new Set(rows.map((r) => r.historyId).filter((h): h is string => h !== null))];
      if (histories.length > 0) {
        const jobs = await this.#pool.query<{ job_id: string; history_id: string }>('SELECT job_id, history_id FROM importd_jobs WHERE history_id = ANY($1)', [histories]);
        for (const j of jobs.rows) this.knowJob(j.history_id, j.job_id);
      }
      for (const r of rows) {
        this.#lost.delete(r.path);
        this.learn(r);
      }
      if (this.#unavailableSince !== null) this.#available();
      return rows.filter((r) => !this.isDirty(r.path));
    } catch (err) {
      this.#unavailable(err);
      return [];
    }
  }

  async historiesInDoubt(): Promise<Set<string>> {
    const r = await this.#pool.query<{ history_id: string }>(HISTORIES_IN_DOUBT, [this.replica]);
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
      return await fn(this.#clock.now());
    } finally {
      await c.query('COMMIT').catch(() => undefined);
      c.release();
    }
  }

  replicas(): Promise<ReplicaInfo[]> {
    return replicaStatus(this.#pool, this.leaseSeconds);
  }

  async #renew(): Promise<void> {
    if (this.#name === null || !this.#name.held || this.#ending) return;
    try {
      await renewLeases(this.#pool, { replica: this.replica, leaseSeconds: this.leaseSeconds, version: this.#o.version, startedAt: this.#startedAt });
      if (this.#unavailableSince !== null) this.#available();
    } catch (err) {
      this.#unavailable(err);
    }
  }

  /** Write what is pending (up to `deadlineMs`), give back the files that wait, let go of the name, disconnect. */
  async close(deadlineMs = 5000): Promise<void> {
    if (this.#ending) return;
    await within(this.#clock, this.commit(), deadlineMs);
    this.#ending = true;
    const left = this.#writes.unwritten;
    if (left > 0) {
      this.#emit({ type: 'ledger.unwritten', ledger: this.#where, changes: left });
    } else if (this.#name?.held) {
      // Hand back files that wait, so another replica takes them now; requests in doubt stay held
      // until the lease runs out, by when Galaxy has made their job if it took them.
      await this.#pool.query(`UPDATE importd_files f SET owner = NULL, lease_until = NULL WHERE f.owner = $1 AND NOT ${IN_DOUBT_SQL}`, [this.replica]).catch(() => undefined);
      await this.#pool.query('UPDATE importd_replicas SET heartbeat_at = NULL WHERE name = $1', [this.replica]).catch(() => undefined);
    }
    await this.#close();
  }

  async #close(): Promise<void> {
    this.#ending = true;
    this.#stop.abort();
    this.#clock.clearInterval(this.#renewTimer);
    this.#writes.close();
    await this.#name?.release();
    await this.#pool.end().catch(() => undefined);
  }
}
