import type { Clock, Timer } from '../clock.js';
import type { LiveKey } from '../config/api-key.js';
import { fixedKey } from '../config/api-key.js';
import type { GalaxyClient } from '../galaxy/client.js';
import type { Emit } from '../observe/events.js';

export interface GateLog {
  /** Galaxy refuses the key; `fix` says what the admin does (where the key is read from). */
  refused(message: string, fix: string): void;
  restored(): void;
  /** The key was read again from its source and has changed. */
  reloaded(source: string): void;
  /** Galaxy keeps answering `request` in a way the client cannot use (isUnusable). */
  unusable(request: string, message: string): void;
  /** Galaxy's upload jobs keep ending in error (breaker.ts): paused for `pauseMs`. */
  failing(run: FailingRun, pauseMs: number): void;
}

/** A run of upload jobs ended in error (breaker.ts): how many, the latest and why. */
export interface FailingRun {
  jobs: number;
  jobId: string;
  reason: string;
}



/** Why the gate is closed: the key, answers the client cannot use, or Galaxy's upload jobs all failing (breaker.ts). */
export type PauseKind = 'key' | 'unusable' | 'failing';

/** A refused key is probed at most once a minute, as the design says; an unusable answer pauses as long. */
export const KEY_PROBE_MS = 60_000;

/** Answers the client cannot use, in a row for one request, that pause everything. */
export const UNUSABLE_STRIKES = 3;

/**
 * The gate every Galaxy request of the pipeline waits at. Open while Galaxy accepts the key. A 401 or 403 closes it: every submission
 * waits, the problem is logged once per probe with what to do, and the key is probed at most
 * once per `probeMs` until it works again (as an admin's), which reopens it. Before each probe
 * the key is read again from its source (a key rotated into api_key_file is taken; SIGHUP reads
 * it at once, reloadKey).
 *
 * It closes too when one request has been answered UNUSABLE_STRIKES times in a row in a way
 * the client cannot use (a route this Galaxy does not have, a method it does not allow, an
 * answer of another shape): everything waits, one error line says so, and after `probeMs` the
 * work asks again; an answer still unusable closes it at once, so the line comes at most once
 * per `probeMs` and no request loops faster than that.
 */
export class Gate {
  readonly #client: Pick<GalaxyClient, 'currentUser'>;
  readonly #clock: Clock;
  readonly #log: GateLog;
  readonly #probeMs: number;
  #blocked: string | null = null;
  #kind: PauseKind | null = null;
  readonly #strikes = new Map<string, number>();
  #waiters: (() => void)[] = [];
  #timer: Timer | null = null;
  #closed = false;

  readonly #key: Pick<LiveKey, 'reload' | 'advice' | 'source'>;

  constructor(client: Pick<GalaxyClient, 'currentUser'>, log: GateLog, probeMs: number, clock: Clock, key: Pick<LiveKey, 'reload' | 'advice' | 'source'> = fixedKey('')) {
    this.#client = client;
    this.#clock = clock;
    this.#log = log;
    this.#probeMs = probeMs;
    this.#key = key;
  }

  /** Read the key again from its source (SIGHUP, a refusal, each probe); true when it changed, said once. */
  #reload(): boolean {
    if (!this.#key.reload()) return false;
    this.#log.reloaded(this.#key.source);
    return true;
  }

  /**
   * SIGHUP: read the key again. While the key is refused, it is probed at once (a new key, or
   * the same one after an admin made its user an admin again); while the gate is open, a new
   * key is simply used from the next request on.
   */
  reloadKey(): void {
    if (this.#closed) return;
    this.#reload();
    if (this.#kind !== 'key' || this.#timer === null) return;
    this.#clock.clearTimeout(this.#timer);
    this.#schedule(0);
  }

  /** Why it is closed (a refused key, unusable answers, failing jobs), else null. */
  get blocked(): string | null {
    return this.#blocked;
  }

  /** Why it is closed, or null while open. */
  get kind(): PauseKind | null {
    return this.#kind;
  }

  /** Why it is closed and what it says, or null while open. */
  get pause(): { kind: PauseKind; reason: string } | null {
    return this.#blocked !== null && this.#kind !== null ? { kind: this.#kind, reason: this.#blocked } : null;
  }

  /** Galaxy refused the key (401, 403): pause. A key changed at its source since is probed at once, else in `probeMs`. */
  block(message: string): void {
    if (this.#blocked !== null || this.#closed) return;
    this.#blocked = message;
    this.#kind = 'key';
    const changed = this.#reload();
    if (!changed) this.#log.refused(message, this.#key.advice());
    this.#schedule(changed ? 0 : this.#probeMs);
  }

  /** Every typed Galaxy call's outcome (GalaxyClientOptions.onAnswer). */
  readonly onAnswer = (request: string, unusable: Error | null): void => {
    if (unusable === null) {
      this.#strikes.delete(request);
      return;
    }
    const strikes = (this.#strikes.get(request) ?? 0) + 1;
    this.#strikes.set(request, strikes);
    if (strikes < UNUSABLE_STRIKES || this.#blocked !== null || this.#closed) return;
    this.#blocked = `${request}: ${unusable.message}`;
    this.#kind = 'unusable';
    this.#log.unusable(request, unusable.message);
    this.#timer = this.#clock.setTimeout(() => this.#open(), this.#probeMs);
  };

  /**
   * Galaxy's upload jobs keep ending in error (breaker.ts): everything waits `ms`, then the work
   * asks again; the breaker closes it again if the next job fails too. A refused key or an
   * unusable answer already holding the gate keeps it.
   */
  failing(reason: string, ms: number, run: FailingRun): void {
    if (this.#blocked !== null || this.#closed) return;
    this.#blocked = reason;
    this.#kind = 'failing';
    this.#log.failing(run, ms);
    this.#timer = this.#clock.setTimeout(() => this.#open(), ms);
  }

  #schedule(ms = this.#probeMs): void {
    this.#timer = this.#clock.setTimeout(() => void this.#probe(), ms);
  }

  #open(): void {
    this.#timer = null;
    const kind = this.#kind;
    this.#blocked = null;
    this.#kind = null;
    if (kind === 'key') this.#log.restored();
    for (const w of this.#waiters.splice(0)) w();
  }

  async #probe(): Promise<void> {
    this.#timer = null;
    if (this.#closed) return;
    this.#reload();
    try {
      const user = await this.#client.currentUser();
      if (user.is_admin === true) {
        this.#open();
        return;
      }
      this.#blocked = 'the key works but its user is not an admin (admin_users in galaxy.yml)';
    } catch (err) {
      this.#blocked = err instanceof Error ? err.message : String(err);
    }
    this.#log.refused(this.#blocked, this.#key.advice());
    this.#schedule();
  }

  /** Resolves at once when open, else when the key works again or the gate is closed for good. */
  wait(): Promise<void> {
    if (this.#blocked === null || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** The pipeline's gate, saying what it does as events; `unusable` names Galaxy's release. */
export function galaxyGate(client: Pick<GalaxyClient, 'currentUser' | 'version'>, emit: Emit, probeMs: number, clock: Clock, key?: Pick<LiveKey, 'reload' | 'advice' | 'source'>): Gate {
  const release = (): Promise<string> => client.version().then((v) => `${v.version_major}${v.version_minor ? `.${v.version_minor}` : ''}`, () => 'unknown');
  return new Gate(client, {
    refused: (reason, fix) => emit({ type: 'galaxy.key_refused', reason, fix }),
    restored: () => emit({ type: 'galaxy.key_ok' }),
    reloaded: (source) => emit({ type: 'galaxy.key_reloaded', source }),
    failing: (run, pauseMs) => emit({ type: 'galaxy.jobs_failing', jobs: run.jobs, job_id: run.jobId, reason: run.reason, pause_ms: pauseMs }),
    unusable: (request, reason) => void release().then((v) => emit({ type: 'galaxy.unusable', request, reason, galaxy_version: v })),
  }, probeMs, clock, key);
}
