import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { MockAgent } from 'undici';
import { systemClock } from '../../src/clock.js';
import { GalaxyClient } from '../../src/galaxy/client.js';
import { GalaxyApiError, GalaxyNetworkError, GalaxyResponseError } from '../../src/galaxy/errors.js';
import { parseRetryAfter, summarise } from '../../src/galaxy/http.js';
import { emulator, tempDir, waitFor } from '../helpers.js';
import type { Emulator } from '../../emulator/server.js';

function client(t: TestContext, emu: Emulator, opts: { timeoutMs?: number; maxBodyBytes?: number; key?: string } = {}): GalaxyClient {
  const c = new GalaxyClient({
    url: emu.url, apiKey: opts.key ?? emu.adminKey, timeoutMs: opts.timeoutMs ?? 5000, clock: systemClock, ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  });
  t.after(() => c.close());
  return c;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('GalaxyClient against the emulator', () => {
  it('creates a library, a folder, fetches a file into it and confirms the job', async (t) => {
    const importDir = tempDir(t);
    mkdirSync(path.join(importDir, 'run1'));
    const bed = 'chr1\t1\t100\n';
    writeFileSync(path.join(importDir, 'run1', 'reads.bed'), bed);
    const emu = await emulator(t, { libraryImportDir: importDir });
    const c = client(t, emu);

    const lib = await c.createLibrary('Imports', 'from the daemon');
    const folder = await c.createFolder(lib.root_folder_id, 'run1');
    const history = await c.createHistory('galaxy-importd');
    const { jobId } = await c.fetchToFolders({
      historyId: history.id,
      targets: [{ folderId: folder.id, items: [{ serverDir: 'run1/reads.bed', name: 'reads.bed', ext: 'auto', dbkey: 'hg38', linkDataOnly: false }] }],
    });
    const job = await waitFor(async () => {
      const j = await c.showJob(jobId);
      return j.state === 'ok' || j.state === 'error' ? j : undefined;
    });
    const items = await c.folderContents(folder.id);
    const contents = await c.libraryContents(lib.id);

    assert.equal(job.state, 'ok');
    assert.deepEqual(items.map((i) => [i.name, i.state, i.raw_size]), [['reads.bed', 'ok', Buffer.byteLength(bed)]]);
    assert.deepEqual(contents.map((e) => e.name), ['/', '/run1', '/run1/reads.bed']);
    assert.deepEqual((await c.listLibraries()).map((l) => l.name), ['Imports']);
  });

  it('sends the key only in the x-api-key header, never in a URL', async (t) => {
    const emu = await emulator(t);
    const c = client(t, emu);

    await c.currentUser();
    await c.listLibraries();
    await c.configuration(['is_admin_user']);

    assert.ok(emu.requests.length >= 3);
    for (const r of emu.requests) {
      assert.equal(r.apiKeyHeader, true);
      assert.equal(r.url.includes(emu.adminKey), false, r.url);
    }
  });

  it('follows folder pagination to the end, in both of Galaxy\'s pagination styles', async (t) => {
    for (const pagination of ['uniform', 'newest'] as const) {
      const importDir = tempDir(t);
      mkdirSync(path.join(importDir, 'many'));
      for (let i = 0; i < 23; i++) writeFileSync(path.join(importDir, 'many', `f${i}.txt`), `${i}\n`);
      const emu = await emulator(t, { libraryImportDir: importDir, pagination });
      const c = client(t, emu);
      const lib = await c.createLibrary('L');
      for (let i = 0; i < 12; i++) await c.createFolder(lib.root_folder_id, `sub${i}`);
      // The legacy import of a library_import_dir subdirectory (the seed's upload-dir).
      await c.post(`/api/libraries/${lib.id}/contents`, { folder_id: lib.root_folder_id, server_dir: 'many', file_type: 'txt', dbkey: '?', upload_option: 'upload_directory', create_type: 'file' });
      emu.resetStats();

      const items = await c.folderContents(lib.root_folder_id, { pageSize: 5 });

      assert.equal(items.filter((i) => i.type === 'folder').length, 12, pagination);
      assert.equal(items.filter((i) => i.type === 'file').length, 23, pagination);
      assert.ok(emu.requests.length >= 3, `${pagination}: ${emu.requests.length} pages`);
    }
  });

  it('turns a Galaxy error body into GalaxyApiError with status, err_code and err_msg', async (t) => {
    const emu = await emulator(t);
    const c = client(t, emu, { key: emu.userKey });

    const err = await rejection(c.createLibrary('nope'));

    assert.ok(err instanceof GalaxyApiError);
    assert.equal(err.status, 403);
    assert.equal(err.errCode, 403006);
    assert.equal(err.fromGalaxy, true);
    assert.equal(err.code, 'GALAXY_HTTP_ERROR');
  });

  it('turns a proxy\'s HTML 502 into GalaxyApiError that is not from Galaxy, with Retry-After', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/version$', times: 1, action: { type: 'status', status: 503, retryAfter: 3 } });
    const c = client(t, emu);

    const err = await rejection(c.version());

    assert.ok(err instanceof GalaxyApiError);
    assert.equal(err.status, 503);
    assert.equal(err.errCode, null);
    assert.equal(err.fromGalaxy, false);
    assert.equal(err.retryAfterMs, 3000);
    assert.match(err.errMsg, /503 Service Temporarily Unavailable.*text\/html/);
  });

  it('turns invalid JSON, an empty body, an unexpected shape and a huge body into GalaxyResponseError', async (t) => {
    const emu = await emulator(t);
    emu.addFaults(
      { path: '^/api/version$', times: 1, action: { type: 'invalid-json' } },
      { path: '^/api/libraries$', times: 1, action: { type: 'shape', body: { libraries: [] } } },
      { path: '^/api/histories$', times: 1, action: { type: 'huge', bytes: 200_000 } },
      { path: '^/api/whoami$', times: 1, action: { type: 'status', status: 200, body: 'empty' } },
    );
    const c = client(t, emu, { maxBodyBytes: 100_000 });

    const errors = [await rejection(c.version()), await rejection(c.listLibraries()), await rejection(c.get('/api/histories')), await rejection(c.get('/api/whoami'))];

    for (const err of errors) assert.ok(err instanceof GalaxyResponseError, String(err));
    assert.match(String((errors[1] as Error).message), /expected a JSON array/);
    assert.match(String((errors[2] as Error).message), /larger than 100000 bytes/);
    assert.match(String((errors[3] as Error).message), /empty body/);
  });

  it('reports a reset as a network error that may have reached Galaxy, and a refused connection as one that did not', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/version$', times: 1, action: { type: 'accept-then-reset' } });
    const c = client(t, emu);
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const refusedClient = new GalaxyClient({ url: `http://127.0.0.1:${closed}`, apiKey: 'k', timeoutMs: 2000, clock: systemClock });
    t.after(() => refusedClient.close());

    const reset = await rejection(c.version());
    const refused = await rejection(refusedClient.version());

    assert.ok(reset instanceof GalaxyNetworkError);
    assert.equal(reset.failure, 'reset');
    assert.equal(reset.mayHaveArrived, true);
    assert.ok(refused instanceof GalaxyNetworkError);
    assert.equal(refused.failure, 'refused');
    assert.equal(refused.mayHaveArrived, false);
  });

  it('gives up on a request that hangs after its timeout', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/version$', times: 1, action: { type: 'hang' } });
    const c = client(t, emu, { timeoutMs: 300 });

    const started = Date.now();
    const err = await rejection(c.version());

    assert.ok(err instanceof GalaxyNetworkError);
    assert.equal(err.failure, 'timeout');
    assert.ok(Date.now() - started < 3000);
  });

  it('reads slow-drip bodies to the end', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/version$', times: 1, action: { type: 'slow-drip', ms: 2 } });
    const c = client(t, emu);

    const v = await c.version();

    assert.equal(v.version_major, '26.1');
  });
});

describe('GalaxyClient with a MockAgent', () => {
  it('posts fetch targets with the F prefix removed and link_data_only as a boolean', async (t) => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    t.after(() => agent.close());
    let sent: unknown;
    agent.get('http://galaxy.test').intercept({ path: '/galaxy/api/tools/fetch', method: 'POST' }).reply(200, (opts) => {
      sent = JSON.parse(opts.body as string);
      return { jobs: [{ id: 'abc', state: 'new' }] };
    });
    const c = new GalaxyClient({ url: 'http://galaxy.test/galaxy/', apiKey: 'k', dispatcher: agent, clock: systemClock });

    const { jobId } = await c.fetchToFolders({ historyId: 'h1', targets: [{ folderId: 'F0123456789abcdef', items: [{ serverDir: 'a/b.txt', name: 'b.txt', ext: 'txt', dbkey: '?', linkDataOnly: true }] }] });

    assert.equal(jobId, 'abc');
    assert.deepEqual(sent, {
      history_id: 'h1',
      targets: [{ destination: { type: 'library_folder', library_folder_id: '0123456789abcdef' }, items: [{ src: 'server_dir', server_dir: 'a/b.txt', name: 'b.txt', ext: 'txt', dbkey: '?', link_data_only: true }] }],
    });
  });

  it('counts a Retry-After date from its own clock, not the system\'s', async (t) => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    t.after(() => agent.close());
    const pool = agent.get('http://galaxy.test');
    for (let i = 0; i < 2; i++) {
      pool.intercept({ path: '/api/version', method: 'GET' }).reply(503, { err_msg: 'busy', err_code: 0 }, { headers: { 'retry-after': 'Thu, 01 Jan 2026 00:01:00 GMT' } });
    }
    const at = (iso: string): GalaxyClient => new GalaxyClient({ url: 'http://galaxy.test', apiKey: 'k', dispatcher: agent, clock: { now: () => Date.parse(iso) } });

    const early = await rejection(at('2026-01-01T00:00:15Z').version());
    const late = await rejection(at('2026-01-01T00:00:50Z').version());

    assert.ok(early instanceof GalaxyApiError);
    assert.equal(early.retryAfterMs, 45_000);
    assert.ok(late instanceof GalaxyApiError);
    assert.equal(late.retryAfterMs, 10_000);
  });
});

describe('HTTP helpers', () => {
  it('parses Retry-After in seconds and as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');

    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter(undefined, now), null);
    assert.equal(parseRetryAfter('soon', now), null);
  });

  it('counts a Retry-After date from the now it is given, and a date already past as 0', () => {
    const date = 'Thu, 01 Jan 2026 00:01:00 GMT';

    assert.equal(parseRetryAfter(date, Date.parse('2026-01-01T00:00:00Z')), 60_000);
    assert.equal(parseRetryAfter(date, Date.parse('2026-01-01T00:00:59Z')), 1_000);
    assert.equal(parseRetryAfter(date, Date.parse('2026-01-01T00:02:00Z')), 0);
    assert.equal(parseRetryAfter(['5', date], Date.parse('2026-01-01T00:02:00Z')), 5_000);
  });

  it('summarises an HTML page by its title', () => {
    assert.equal(summarise('<html><head><title>502 Bad Gateway</title></head></html>', 'text/html; charset=utf-8'), '"502 Bad Gateway" (text/html)');
    assert.equal(summarise('', ''), 'an empty body (no content type)');
  });
});
