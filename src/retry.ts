import type { Clock } from './clock.js';
import { ImportdError } from './errors.js';

/**
 * Retrying, the ground floor's: a loop that tries again after the wait its caller names, and the
 * exponential backoff. What a failure means (classify) belongs to the pipeline (pipeline/retry.ts);
 * the shared ledger retries its own statements with the same loop.
 */

/**
 * One backoff rule for every loop that waits between tries: exponential from `firstMs` by
 * `factor` (2 unless said), capped at `capMs`; with `jitter`, a random wait up to that bound
 * (full jitter, so that many waiters do not come back at once).
 */
export interface Backoff {
  firstMs: number;
  capMs: number;
  factor?: number;
  jitter: boolean;
}

/** The wait before try `attempt + 1`, never less than a Retry-After nor more than the cap. */
export function backoffMs(attempt: number, backoff: Backoff, retryAfterMs: number | null = null, random: () => number = Math.random): number {
  const bound = Math.min(backoff.capMs, backoff.firstMs * (backoff.factor ?? 2) ** Math.max(0, attempt - 1));
  const wait = backoff.jitter ? random() * bound : bound;
  return Math.min(backoff.capMs, Math.max(wait, retryAfterMs ?? 0));
}

/** The loop was stopped (its signal aborted) before it succeeded. */
export class StoppedError extends ImportdError {
  constructor() {
    super('STOPPED', 'stopped');
  }
}

export interface RetryOptions {
  clock: Pick<Clock, 'sleep'>;
  /** Aborting ends the wait and the loop (StoppedError). */
  signal?: AbortSignal;
  /** Awaited before every try (the gate while Galaxy refuses the key). */
  before?: () => Promise<void>;
  /**
   * What a failed try means: null gives up (the error is thrown), a number waits that many
   * milliseconds, a promise waits for it. The caller logs here: no retry is silent.
   */
  onFailure(err: unknown, attempt: number): number | Promise<void> | null;
}

/** Try `op` until it succeeds, `onFailure` gives up (its error is thrown), or `signal` stops it. */
export async function retry<T>(op: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (o.before) await o.before();
    if (o.signal?.aborted) throw new StoppedError();
    try {
      return await op(attempt);
    } catch (err) {
      if (err instanceof StoppedError) throw err;
      const wait = o.onFailure(err, attempt);
      if (wait === null) throw err;
      if (typeof wait === 'number') {
        if (!(await o.clock.sleep(wait, o.signal))) throw new StoppedError();
      } else {
        await wait;
      }
    }
  }
}
