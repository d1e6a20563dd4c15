import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GalaxyError } from './errors.js';
import type { FaultAction, FaultRule } from './faults.js';
import { FaultTable, NO_ROUTE_HTML, PROXY_HTML } from './faults.js';
import type { EmulatorSettings, JobFault, Snapshot, User } from './model.js';
import { GalaxyModel } from './model.js';

/**
 * A Galaxy API emulator on node:http, faithful to docs/galaxy-notes.md, with
 * fault injection and a record of every request for tests. Control routes live
 * under /_emulator/ (never under /api) so that separate processes (the demo, the
 * stress suite) can steer it too.
 */

export interface EmulatorOptions extends Partial<EmulatorSettings> {
  host?: string;
  /** A proxy's limit on request bodies (nginx's client_max_body_size): a larger one is answered 413 with the proxy's page, unseen by Galaxy. */
  maxBodyBytes?: number;
  port?: number;
  adminKey?: string;
  userKey?: string;
  /** Seed for probabilistic faults. */
  seed?: number;
  /** Keep the library state in this JSON file across restarts. */
  stateFile?: string;
  /** Job faults in force from the start, jobs resumed from the state file included. */
  jobFaults?: JobFault[];
}

export interface RecordedRequest {
  seq: number;
  method: string;
  /** Path and query exactly as the client sent them. */
  url: string;
  /** HTTP status sent, or 'reset' / 'hang' / 'aborted'. */
  status: number | 'reset' | 'hang' | 'aborted';
  start: number;
  end: number | null;
  apiKeyHeader: boolean;
  fault: FaultAction['type'] | null;
}

export interface Emulator {
  url: string;
  port: number;
  adminKey: string;
  userKey: string;
  model: GalaxyModel;
  faults: FaultTable;
  requests: RecordedRequest[];
  stats(): { inFlight: number; maxInFlight: number; requests: number };
  resetStats(): void;
  addFaults(...rules: FaultRule[]): void;
  addJobFaults(...faults: JobFault[]): void;
  close(): Promise<void>;
}

type Handler = (ctx: {
  user: User | null;
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
}) => unknown;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const ID = '([^/]+)';

function routes(model: GalaxyModel): Route[] {
  const r = (method: string, path: string, handler: Handler): Route => ({
    method,
    pattern: new RegExp(`^${path.replaceAll(':id', ID)}/?$`),
    handler,
  });
  const boolParam = (q: URLSearchParams, name: string): boolean | null => {
    const v = q.get(name);
    if (v === null) return null;
    if (['true', '1', 'True'].includes(v)) return true;
    if (['false', '0', 'False'].includes(v)) return false;
    throw new GalaxyError(400, 400008, `Invalid value for '${name}': Input should be a valid boolean`);
  };
  const p = (params: string[], i: number): string => params[i] ?? '';
  return [
    r('GET', '/api/version', () => ({ version_major: model.settings.version.split('.').slice(0, 2).join('.'), version_minor: model.settings.version.split('.')[2] ?? null })),
    r('GET', '/api/whoami', ({ user }) => model.whoami(user)),
    r('GET', '/api/users/current', ({ user }) => model.currentUser(user)),
    r('GET', '/api/users/:id/permissions/inputs', ({ user, params }) => model.userPermissions(user, p(params, 0))),
    r('PUT', '/api/users/:id/permissions/inputs', ({ user, params, body }) => model.setUserPermissions(user, p(params, 0), body)),
    r('GET', '/api/configuration', ({ user, query }) =>
      model.configuration(user, query.get('keys')?.split(',').map((k) => k.trim()) ?? null)),
    r('GET', '/api/libraries/deleted', ({ user }) => model.listLibraries(user, true)),
    r('GET', '/api/libraries', ({ user, query }) => model.listLibraries(user, boolParam(query, 'deleted'))),
    r('POST', '/api/libraries', ({ user, body }) => model.createLibrary(user, body)),
    r('GET', '/api/libraries/:id', ({ user, params }) => model.showLibrary(user, p(params, 0))),
    r('DELETE', '/api/libraries/:id', ({ user, params, query }) =>
      model.deleteLibrary(user, p(params, 0), boolParam(query, 'undelete') === true)),
    r('GET', '/api/libraries/:id/contents', ({ user, params }) => model.contentsIndex(user, p(params, 0))),
    r('POST', '/api/libraries/:id/contents', ({ user, params, body }) => model.createContent(user, p(params, 0), body)),
    r('GET', '/api/libraries/:id/contents/:id', ({ user, params }) => model.showContent(user, p(params, 0), p(params, 1))),
    r('DELETE', '/api/libraries/:id/contents/:id', ({ user, params }) => model.deleteContent(user, p(params, 1))),
    r('GET', '/api/libraries/datasets/:id', ({ user, params }) => model.showDataset(user, p(params, 0))),
    r('PUT', '/api/datasets/:id/hash', ({ user, params, query, body }) => model.computeDatasetHash(user, p(params, 0), query, body)),
    r('GET', '/api/datasets/:id/storage', ({ user, params, query }) => model.datasetStorage(user, p(params, 0), query)),
    r('PATCH', '/api/libraries/datasets/:id', ({ user, params, body }) => model.updateDataset(user, p(params, 0), body)),
    r('DELETE', '/api/libraries/datasets/:id', ({ user, params }) => model.deleteContent(user, p(params, 0))),
    r('POST', '/api/libraries/datasets/:id/permissions', ({ user, params, body }) => model.setDatasetPermissions(user, p(params, 0), body)),
    r('GET', '/api/libraries/:id/permissions', ({ user, params }) => model.libraryPermissions(user, p(params, 0))),
    r('POST', '/api/libraries/:id/permissions', ({ user, params, body }) => model.setLibraryPermissions(user, p(params, 0), body)),
    r('GET', '/api/roles', ({ user }) => model.listRoles(user)),
    r('POST', '/api/notifications', ({ user, body }) => model.sendNotification(user, body)),
    r('GET', '/api/notifications', ({ user }) => model.listNotifications(user)),
    r('POST', '/api/roles', ({ user, body }) => model.createRole(user, body)),
    r('GET', '/api/folders/:id', ({ params }) => model.showFolder(p(params, 0))),
    r('POST', '/api/folders/:id', ({ user, params, body }) => model.createFolder(user, p(params, 0), body)),
    r('GET', '/api/folders/:id/contents', ({ user, params, query }) => model.folderContents(user, p(params, 0), query)),
    r('GET', '/api/histories', ({ user }) => model.listHistories(user)),
    r('POST', '/api/histories', ({ user, body }) => model.createHistory(user, body)),
    r('DELETE', '/api/histories/:id', ({ user, params, query }) => model.deleteHistory(user, p(params, 0), boolParam(query, 'purge') === true)),
    r('POST', '/api/tools/fetch', ({ user, body }) => model.fetch(user, body)),
    r('GET', '/api/jobs', ({ user, query }) => model.listJobs(user, query)),
    r('GET', '/api/jobs/:id', ({ params, query }) => model.showJob(p(params, 0), boolParam(query, 'full') === true)),
  ];
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseBody(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  if (raw.length === 0) return {};
  const text = raw.toString('utf8');
  if (contentType?.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GalaxyError(400, 400008, 'Request body is not valid JSON.', {
      validation_errors: [JSON.stringify({ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' })],
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GalaxyError(400, 400008, 'Request body should be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings: EmulatorSettings = {
    version: options.version ?? '26.1.2',
    libraryImportDir: options.libraryImportDir ?? null,
    allowPathPaste: options.allowPathPaste ?? false,
    jobQueuedMs: options.jobQueuedMs ?? 30,
    jobRunMs: options.jobRunMs ?? 60,
    pagination: options.pagination ?? 'uniform',
    notifications: options.notifications ?? true,
    celery: options.celery ?? 'none',
  };
  let snapshot: Snapshot | null = null;
  if (options.stateFile) {
    try {
      snapshot = JSON.parse(readFileSync(options.stateFile, 'utf8')) as Snapshot;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const model = new GalaxyModel(settings, snapshot?.secret ?? randomBytes(8).toString('hex'));
  let adminKey: string;
  let userKey: string;
  if (snapshot) {
    model.restore(snapshot);
    const admin = snapshot.users.find((u) => u.admin);
    const plain = snapshot.users.find((u) => !u.admin);
    adminKey = admin?.key ?? '';
    userKey = plain?.key ?? '';
    model.jobFaults.push(...(options.jobFaults ?? []));
    model.resumeJobs();
  } else {
    adminKey = options.adminKey ?? randomBytes(16).toString('hex');
    userKey = options.userKey ?? randomBytes(16).toString('hex');
    model.addUser('admin@example.org', adminKey, true);
    model.addUser('user@example.org', userKey, false);
    model.jobFaults.push(...(options.jobFaults ?? []));
  }
  let pending: NodeJS.Timeout | null = null;
  if (options.stateFile) {
    const file = options.stateFile;
    const save = (): void => {
      pending = null;
      writeFileSync(`${file}.tmp`, JSON.stringify(model.snapshot()));
      renameSync(`${file}.tmp`, file);
    };
    model.onChange = () => {
      pending ??= setTimeout(save, 20);
    };
    save();
  }

  const table = routes(model);
  const faults = new FaultTable(options.seed ?? 1);
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let seq = 0;

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const control = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    const body = parseBody(await readBody(req), req.headers['content-type']);
    switch (route) {
      case 'GET /_emulator/requests':
        return sendJson(res, 200, requests);
      case 'GET /_emulator/stats':
        return sendJson(res, 200, { inFlight, maxInFlight, requests: requests.length });
      case 'POST /_emulator/reset-stats':
        requests.length = 0;
        maxInFlight = inFlight;
        return sendJson(res, 200, {});
      case 'POST /_emulator/faults':
        faults.add(...((body.rules ?? []) as FaultRule[]));
        return sendJson(res, 200, { rules: faults.rules.length });
      case 'DELETE /_emulator/faults':
        faults.clear();
        model.jobFaults.length = 0;
        return sendJson(res, 200, {});
      case 'POST /_emulator/job-faults':
        model.jobFaults.push(...((body.faults ?? []) as JobFault[]));
        return sendJson(res, 200, { faults: model.jobFaults.length });
      case 'GET /_emulator/tree':
        return sendJson(res, 200, model.tree());
      default:
        return sendJson(res, 404, { detail: 'Not Found' });
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (options.maxBodyBytes !== undefined && Number(req.headers['content-length'] ?? 0) > options.maxBodyBytes) {
      await readBody(req);
      res.writeHead(413, { 'content-type': 'text/html' });
      res.end(PROXY_HTML(413));
      return;
    }
    const action = faults.take(method, url.pathname);
    rec.fault = action?.type ?? null;
    if (action) {
      switch (action.type) {
        case 'status': {
          await readBody(req);
          const headers: Record<string, string> = {};
          if (action.retryAfter !== undefined) headers['retry-after'] = String(action.retryAfter);
          const kind = action.body ?? 'html';
          if (kind === 'json') return sendJson(res, action.status, { err_msg: 'Injected failure', err_code: action.status * 1000 + 1 }, headers);
          const text = kind === 'html' ? PROXY_HTML(action.status) : kind === 'text' ? 'Service Unavailable\n' : '';
          res.writeHead(action.status, { 'content-type': kind === 'html' ? 'text/html' : 'text/plain', ...headers });
          res.end(text);
          return;
        }
        case 'delay':
          await sleep(action.ms);
          break;
        case 'hang':
          rec.status = 'hang';
          return;
        case 'reset':
          rec.status = 'reset';
          req.socket.destroy();
          return;
        case 'invalid-json':
          await readBody(req);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"id": "f2db41e1fa331b3e", "name": ');
          return;
        case 'shape':
          await readBody(req);
          return sendJson(res, 200, action.body);
        case 'no-route':
          await readBody(req);
          res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
          res.end(NO_ROUTE_HTML(url.pathname));
          return;
        case 'huge': {
          await readBody(req);
          const item = JSON.stringify({ id: '0000000000000000', name: 'x'.repeat(100) });
          const count = Math.max(1, Math.floor(action.bytes / (item.length + 1)));
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(`[${new Array<string>(count).fill(item).join(',')}]`);
          return;
        }
        default:
          break;
      }
    }
    let status = 200;
    let payload: unknown;
    try {
      const route = table.find((rt) => rt.method === method && rt.pattern.test(url.pathname));
      if (!route) {
        // Galaxy's legacy web app answers every path and method FastAPI has no route for.
        await readBody(req);
        rec.status = 404;
        res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
        res.end(NO_ROUTE_HTML(url.pathname));
        return;
      } else {
        const key = (req.headers['x-api-key'] as string | undefined) ?? url.searchParams.get('key');
        let user: User | null = null;
        if (key) {
          user = model.userByKey(key) ?? null;
          if (!user) throw new GalaxyError(401, 401001, 'Provided API key is not valid.');
        }
        const body = parseBody(await readBody(req), req.headers['content-type']);
        const params = route.pattern.exec(url.pathname)?.slice(1).map(decodeURIComponent) ?? [];
        payload = route.handler({ user, params, query: url.searchParams, body });
      }
    } catch (err) {
      if (!(err instanceof GalaxyError)) throw err;
      status = err.status;
      payload = err.body();
    }
    if (action?.type === 'accept-then') {
      if (action.body === 'json') return sendJson(res, action.status, { err_msg: 'Injected failure after accepting', err_code: 0 });
      res.writeHead(action.status, { 'content-type': 'text/html' });
      res.end(PROXY_HTML(action.status));
      return;
    }
    if (action?.type === 'accept-then-reset') {
      rec.status = 'reset';
      req.socket.destroy();
      return;
    }
    if (action?.type === 'slow-drip') {
      const text = Buffer.from(JSON.stringify(payload));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': text.length });
      for (let i = 0; i < text.length && !res.destroyed; i++) {
        res.write(text.subarray(i, i + 1));
        await sleep(action.ms);
      }
      res.end();
      return;
    }
    sendJson(res, status, payload);
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/_emulator/')) {
      control(req, res, new URL(url, 'http://emulator')).catch((err: unknown) => {
        sendJson(res, 400, { err_msg: String(err), err_code: 400008 });
      });
      return;
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const rec: RecordedRequest = {
      seq: ++seq,
      method: req.method ?? 'GET',
      url,
      status: 'aborted',
      start: Date.now(),
      end: null,
      apiKeyHeader: req.headers['x-api-key'] !== undefined,
      fault: null,
    };
    requests.push(rec);
    res.on('close', () => {
      inFlight--;
      rec.end = Date.now();
      if (rec.status === 'aborted' && res.writableFinished) rec.status = res.statusCode;
    });
    handle(req, res, rec).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { err_msg: `Uncaught exception in exposed API method: ${String(err)}`, err_code: 500001 });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  let closed: Promise<void> | null = null;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    adminKey,
    userKey,
    model,
    faults,
    requests,
    stats: () => ({ inFlight, maxInFlight, requests: requests.length }),
    resetStats: () => {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    addFaults: (...rules) => faults.add(...rules),
    addJobFaults: (...jobFaults) => model.jobFaults.push(...jobFaults),
    close: async () => {
      if (closed) return closed;
      closed = (async () => {
      model.close();
      if (pending) clearTimeout(pending);
      if (options.stateFile) {
        try {
          writeFileSync(options.stateFile, JSON.stringify(model.snapshot()));
        } catch (err) {
          // A test may remove the state file's directory before closing the emulator.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
      })();
      return closed;
    },
  };
}
