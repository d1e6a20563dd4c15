import { GalaxyApiError, GalaxyNetworkError, GalaxyResponseError, isUnusable } from '../galaxy/errors.js';
import { LedgerUnavailableError } from '../ledger/ledger.js';

/**
 * What a failed Galaxy call means for the pipeline:
 * - transient: try again after a backoff; `uncertain` when Galaxy may have
 *   acted on the request although no good answer came back (look before resending);
 * - permanent: Galaxy refused this request for good;
 * - blocked: the key is refused (401) or lacks the rights (403): stop
 *   submitting everything until it works again.
 */
export type Verdict =
  | { kind: 'transient'; uncertain: boolean; retryAfterMs: number | null; message: string }
  | { kind: 'permanent'; message: string }
  | { kind: 'blocked'; message: string };

export function classify(err: unknown): Verdict {
  // The shared ledger's database is down: nothing was sent to Galaxy; wait and try again.
  if (err instanceof LedgerUnavailableError) return { kind: 'transient', uncertain: false, retryAfterMs: null, message: err.message };
  if (err instanceof GalaxyNetworkError) {
    return { kind: 'transient', uncertain: err.mayHaveArrived, retryAfterMs: null, message: err.message };
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
    // No such route, method or feature: Galaxy did not act. Retried with backoff; the daemon's
    // Compatibility watch pauses everything once the same request keeps being answered so.
    if (isUnusable(err)) return { kind: 'transient', uncertain: false, retryAfterMs: null, message };
    if (err.status === 408 || err.status === 429 || err.status >= 500 || !err.fromGalaxy) {
      // 408 and 429 say the request was not processed; a 5xx or a proxy's page may hide an accepted one.
      const uncertain = err.status !== 408 && err.status !== 429;
      return { kind: 'transient', uncertain, retryAfterMs: err.retryAfterMs, message };
    }
    return { kind: 'permanent', message };
  }
  return { kind: 'permanent', message: err instanceof Error ? err.message : String(err) };
}

/**
 * Exponential backoff with full jitter (a random wait up to the exponential
 * bound), never less than Galaxy's Retry-After and never more than the cap.
 */
export function backoffMs(attempt: number, capMs: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  const bound = Math.min(capMs, 1000 * 2 ** Math.max(0, attempt - 1));
  const jittered = random() * bound;
  return Math.min(capMs, Math.max(jittered, retryAfterMs ?? 0));
}
