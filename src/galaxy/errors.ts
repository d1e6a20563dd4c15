import { ImportdError } from '../errors.js';

/**
 * Galaxy answered with an HTTP error status. `errCode` and `errMsg` come from
 * Galaxy's `{err_msg, err_code}` body; a proxy's HTML page or an empty body
 * leaves `errCode` null and `errMsg` a one-line summary of what came back.
 */
export class GalaxyApiError extends ImportdError {
  readonly status: number;
  readonly errCode: number | null;
  readonly errMsg: string;
  /** From a `Retry-After` header, in milliseconds; null when absent. */
  readonly retryAfterMs: number | null;
  /** True when the body was Galaxy's own JSON, false for a proxy page or an empty body. */
  readonly fromGalaxy: boolean;
  readonly method: string;
  /** The request path without its query string. */
  readonly path: string;

  constructor(init: {
    status: number;
    errCode: number | null;
    errMsg: string;
    retryAfterMs: number | null;
    fromGalaxy: boolean;
    method: string;
    path: string;
  }) {
    super('GALAXY_HTTP_ERROR', `Galaxy answered ${init.status} to ${init.method} ${init.path}: ${init.errMsg}`);
    this.status = init.status;
    this.errCode = init.errCode;
    this.errMsg = init.errMsg;
    this.retryAfterMs = init.retryAfterMs;
    this.fromGalaxy = init.fromGalaxy;
    this.method = init.method;
    this.path = init.path;
  }
}

/**
 * Galaxy (or whatever answered in its place) sent a success status with a body
 * that is not the JSON the endpoint returns: HTML, invalid JSON, an unexpected
 * shape or a body over the size limit.
 */
export class GalaxyResponseError extends ImportdError {
  readonly status: number;
  readonly method: string;
  readonly path: string;

  constructor(init: { status: number; method: string; path: string; problem: string }) {
    super('GALAXY_BAD_RESPONSE', `Galaxy's answer to ${init.method} ${init.path} (HTTP ${init.status}) is not what the API returns: ${init.problem}`);
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
  }
}

export type NetworkFailure = 'refused' | 'dns' | 'connect-timeout' | 'timeout' | 'reset' | 'other';

/**
 * No HTTP answer came back. `mayHaveArrived` says whether Galaxy may have
 * received (and acted on) the request: false only when no connection was made.
 */
export class GalaxyNetworkError extends ImportdError {
  readonly failure: NetworkFailure;
  readonly mayHaveArrived: boolean;
  readonly method: string;
  readonly path: string;

  constructor(init: { failure: NetworkFailure; method: string; path: string; detail: string; cause: unknown }) {
    super('GALAXY_UNREACHABLE', `No answer from Galaxy to ${init.method} ${init.path}: ${init.detail}`, { cause: init.cause });
    this.failure = init.failure;
    this.mayHaveArrived = !['refused', 'dns', 'connect-timeout'].includes(init.failure);
    this.method = init.method;
    this.path = init.path;
  }
}

export type GalaxyError = GalaxyApiError | GalaxyResponseError | GalaxyNetworkError;

export function isGalaxyError(err: unknown): err is GalaxyError {
  return err instanceof GalaxyApiError || err instanceof GalaxyResponseError || err instanceof GalaxyNetworkError;
}

/**
 * An answer the client cannot use, however often it asks: the route does not exist (404 with
 * no Galaxy error code: FastAPI's or the legacy app's "No route for …" page), the method is not
 * allowed there (405), Galaxy does not implement it (501), or a success whose JSON is not of
 * the shape the endpoint returns. Galaxy's own 404 for a missing object carries err_code 404001
 * and is not one of these.
 */
export function isUnusable(err: unknown): boolean {
  if (err instanceof GalaxyResponseError) return true;
  if (err instanceof GalaxyApiError) return err.status === 405 || err.status === 501 || (err.status === 404 && err.errCode === null);
  return false;
}

/**
 * Galaxy itself was not there: no answer at all, or a proxy's 502, 503 or 504 in its place (a
 * Galaxy restarting behind nginx). A job that ends in error with no message after such a failure
 * was likely killed by the restart (docs/galaxy-notes.md, "A restart kills running jobs").
 */
export function isGalaxyDown(err: unknown): boolean {
  if (err instanceof GalaxyNetworkError) return true;
  return err instanceof GalaxyApiError && !err.fromGalaxy && (err.status === 502 || err.status === 503 || err.status === 504);
}
