import { GalaxyApiError, GalaxyNetworkError, GalaxyResponseError, isGalaxyDown, isUnusable } from '../galaxy/errors.js';
import { LedgerUnavailableError } from '../ledger/ledger.js';
import type { Clock } from '../clock.js';
import type { Backoff } from '../retry.js';
import { backoffMs } from '../retry.js';

/**
 * What a failed Galaxy call means for the pipeline:
 * - transient: try again after a backoff; `uncertain` when Galaxy may have
 *   acted on the request although no good answer came back (look before resending);
 * - permanent: Galaxy refused this request for good;
 * - blocked: the key is refused (401) or lacks the rights (403): stop
 *   submitting everything until it works again.
 */
export type Verdict =
  | { kind: 'transient'; uncertain: boolean; retryAfterMs: number | null; message: string; down?: boolean }
  | { kind: 'permanent'; message: string; tooLarge?: boolean }
  | { kind: 'blocked'; message: string };

export function classify(err: unknown): Verdict {
  // The shared ledger's database is down: nothing was sent to Galaxy; wait and try again.
  if (err instanceof LedgerUnavailableError) return { kind: 'transient', uncertain: false, retryAfterMs: null, message: err.message };
  if (err instanceof GalaxyNetworkError) {
    return { kind: 'transient', uncertain: err.mayHaveArrived, retryAfterMs: null, message: err.message, down: true };
  }
  if (err instanceof GalaxyResponseError) {
    // A success status with a body we cannot read: Galaxy did act on it.
    return { kind: 'transient', uncertain: true, retryAfterMs: null, message: err.message };
  }
  if (err instanceof GalaxyApiError) {
    const message = err.fromGalaxy ? err.errMsg : err.message;
    // The key itself: refused (401), or its user is not an admin (403001 authentication required, 403006 admin required).
    // Other 403s (403004 a Galaxy setting forbids it, 403005 no permission on that folder) are about the request.
    const keyProblem = err.status === 401 || (err.status === 403 && (err.errCode === null || err.errCode === 403001 || err.errCode === 403006));
    if (err.fromGalaxy && keyProblem) return { kind: 'blocked', message: `${err.status} ${err.errMsg}` };
    // server_dir from a user who is not an admin (demoted, say): Galaxy looks in user_library_import_dir
    // instead (validate_server_directory_upload), which is seldom set. The key's user, not the file, is at fault.
    if (err.fromGalaxy && err.status === 403 && err.errMsg.includes('user_library_import_dir')) {
      return { kind: 'blocked', message: `${err.status} ${err.errMsg} (Galaxy takes the key's user for one who is not an admin: admin_users in galaxy.yml)` };
    }
    // No such route, method or feature: Galaxy did not act. Retried with backoff; the daemon's
    // Compatibility watch pauses everything once the same request keeps being answered so.
    if (isUnusable(err)) return { kind: 'transient', uncertain: false, retryAfterMs: null, message };
    // Too large for Galaxy's proxy (nginx's client_max_body_size is 1 MB unless set): never taken, so
    // a request of several files is split in halves, which fit (docs/galaxy-notes.md, "A fetch job's cost and limits").
    if (err.status === 413) {
      return { kind: 'permanent', message: `${message} (the request is larger than Galaxy's proxy takes: raise its client_max_body_size, nginx's is 1 MB by default, or lower [upload] batch_size; a request of several files is split in halves meanwhile)`, tooLarge: true };
    }
    if (err.status === 408 || err.status === 429 || err.status >= 500 || !err.fromGalaxy) {
      // 408 and 429 say the request was not processed; a 5xx or a proxy's page may hide an accepted one.
      const uncertain = err.status !== 408 && err.status !== 429;
      return { kind: 'transient', uncertain, retryAfterMs: err.retryAfterMs, message, down: isGalaxyDown(err) };
    }
    return { kind: 'permanent', message };
  }
  return { kind: 'permanent', message: err instanceof Error ? err.message : String(err) };
}

/** Galaxy calls of the pipeline: from 1 s, doubling with jitter, up to [upload] backoff_max_seconds. */
export const galaxyBackoff = (capMs: number): Backoff => ({ firstMs: 1000, capMs, jitter: true });

/**
 * The wait after a failed Galaxy call of the pipeline: while the key is refused, until the
 * gate opens again; otherwise the backoff (at least Galaxy's Retry-After), said by `onRetry`.
 */
export function waitOutGalaxy(o: {
  gate: { block(message: string): void; wait(): Promise<void> };
  backoff: Backoff;
  random?: () => number;
  onRetry(reason: string, attempt: number, delayMs: number): void;
}): (err: unknown, attempt: number) => number | Promise<void> {
  return (err, attempt) => {
    const verdict = classify(err);
    if (verdict.kind === 'blocked') {
      o.gate.block(verdict.message);
      return o.gate.wait();
    }
    const delay = backoffMs(attempt, o.backoff, verdict.kind === 'transient' ? verdict.retryAfterMs : null, o.random);
    o.onRetry(verdict.message, attempt, delay);
    return delay;
  };
}

/**
 * Whether a failed call met Galaxy down as a whole: no answer, or its proxy's 502–504 page
 * (`verdict.down`), and `GET /api/version` gets none either. A Galaxy restart or outage is not
 * the files' fault, so it costs them no attempt (they wait, backing off, as long as it lasts); a
 * call that fails so while Galaxy answers is counted, so that a request Galaxy cannot take still
 * ends at max_attempts.
 */
export async function isOutage(verdict: Verdict, version: () => Promise<unknown>): Promise<boolean> {
  if (verdict.kind !== 'transient' || verdict.down !== true) return false;
  try {
    await version();
    return false;
  } catch (err) {
    return isGalaxyDown(err);
  }
}

/**
 * Wait as an `onFailure` said: a number of milliseconds to sleep, or a wait to await (the gate's,
 * or Galaxy's return). False when stopping.
 */
export async function waitAs(wait: number | Promise<void>, clock: Pick<Clock, 'sleep'>, signal: AbortSignal): Promise<boolean> {
  if (typeof wait === 'number') return clock.sleep(wait, signal);
  await wait;
  return !signal.aborted;
}
