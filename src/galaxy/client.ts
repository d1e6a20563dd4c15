import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { Json } from './answers.js';
import { expectObject } from './answers.js';
import type { Call } from './call.js';
import { enc } from './call.js';
import { isUnusable } from './errors.js';
import type { FoldersApi } from './folders.js';
import { foldersApi } from './folders.js';
import type { Limiter } from './http.js';
import { createAgent, GalaxyHttp, unlimited } from './http.js';
import type { JobsApi } from './jobs.js';
import { jobsApi } from './jobs.js';
import type { LibrariesApi } from './libraries.js';
import { librariesApi } from './libraries.js';
import type { RolesApi } from './roles.js';
import { rolesApi } from './roles.js';

/**
 * Galaxy's API, one typed function per endpoint galaxy-importd uses (docs/galaxy-notes.md),
 * grouped by resource: libraries.ts, folders.ts, roles.ts, jobs.ts; this class runs them
 * through the HTTP layer. Answers are checked for the fields the daemon relies on; anything
 * else passes through untouched.
 */

export type { LibrarySummary, ContentsEntry, CreatedItem, DatasetPermissions, DatasetStorage, LibraryDatasetDetails, StoredHash, FolderDetails, FolderItem, JobSummary, FetchItem, LibraryPermissions, NamedRole, RoleSummary } from './answers.js';

export interface GalaxyClientOptions {
  url: string;
  /** The key, or where to read the current one (http.ts). */
  apiKey: string | (() => string);
  /** Deadline for one request; 60 s when absent. */
  timeoutMs?: number;
  /** Largest answer accepted; 64 MiB when absent. */
  maxBodyBytes?: number;
  /** An undici dispatcher (Agent, MockAgent); one is made when absent and closed by close(). */
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Runs every request; the daemon passes its throttling queue. */
  limiter?: Limiter;
  /** The process's clock (the daemon's; systemClock in the CLI): a Retry-After date is counted from its now. */
  clock: Pick<Clock, 'now'>;
  /**
   * Told of every typed call's outcome: `request` is its method and route (`GET /api/jobs/{id}`),
   * `unusable` the error when the answer is one the client cannot use whatever it retries
   * (isUnusable), else null. The daemon counts these to tell a Galaxy that lacks an endpoint.
   */
  onAnswer?: (request: string, unusable: Error | null) => void;
}

/** The route of a request, ids left out: `/api/folders/F2c24…/contents?limit=5` → `/api/folders/{id}/contents`. */
export function routeOf(pathOrUrl: string): string {
  const p = pathOrUrl.replace(/^https?:\/\/[^/]+/i, '').split('?')[0] ?? '';
  return p.replace(/\/F?[0-9a-f]{16,}(?=\/|$)/gi, '/{id}');
}


// The resource modules' calls are this class's methods: the constructor assigns them.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface GalaxyClient extends LibrariesApi, FoldersApi, RolesApi, JobsApi {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class GalaxyClient {
  readonly #http: GalaxyHttp;
  readonly #ownAgent: Dispatcher | null;
  readonly #onAnswer: GalaxyClientOptions['onAnswer'];

  constructor(opts: GalaxyClientOptions) {
    this.#onAnswer = opts.onAnswer;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    this.#ownAgent = opts.dispatcher ? null : createAgent(timeoutMs);
    this.#http = new GalaxyHttp({
      url: opts.url,
      apiKey: opts.apiKey,
      timeoutMs,
      maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024 * 1024,
      dispatcher: opts.dispatcher ?? (this.#ownAgent as Dispatcher),
      userAgent: opts.userAgent ?? 'galaxy-importd',
      limiter: opts.limiter ?? unlimited,
      clock: opts.clock,
    });
    const call: Call = (method, p, body, check) => this.#json(method, p, body, check);
    Object.assign(this, librariesApi(call), foldersApi(call), rolesApi(call), jobsApi(call));
  }

  get baseUrl(): string {
    return this.#http.baseUrl;
  }

  async close(): Promise<void> {
    await this.#ownAgent?.close();
  }

  // ---- generic calls (the seed's display.py and submit) ------------------------------------

  async get(pathOrUrl: string): Promise<unknown> {
    return (await this.#http.call('GET', pathOrUrl)).body;
  }

  async post(pathOrUrl: string, body: unknown): Promise<unknown> {
    return (await this.#http.call('POST', pathOrUrl, body)).body;
  }

  /** One typed call: the request, then `check` of its answer; the outcome goes to onAnswer. */
  async #json<T>(method: 'GET' | 'POST' | 'DELETE' | 'PATCH' | 'PUT', p: string, body: unknown, check: (answer: unknown) => T): Promise<T> {
    const request = `${method} ${routeOf(p)}`;
    try {
      const result = check((await this.#http.call(method, p, body)).body);
      this.#onAnswer?.(request, null);
      return result;
    } catch (err) {
      if (isUnusable(err)) this.#onAnswer?.(request, err as Error);
      throw err;
    }
  }

  // ---- who and what ----------------------------------------------------------------------------

  async version(): Promise<{ version_major: string; version_minor?: string | null }> {
    const p = '/api/version';
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, ['version_major'])) as { version_major: string };
  }

  async currentUser(): Promise<{ id?: string; email?: string; is_admin?: boolean }> {
    const p = '/api/users/current';
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', p, []));
  }

  async configuration(keys: string[]): Promise<Json> {
    const p = `/api/configuration?keys=${enc(keys.join(','))}`;
    return await this.#json('GET', p, undefined, (b) => expectObject(b, 'GET', '/api/configuration', []));
  }
}
