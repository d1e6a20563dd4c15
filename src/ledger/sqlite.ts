import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../clock.js';
import { ImportdError } from '../errors.js';
import { localCoordinator } from './coordinator.js';
import type { Coordinator, FileRecord, FileState, Ledger } from './ledger.js';
import type { Row } from './rows.js';
import { COLUMNS, MIGRATIONS, PUT_ROW, openReadOnly } from './sqlite-schema.js';
import { fromRow } from './rows.js';
import { zeroCounts } from './ledger.js';

/** The ledger could not be opened or written. */
export class LedgerError extends ImportdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LEDGER_ERROR', message, options);
  }
}

/**
 * Every prepared statement ever made, kept reachable for the life of the
 * process. better-sqlite3 12 on Node 24 aborts the process when the garbage
 * collector destroys a Statement ("Assertion failed: (env) != nullptr" in
 * node::RemoveEnvironmentCleanupHook, from Statement::~Statement; upstream
 * WiseLibs/better-sqlite3#1515, closed without a fix; version 13 needs Node
 * 22). So statements are prepared once per SQL text and never dropped, pragmas
 * are set with exec(), which makes no Statement, and a process opens few
 * ledgers (the daemon one), so this holds a few dozen objects.
 */
const KEEP_ALIVE: unknown[] = [];

/** What the SQLite ledger reads time with: the `updatedAt` of `update()`, and the commit at the end of a turn. */
export type SqliteClock = Pick<Clock, 'now' | 'setImmediate'>;

/**
 * The embedded ledger: one SQLite file in the state directory, WAL mode,
 * `synchronous = NORMAL` (a power cut may lose the last transactions but never
 * corrupts the file; the rebuild from Galaxy covers what is lost).
 *
 * Writes made in one turn of the event loop share one transaction, committed at
 * the end of the turn (the clock's setImmediate) or at once by `flush()`: a backlog's
 * thousands of transitions cost a few µs each instead of a commit each (17–30 µs,
 * bench/RESULTS.md). The coordinator's `commit()` flushes, so the rows naming a
 * request are written before it is sent, as before.
 */
export class SqliteLedger implements Ledger {
  readonly file: string;
  /** One process owns this file whole. */
  readonly coordinator: Coordinator = localCoordinator(this, () => this.flush());
  readonly #clock: SqliteClock;
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], Row>;
  readonly #fingerprint: Database.Statement<[string], [FileState, number, number]>;
  readonly #statements = new Map<string, Database.Statement>();
  /** A transaction opened by a write, committed at the end of this turn. */
  #open = false;
  /** A commit at the end of a turn failed: the next write says so. */
  #failure: LedgerError | null = null;

  /**
   * `clock`: stamps `updatedAt` on `update()` and schedules the commit at the end of the turn.
   * `readonly`: only read an existing ledger (`scan --dry-run`): nothing is created, migrated or
   * written, so the file's bytes stay as they are; a write throws.
   */
  constructor(stateDir: string, clock: SqliteClock, o: { readonly?: boolean } = {}) {
    this.file = path.join(stateDir, 'ledger.sqlite');
    this.#clock = clock;
    try {
      if (o.readonly === true) {
        this.#db = openReadOnly(this.file);
        KEEP_ALIVE.push(this.#db);
      } else {
        mkdirSync(stateDir, { recursive: true });
        this.#db = new Database(this.file);
        KEEP_ALIVE.push(this.#db);
        this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
        this.#migrate();
      }
    } catch (err) {
      throw new LedgerError(`cannot open the ledger ${this.file}: ${(err as Error).message}. Check that [state] dir is on a local disk and writable by this user.`, { cause: err });
    }
    this.#get = this.#stmt('SELECT * FROM files WHERE path = ?') as Database.Statement<[string], Row>;
    this.#fingerprint = (this.#stmt('SELECT state, size, mtime_ms FROM files WHERE path = ?') as Database.Statement<[string], [FileState, number, number]>).raw(true);
  }

  /** A prepared statement per SQL text, made once and kept (see KEEP_ALIVE). */
  #stmt(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
      KEEP_ALIVE.push(st);
    }
    return st;
  }

  #migrate(): void {
    const version = (this.#stmt('PRAGMA user_version').pluck().get() as number | undefined) ?? 0;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.#db.exec(`BEGIN; ${MIGRATIONS[v] ?? ''}; PRAGMA user_version = ${v + 1}; COMMIT;`);
    }
  }

  get(p: string): FileRecord | undefined {
    const row = this.#get.get(p);
    return row ? fromRow(row) : undefined;
  }

  fingerprint(p: string): Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined {
    const row = this.#fingerprint.get(p);
    return row ? { state: row[0], size: row[1], mtimeMs: row[2] } : undefined;
  }

  /** Before each write: join the turn's transaction, opening it when none is. */
  #writing(): void {
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = null;
      throw failure;
    }
    if (this.#db.inTransaction) return;
    this.#stmt('BEGIN IMMEDIATE').run(); // the write lock now: no read snapshot to go stale before the turn's first write
    this.#open = true;
    this.#clock.setImmediate(() => {
      try {
        this.flush();
      } catch (err) {
        this.#failure = err as LedgerError; // thrown to the next writer, as a failed write was
      }
    });
  }

  /** Commit the writes of this turn now. */
  flush(): void {
    if (!this.#open) return;
    this.#open = false;
    if (!this.#db.open || !this.#db.inTransaction) return;
    try {
      this.#stmt('COMMIT').run(); // prepared once: a parse per turn cost more than the commit
    } catch (err) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw new LedgerError(`cannot write the ledger ${this.file}: ${(err as Error).message}. Check that [state] dir has free space and is writable by this user.`, { cause: err });
    }
  }

  put(r: FileRecord): void {
    this.#writing();
    // Prepared at the first write: a read-only open of a ledger not migrated yet has no checksum column.
    (this.#stmt(PUT_ROW) as Database.Statement<Row>).run({
      path: r.path,
      size: r.size,
      mtime_ms: r.mtimeMs,
      state: r.state,
      attempts: r.attempts,
      last_error: r.lastError,
      library_id: r.libraryId,
      folder_id: r.folderId,
      dataset_id: r.datasetId,
      job_id: r.jobId,
      history_id: r.historyId,
      submitted_at: r.submittedAt,
      updated_at: r.updatedAt,
      checksum: r.checksum,
      verified: r.verified ? 1 : 0,
    });
  }

  update(p: string, fields: Partial<Omit<FileRecord, 'path'>>): void {
    const all = { ...fields, updatedAt: fields.updatedAt ?? this.#clock.now() };
    const keys = Object.keys(all) as (keyof typeof all)[];
    const sets = keys.map((k) => `${COLUMNS[k]} = @${COLUMNS[k]}`).join(', ');
    const params: Record<string, unknown> = { path: p };
    for (const k of keys) params[COLUMNS[k]] = typeof all[k] === 'boolean' ? Number(all[k]) : all[k];
    this.#writing();
    this.#stmt(`UPDATE files SET ${sets} WHERE path = @path`).run(params);
  }

  transaction(fn: () => void): void {
    // Within the turn's transaction, better-sqlite3 makes this a savepoint: still all or nothing.
    this.#writing();
    this.#db.transaction(fn)();
  }

  inState(...states: FileState[]): FileRecord[] {
    const marks = states.map(() => '?').join(', ');
    return (this.#stmt(`SELECT * FROM files WHERE state IN (${marks}) ORDER BY path`).all(...states) as Row[]).map(fromRow);
  }

  firstInState(state: FileState, limit: number): FileRecord[] {
    // files_state indexes (state, rowid): the rows come in the order they were written.
    return (this.#stmt('SELECT * FROM files WHERE state = ? ORDER BY rowid LIMIT ?').all(state, limit) as Row[]).map(fromRow);
  }

  counts(): Record<FileState, number> {
    const out = zeroCounts();
    for (const { state, n } of this.#stmt('SELECT state, count(*) AS n FROM files GROUP BY state').all() as { state: FileState; n: number }[]) {
      out[state] = n;
    }
    return out;
  }

  countsByDirectory(): { dir: string; state: FileState; count: number; verified: number }[] {
    // rtrim drops every trailing character but '/': what is left is the directory and its slash.
    const rows = this.#stmt("SELECT rtrim(path, replace(path, '/', '')) AS dir, state, count(*) AS count, sum(verified) AS verified FROM files GROUP BY 1, 2 ORDER BY 1, 2").all() as { dir: string; state: FileState; count: number; verified: number }[];
    for (const r of rows) r.dir = r.dir.slice(0, -1);
    return rows;
  }

  isClaimed(datasetId: string): boolean {
    // files_dataset index: one look-up, whatever the folder's size.
    return this.#stmt('SELECT 1 FROM files WHERE dataset_id = ? LIMIT 1').get(datasetId) !== undefined;
  }

  rememberJob(historyId: string, jobId: string): void {
    this.#writing();
    this.#stmt('INSERT OR IGNORE INTO jobs (job_id, history_id) VALUES (?, ?)').run(jobId, historyId);
  }

  jobsOf(historyId: string): Set<string> {
    const rows = this.#stmt('SELECT job_id AS id FROM jobs WHERE history_id = ?').all(historyId) as { id: string }[];
    return new Set(rows.map((r) => r.id));
  }

  getMeta(key: string): string | undefined {
    return (this.#stmt('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#writing();
    this.#stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  /** Commits what this turn wrote and closes at once; the promise is for the Ledger interface. */
  close(): Promise<void> {
    this.flush();
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
