import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { FaultAction, FaultRule } from '../../emulator/faults.js';
import type { Emulator } from '../../emulator/server.js';
import { emulator, runCli, spawnCli, tempDir, waitFor } from '../helpers.js';
import { ini } from '../integration/harness.js';
import type { Sections } from '../integration/harness.js';

// Answers the daemon cannot use, for good (not `times: 1`): a route this Galaxy lacks (its
// 404 "No route for" page), a method it does not allow (405), a feature it does not
// implement (501), JSON of another shape. For each request the pipeline makes: one error
// line naming the request and Galaxy's version, no loop faster than the backoff, scan exits 1
// within a bounded time saying why.

const KINDS: Record<string, FaultAction> = {
  'no route': { type: 'no-route' },
  '405': { type: 'status', status: 405, body: 'json' },
  '501': { type: 'status', status: 501, body: 'json' },
  'another shape': { type: 'shape', body: { unexpected: 'shape' } },
};

interface Case {
  request: string;
  rule: Omit<FaultRule, 'action'>;
  /** Faults that lead the pipeline to this request. */
  lead?: FaultRule[];
  ini?: Sections;
  emu?: Parameters<typeof emulator>[1];
  jobFaults?: Parameters<Emulator['addJobFaults']>;
}

/** A listing of a history's jobs that names none: each job is looked at with GET /api/jobs/{id} (job-looks.ts), however the files were batched. */
const JOBS_UNLISTED: FaultRule = { method: 'GET', path: '^/api/jobs$', action: { type: 'shape', body: [] } };

const CASES: Case[] = [
  { request: 'GET /api/libraries', rule: { method: 'GET', path: '^/api/libraries$' } },
  { request: 'POST /api/libraries', rule: { method: 'POST', path: '^/api/libraries$' } },
  { request: 'POST /api/folders/{id}', rule: { method: 'POST', path: '^/api/folders/[^/]+$' } },
  { request: 'POST /api/histories', rule: { method: 'POST', path: '^/api/histories$' } },
  { request: 'POST /api/tools/fetch', rule: { method: 'POST', path: '^/api/tools/fetch$' } },
  // The history's listing leaves the job out (an empty answer), so the job is looked at on its own.
  { request: 'GET /api/jobs/{id}', rule: { method: 'GET', path: '^/api/jobs/[^/]+$' }, lead: [JOBS_UNLISTED] },
  { request: 'GET /api/folders/{id}/contents', rule: { method: 'GET', path: '^/api/folders/[^/]+/contents$' } },
  // The request's answer is lost (502 after Galaxy took it): the job is looked for in its history.
  { request: 'GET /api/jobs', rule: { method: 'GET', path: '^/api/jobs$' }, lead: [{ method: 'POST', path: '^/api/tools/fetch$', action: { type: 'accept-then', status: 502 } }] },
  { request: 'PATCH /api/libraries/datasets/{id}', rule: { method: 'PATCH', path: '^/api/libraries/datasets/' }, ini: { 'folder:d0': { tags: 'run42' }, 'folder:d1': { tags: 'run42' }, 'folder:d2': { tags: 'run42' } } },
  { request: 'GET /api/libraries/{id}/contents/{id}', rule: { method: 'GET', path: '^/api/libraries/[^/]+/contents/[^/]+$' }, jobFaults: [{ match: '.', outcome: 'dataset-error', message: 'bad file' }] },
  { request: 'POST /api/libraries/{id}/contents', rule: { method: 'POST', path: '^/api/libraries/[^/]+/contents$' }, ini: { upload: { method: 'paths' } }, emu: { allowPathPaste: true } },
];

async function setup(t: TestContext, c: Case): Promise<{ emu: Emulator; configFile: string; importDir: string }> {
  const root = tempDir(t, 'importd-unusable-');
  const importDir = path.join(root, 'import');
  // Three folders, so that requests made once per folder (its creation, its page, its datasets) are made three times.
  for (const d of ['d0', 'd1', 'd2']) {
    mkdirSync(path.join(importDir, d), { recursive: true });
    for (const f of ['a.txt', 'b.txt']) writeFileSync(path.join(importDir, d, f), `${d}/${f}\n`);
  }
  const emu = await emulator(t, { libraryImportDir: importDir, jobQueuedMs: 10, jobRunMs: 20, ...c.emu });
  const configFile = path.join(root, 'galaxy-importd.ini');
  writeFileSync(configFile, ini({
    galaxy: { url: emu.url, timeout_seconds: 5 },
    import: { dir: importDir, settle_seconds: 0.2, rescan_minutes: 0 },
    upload: { rate_per_second: 0, backoff_max_seconds: 2 },
    state: { dir: path.join(root, 'state') },
    http: { listen: '' },
  }, c.ini ?? {}));
  if (c.jobFaults) emu.addJobFaults(...c.jobFaults);
  return { emu, configFile, importDir };
}

const lines = (stdout: string): { event?: string; level?: number | string; request?: string; galaxy_version?: string; msg?: string }[] =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string });

describe('answers the daemon cannot use, for good', () => {
  let n = 0;
  for (const c of CASES) {
    // Each request meets one kind of answer; the kinds take turns, so each meets several requests.
    const [kind, action] = Object.entries(KINDS)[n++ % 4] as [string, FaultAction];
    it(`${c.request} answered ${kind}: one error line, bounded requests, scan exits 1 saying why`, async (t) => {
      const s = await setup(t, c);
      s.emu.addFaults({ ...c.rule, action }, ...(c.lead ?? []));
      const started = Date.now();

      const scan = await runCli(['--config', s.configFile, 'scan'], { env: { GALAXY_API_KEY: s.emu.adminKey } });
      const took = Date.now() - started;
      const said = lines(scan.stdout).filter((l) => l.event === 'galaxy.unusable');
      const hits = s.emu.requests.filter((r) => r.fault === action.type && new RegExp(c.rule.path ?? '').test(r.url.split('?')[0] ?? '') && r.method === c.rule.method);

      assert.equal(scan.code, 1, `${scan.stderr}\n${scan.stdout.slice(-2000)}`);
      assert.ok(took < 60_000, `scan took ${took} ms`);
      assert.match(scan.stderr, new RegExp(`Galaxy keeps answering ${c.request.replace(/[{}]/g, '\\$&')}: `));
      assert.match(scan.stderr, /that its release is one galaxy-importd supports/);
      assert.equal(said.length, 1, `one error line, not ${said.length}`);
      assert.equal(said[0]?.request, c.request);
      assert.equal(said[0]?.galaxy_version, '26.1.2');
      assert.equal(said[0]?.level, 'error');
      assert.ok(hits.length >= 3 && hits.length <= 8, `${c.request} was asked ${hits.length} times`);
    });
  }

  it('run: /readyz names the request while the daemon is paused; nothing is sent there meanwhile', async (t) => {
    const c: Case = { request: 'GET /api/jobs/{id}', rule: { method: 'GET', path: '^/api/jobs/[^/]+$' } };
    const s = await setup(t, c);
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    writeFileSync(s.configFile, ini({
      galaxy: { url: s.emu.url, timeout_seconds: 5 },
      import: { dir: s.importDir, settle_seconds: 0.2, rescan_minutes: 0 },
      upload: { rate_per_second: 0, backoff_max_seconds: 2 },
      state: { dir: path.join(path.dirname(s.configFile), 'state') },
      http: { listen: `127.0.0.1:${port}` },
    }));
    s.emu.addFaults({ ...c.rule, action: { type: 'no-route' } }, JOBS_UNLISTED);

    const run = spawnCli(['--config', s.configFile, 'run'], { GALAXY_API_KEY: s.emu.adminKey });
    t.after(() => run.child.kill('SIGKILL'));
    await waitFor(() => lines(run.stdout()).find((l) => l.event === 'galaxy.unusable'), 30_000, 'the error line');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    const body = await ready.text();
    const before = s.emu.requests.filter((r) => /^\/api\/jobs\/[^/?]+/.test(r.url)).length;
    await new Promise((r) => setTimeout(r, 5000));
    const after = s.emu.requests.filter((r) => /^\/api\/jobs\/[^/?]+/.test(r.url)).length;
    run.child.kill('SIGTERM');
    const exit = await run.exited;

    assert.equal(ready.status, 503);
    assert.match(body, /Galaxy's answers cannot be used: GET \/api\/jobs\/\{id\}: Galaxy answered 404/);
    assert.match(body, /No route for \/api\/jobs\//);
    assert.equal(after, before, 'no request to the route while paused');
    assert.equal(lines(run.stdout()).filter((l) => l.event === 'galaxy.unusable').length, 1);
    assert.equal(exit.code, 0);
  });
});
