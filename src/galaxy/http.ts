import type { Dispatcher } from 'undici';
import { Agent, request } from 'undici';
import type { Clock } from '../clock.js';
import type { NetworkFailure } from './errors.js';
import { GalaxyApiError, GalaxyNetworkError, GalaxyResponseError } from './errors.js';

/**
 * One HTTP exchange with Galaxy: the key in the `x-api-key` header only, an
 * overall deadline, the body always read to the end (or the socket destroyed),
 * JSON parsed, and every failure turned into a typed error. No retries here:
 * the retry policy belongs to the pipeline.
 */

export interface HttpOptions {
  /** Galaxy's base URL; may carry a path prefix (https://example.org/galaxy). */
  url: string;
  /** The key, or where to read the current one (a key rotated while the daemon runs). */
  apiKey: string | (() => string);
  timeoutMs: number;
  /** Largest body accepted, in bytes; a larger one is a GalaxyResponseError. */
  maxBodyBytes: number;
  dispatcher: Dispatcher;
  userAgent: string;
  /**
   * Runs each request (sending and reading the answer): the pipeline passes
   * its queue here, so concurrency and rate limits bound every Galaxy request.
   */
  limiter: Limiter;
  /** Reads the time a Retry-After date is counted from. */
  clock: Pick<Clock, 'now'>;
}

export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

export const unlimited: Limiter = (fn) => fn();

export interface HttpResponse {
  status: number;
  body: unknown;
}

export function createAgent(timeoutMs: number): Agent {
  return new Agent({
    connect: { timeout: Math.min(timeoutMs, 10_000) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
  });
}

/** Parse a Retry-After header (seconds or an HTTP date) into milliseconds; a date is counted from `now` (the clock's, ms since the epoch). */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

function classify(err: unknown): { failure: NetworkFailure; detail: string } {
  const e = err as { code?: string; name?: string; message?: string };
  const code = e.code ?? '';
  const detail = code ? `${code} ${e.message ?? ''}`.trim() : (e.message ?? String(err));
  if (code === 'ECONNREFUSED') return { failure: 'refused', detail };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { failure: 'dns', detail };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { failure: 'connect-timeout', detail };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { failure: 'timeout', detail: 'no complete answer before the timeout' };
  }
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') {
    return { failure: 'reset', detail };
  }
  return { failure: 'other', detail };
}

/** A short, single-line description of a non-JSON body: a proxy's HTML title, or its first words. */
export function summarise(text: string, contentType: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  // Galaxy's page for a path or method it has no route for says which (docs/galaxy-notes.md).
  const noRoute = /No route for [^\s<]+/.exec(text)?.[0];
  const plain = (title !== undefined && noRoute !== undefined ? `${title}: ${noRoute}` : (title ?? text.replace(/<[^>]*>/g, ' '))).replace(/\s+/g, ' ').trim();
  const short = plain.length > 120 ? `${plain.slice(0, 120)}…` : plain;
  const kind = contentType.split(';')[0] || 'no content type';
  return short === '' ? `an empty body (${kind})` : `${JSON.stringify(short)} (${kind})`;
}

function errorFields(body: unknown): { errCode: number | null; errMsg: string } | null {
  if (typeof body === 'string') return { errCode: null, errMsg: body };
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if (typeof b.err_msg === 'string') {
    return { errCode: typeof b.err_code === 'number' ? b.err_code : null, errMsg: b.err_msg };
  }
  if (typeof b.detail === 'string') return { errCode: null, errMsg: b.detail };
  return null;
}

export class GalaxyHttp {
  readonly #opts: HttpOptions;
  readonly #base: string;

  constructor(opts: HttpOptions) {
    this.#opts = opts;
    this.#base = opts.url.replace(/\/+$/, '');
  }

  get baseUrl(): string {
    return this.#base;
  }

  /** An absolute URL for a path below Galaxy's base URL, or the URL itself when absolute. */
  resolve(pathOrUrl: string): URL {
    if (/^https?:\/\//i.test(pathOrUrl)) return new URL(pathOrUrl);
    return new URL(`${this.#base}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`);
  }

  call(method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH', pathOrUrl: string, body?: unknown): Promise<HttpResponse> {
    return this.#opts.limiter(() => this.#call(method, pathOrUrl, body));
  }

  async #call(method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH', pathOrUrl: string, body?: unknown): Promise<HttpResponse> {
    const url = this.resolve(pathOrUrl);
    const where = url.pathname;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.#opts.userAgent,
      'x-api-key': typeof this.#opts.apiKey === 'string' ? this.#opts.apiKey : this.#opts.apiKey(),
    };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        dispatcher: this.#opts.dispatcher,
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
    } catch (err) {
      const { failure, detail } = classify(err);
      throw new GalaxyNetworkError({ failure, method, path: where, detail, cause: err });
    }
    const contentType = String(res.headers['content-type'] ?? '');
    let text: string;
    try {
      text = await this.#readText(res, method, where);
    } catch (err) {
      if (err instanceof GalaxyResponseError) throw err;
      const { failure, detail } = classify(err);
      throw new GalaxyNetworkError({ failure, method, path: where, detail: `while reading the answer: ${detail}`, cause: err });
    }
    let parsed: unknown;
    let isJson = false;
    if (text.length > 0 && !/^\s*</.test(text)) {
      try {
        parsed = JSON.parse(text);
        isJson = true;
      } catch {
        isJson = false;
      }
    }
    if (res.statusCode >= 400) {
      const fields = isJson ? errorFields(parsed) : null;
      throw new GalaxyApiError({
        status: res.statusCode,
        errCode: fields?.errCode ?? null,
        errMsg: fields?.errMsg ?? summarise(text, contentType),
        retryAfterMs: parseRetryAfter(res.headers['retry-after'], this.#opts.clock.now()),
        fromGalaxy: fields !== null,
        method,
        path: where,
      });
    }
    if (!isJson) {
      const problem = text.length === 0 ? 'an empty body' : `not JSON: ${summarise(text, contentType)}`;
      throw new GalaxyResponseError({ status: res.statusCode, method, path: where, problem });
    }
    return { status: res.statusCode, body: parsed };
  }

  async #readText(res: Dispatcher.ResponseData, method: string, where: string): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.#opts.maxBodyBytes) {
        res.body.destroy();
        throw new GalaxyResponseError({
          status: res.statusCode,
          method,
          path: where,
          problem: `the body is larger than ${this.#opts.maxBodyBytes} bytes`,
        });
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
