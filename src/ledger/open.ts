import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import { resolvePostgresPassword } from '../config/api-key.js';
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import type { Emit } from '../observe/events.js';
import type { Logger } from '../observe/logger.js';
import type { Ledger } from './ledger.js';
import { LedgerError, SqliteLedger } from './sqlite.js';

export interface OpenLedgerOptions {
  /** replica: the daemon (`run`, `scan`), which claims files; client: `status`, `retry`, `check`. */
  role: 'replica' | 'client';
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  env: NodeJS.ProcessEnv;
  version: string;
  /** The one clock of the process: the ledger's timestamps, and (shared ledger) its waits, leases and writes. */
  clock: Clock;
  /** Where the shared ledger's events go (ledger.unavailable, ...): the log and the metrics. */
  emit?: Emit;
  /** Aborts waiting for the database (a stop signal while the daemon starts). */
  signal?: AbortSignal;
  /** `run` waits while another process holds its replica name; `scan` says so and stops. */
  waitForName?: boolean;
}

/**
 * The ledger [state] ledger names: the embedded SQLite file, or the shared
 * PostgreSQL database. A ledger that cannot be opened is a configuration
 * error (exit 2), except that the daemon waits for an unreachable database.
 */
export async function openLedger(config: Config, o: OpenLedgerOptions): Promise<Ledger> {
  try {
    if (config.state.ledger === 'sqlite') return new SqliteLedger(config.state.dir, o.clock);
    // Loaded only for the shared ledger: pg and its modules cost 60 ms and about 15 MB at start.
    const { PostgresLedger } = await import('./postgres/store.js');
    return await PostgresLedger.open({
      url: config.state.postgresql_url ?? '',
      password: resolvePostgresPassword(o.env, config.state.postgresql_password_file),
      leaseSeconds: config.state.lease_seconds,
      replica: config.state.replica_name,
      role: o.role,
      version: o.version,
      log: o.log,
      waitForDatabase: o.role === 'replica',
      waitForName: o.waitForName ?? true,
      clock: o.clock,
      ...(o.emit ? { emit: o.emit } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (err) {
    if (err instanceof LedgerError) throw new ConfigError([`[state] ${config.state.ledger === 'sqlite' ? 'dir' : 'postgresql_url'}: ${err.message}`], { cause: err });
    throw err;
  }
}

/**
 * The ledger for reading only (`scan --dry-run`, `audit`): the SQLite file opened read-only, or null
 * when there is none yet (a first start); the shared ledger as a client, which claims and writes nothing.
 */
export async function openLedgerReadOnly(config: Config, o: Omit<OpenLedgerOptions, 'role'>): Promise<Pick<Ledger, 'fingerprint' | 'getMeta' | 'inState' | 'close'> | null> {
  if (config.state.ledger === 'postgresql') return openLedger(config, { ...o, role: 'client' });
  if (!existsSync(path.join(config.state.dir, 'ledger.sqlite'))) return null;
  try {
    return new SqliteLedger(config.state.dir, o.clock, { readonly: true });
  } catch (err) {
    if (err instanceof LedgerError) throw new ConfigError([`[state] dir: ${err.message}`], { cause: err });
    throw err;
  }
}

/** Where the ledger is, for people: the SQLite file, or the database (no password: the URL never has one). */
export function ledgerWhere(config: Config): string {
  if (config.state.ledger === 'sqlite') return `${config.state.dir}/ledger.sqlite`;
  return `${config.state.postgresql_url ?? ''} (PostgreSQL, shared by replicas)`;
}
