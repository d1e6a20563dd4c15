import path from 'node:path';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ApiKey } from '../config/api-key.js';
import { resolveApiKey } from '../config/api-key.js';
import type { Config } from '../config/load.js';
import { requireDaemonKeys } from '../config/load.js';
import { GalaxyClient } from '../galaxy/client.js';
import type { Limiter } from '../galaxy/http.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open.js';
import type { Emit } from '../observe/events.js';
import type { Logger } from '../observe/logger.js';
import { createLogger } from '../observe/logger.js';
import { version } from '../version.js';

/** What the daemon's commands share: their I/O, and opening the ledger. */

export type Signal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

export interface DaemonIo {
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  onSignal(signal: Signal, handler: () => void): void;
}

/** How long `run` waits for requests in flight after SIGTERM; the systemd unit's TimeoutStopSec is above it. */
export const DRAIN_MS = 8000;

/** The ledger for `status`, `retry` and `check`: they claim nothing, and fail at once when it cannot be had. */
export function openClientLedger(config: Config, env: NodeJS.ProcessEnv): Promise<Ledger> {
  const quiet = createLogger('silent');
  return openLedger(config, { role: 'client', log: quiet, env, version: version(), clock: systemClock });
}

/** The daemon's ledger, on the daemon's clock: a shared one is waited for while its database cannot be reached. */
export function openReplicaLedger(config: Config, io: DaemonIo, log: Logger, o: { signal?: AbortSignal; waitForName: boolean; emit: Emit; clock: Clock }): Promise<Ledger> {
  return openLedger(config, {
    role: 'replica', log: log.child({ component: 'ledger' }), emit: o.emit, env: io.env, version: version(), waitForName: o.waitForName, clock: o.clock, ...(o.signal ? { signal: o.signal } : {}),
  });
}

export function daemonSetup(config: Config, env: NodeJS.ProcessEnv): { key: ApiKey } {
  requireDaemonKeys(config);
  return { key: resolveApiKey(env, config.galaxy.api_key_file) };
}

/**
 * The Galaxy client of a command that is not the daemon (`check`, `access`, `audit`): the config's
 * URL and timeout; `limiter` bounds its requests as [upload] concurrency and rate_per_second bound the daemon's.
 */
export function commandClient(config: Config, key: ApiKey, limiter?: Limiter): GalaxyClient {
  return new GalaxyClient({ url: config.galaxy.url ?? '', apiKey: key.key, timeoutMs: config.galaxy.timeout_seconds * 1000, clock: systemClock, ...(limiter ? { limiter } : {}) });
}

/** A path the command line names, as the ledger keeps it: relative to [import] dir, '/'-separated (an absolute path below it is made relative). */
export function relativePath(config: Config, p: string): string {
  return config.import.dir !== null && path.isAbsolute(p) ? path.relative(config.import.dir, p).split(path.sep).join('/') : p;
}
