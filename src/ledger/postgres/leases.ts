import { hostname } from 'node:os';
import pg from 'pg';
import type { Clock } from '../../clock.js';
import type { Emit } from '../../observe/events.js';
import { StoppedError, backoffMs, retry } from '../../retry.js';
import { LedgerError } from '../sqlite.js';
import { LOCK_NAME, TERMINAL_SQL } from './sql.js';

/** Looks for a replica name another process holds: every 5 s. */
const NAME_BACKOFF = { firstMs: 5000, capMs: 5000, jitter: false };

/** Another running process holds the name. */
class NameHeld extends Error {}

export interface ReplicaNameDeps {
  config: pg.ClientConfig;
  replica: string;
  where: string;
  /** Wait while another process holds the name (`run`), or fail at once (`scan`). */
  waitForName: boolean;
  emit: Emit;
  clock: Clock;
  signal: () => AbortSignal;
  unavailable(err: unknown): void;
  /** The name's connection dropped and the name is held again: writing may go on. */
  regained(): void;
}

/**
 * A replica's name, held as a session advisory lock on a connection of its own (not the
 * pool): a second process with the same name waits until the first is gone (a killed one's
 * connection closes with it, which frees the name at once).
 */
export class ReplicaName {
  readonly #d: ReplicaNameDeps;
  #client: pg.Client | null = null;
  #held = false;
  #ending = false;

  constructor(deps: ReplicaNameDeps) {
    this.#d = deps;
  }

  get held(): boolean {
    return this.#held;
  }

  /** Take the name, waiting while another process has it. Returns whether it had to wait. */
  async hold(): Promise<boolean> {
    let said = false;
    try {
      await retry(async () => {
        if (await this.#try()) return;
        if (!this.#d.waitForName) {
          throw new LedgerError(`another running galaxy-importd holds the replica name ${JSON.stringify(this.#d.replica)} in the PostgreSQL ledger at ${this.#d.where}: while galaxy-importd run works there is no need to scan; otherwise set a different [state] replica_name for this command`);
        }
        if (!said) {
          this.#d.emit({ type: 'ledger.replica_name', replica: this.#d.replica, waiting: true, reason: 'another running replica has this name' });
          said = true;
        }
        throw new NameHeld();
      }, {
        clock: this.#d.clock,
        signal: this.#d.signal(),
        onFailure: (err, attempt) => {
          if (err instanceof LedgerError) return null;
          if (!(err instanceof NameHeld)) this.#d.unavailable(err);
          return backoffMs(attempt, NAME_BACKOFF);
        },
      });
    } catch (err) {
      if (err instanceof StoppedError) throw new LedgerError(`stopped while waiting for the replica name ${JSON.stringify(this.#d.replica)}`);
      throw err;
    }
    if (said) this.#d.emit({ type: 'ledger.replica_name', replica: this.#d.replica, waiting: false });
    return said;
  }

  async #try(): Promise<boolean> {
    const c = new pg.Client(this.#d.config);
    c.on('error', () => undefined);
    try {
      await c.connect();
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_NAME, this.#d.replica]);
      if (r.rows[0]?.ok !== true) {
        await c.end().catch(() => undefined);
        return false;
      }
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    c.removeAllListeners('error');
    c.on('error', (err) => this.#lost(c, err));
    c.on('end', () => this.#lost(c, new Error('connection closed')));
    this.#client = c;
    this.#held = true;
    return true;
  }

  /** The name's connection dropped: send nothing until the name is held again (another process may take it). */
  #lost(c: pg.Client, err: Error): void {
    if (this.#client !== c || this.#ending) return;
    this.#client = null;
    this.#held = false;
    this.#d.unavailable(err);
    this.hold().then(() => this.#d.regained(), () => undefined);
  }

  async release(): Promise<void> {
    this.#ending = true;
    const c = this.#client;
    this.#client = null;
    this.#held = false;
    await c?.end().catch(() => undefined);
  }
}

/** Renew this replica's claims (rows locked in path order, as every statement here does) and its heartbeat. */
export async function renewLeases(pool: pg.Pool, o: { replica: string; leaseSeconds: number; version: string; startedAt: number }): Promise<void> {
  await pool.query(
    `UPDATE importd_files f SET lease_until = now() + make_interval(secs => $2)
     FROM (SELECT path FROM importd_files WHERE owner = $1 AND state NOT IN ${TERMINAL_SQL} ORDER BY path FOR UPDATE) c
     WHERE f.path = c.path`,
    [o.replica, o.leaseSeconds],
  );
  await pool.query(
    `INSERT INTO importd_replicas (name, host, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version, started_at = EXCLUDED.started_at, heartbeat_at = now()`,
    [o.replica, hostname(), process.pid, o.version, o.startedAt],
  );
}
