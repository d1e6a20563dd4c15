import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { GalaxyApiError } from '../../src/galaxy/errors.js';
import { localCoordinator } from '../../src/ledger/coordinator.js';
import type { Confirmed } from '../../src/pipeline/confirm.js';
import { Files } from '../../src/pipeline/files.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import type { Sent, Submitter } from '../../src/pipeline/submit.js';
import { Uploads } from '../../src/pipeline/uploads.js';
import { ROUTE, events, memoryRows, turns } from '../fakes.js';

const file = (path: string): ReadyFile => ({ path, size: 1, mtimeMs: 1, readyAt: 0 });
const refused = (status: number, errCode: number): GalaxyApiError => new GalaxyApiError({ status, errCode, errMsg: `refused ${errCode}`, retryAfterMs: null, fromGalaxy: true, method: 'POST', path: '/api/tools/fetch' });

/** The upload run with fakes of every stage around it: `send` answers each request. */
function setup(send: (files: readonly ReadyFile[]) => Promise<Sent>, o: { maxAttempts?: number; owns?: (p: string) => boolean } = {}) {
  const rows = memoryRows();
  const emit = events();
  const files = new Files({ ledger: rows, emit, clock: systemClock });
  const requests: string[][] = [];
  const blocked: string[] = [];
  const submitter: Submitter = {
    usesHistory: false,
    createsFirst: false,
    datasetName: (f) => f.path,
    send: (batch) => {
      requests.push(batch.map((f) => f.path));
      return send(batch);
    },
  };
  const stop = new AbortController();
  const uploads = new Uploads({
    files,
    targets: { resolve: () => Promise.resolve({ libraryId: 'L1', folderId: 'F1' }) },
    histories: { acquire: () => Promise.resolve('H1'), release: () => undefined, retire: () => undefined, reserve: () => undefined },
    submitter,
    confirmer: {
      confirm: (_job, batch, route): Promise<Confirmed> => {
        for (const f of batch) files.ok(f, route, `D-${f.path}`, { jobId: null });
        return Promise.resolve({ kind: 'done' });
      },
    },
    recovery: { recover: () => Promise.resolve({ kind: 'resend' }), existing: () => Promise.resolve({ adopted: new Set(), running: new Map() }), acceptedJob: () => Promise.resolve(null) },
    coordinator: { ...localCoordinator(rows), ...(o.owns ? { owns: o.owns } : {}) },
    gate: { wait: () => Promise.resolve(), block: (m) => void blocked.push(m) },
    onFailure: () => 0,
    clock: systemClock,
    signal: stop.signal,
    emit,
    random: () => 0,
    options: { batchSize: 10, maxAttempts: o.maxAttempts ?? 8, backoff: { firstMs: 1000, capMs: 1000, jitter: false }, lingerMs: 0, rebuild: false },
  });
  return { rows, emit, files, uploads, requests, blocked, stop };
}

const datasets = (ids: string[]): Promise<Sent> => Promise.resolve({ kind: 'datasets', ids: new Map(ids.map((p) => [p, `D-${p}`])) });

describe('Uploads: the run of a batch (fakes, fake timers)', () => {
  it('sends the files ready together as one request and records each ok', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup((batch) => datasets(batch.map((f) => f.path)));
    s.uploads.add(file('a'), ROUTE);
    s.uploads.add(file('b'), ROUTE);
    t.mock.timers.tick(0);
    await turns(30);

    assert.deepEqual(s.requests, [['a', 'b']]);
    assert.equal(s.rows.get('a')?.state, 'ok');
    assert.equal(s.rows.get('b')?.state, 'ok');
    assert.equal(s.files.active, 0);
  });

  it('splits a batch Galaxy refuses for good, down to the one bad file, which alone fails', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup((batch) => (batch.some((f) => f.path === 'bad') ? Promise.reject(refused(400, 400008)) : datasets(batch.map((f) => f.path))));
    for (const p of ['a', 'bad', 'c', 'd']) s.uploads.add(file(p), ROUTE);
    t.mock.timers.tick(0);
    await turns(100);

    assert.deepEqual(s.requests, [['a', 'bad', 'c', 'd'], ['a', 'bad'], ['c', 'd'], ['a'], ['bad']]);
    assert.equal(s.rows.get('bad')?.state, 'failed');
    assert.match(String(s.rows.get('bad')?.lastError), /refused 400008/);
    assert.deepEqual(['a', 'c', 'd'].map((p) => s.rows.get(p)?.state), ['ok', 'ok', 'ok']);
    assert.equal(s.emit.of('upload.split').length, 2);
  });

  it('a refused key pauses at the gate and the attempt does not count', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let calls = 0;
    const s = setup((batch) => (++calls === 1 ? Promise.reject(refused(401, 401001)) : datasets(batch.map((f) => f.path))));
    s.uploads.add(file('a'), ROUTE);
    t.mock.timers.tick(0);
    await turns(30);

    assert.equal(s.blocked.length, 1);
    assert.equal(s.rows.get('a')?.state, 'ok');
    assert.equal(s.rows.get('a')?.attempts, 1, 'only the attempt that went through counts');
  });

  it('retries a transient failure after the backoff, saying so, and gives up after max_attempts', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup(() => Promise.reject(new GalaxyApiError({ status: 503, errCode: null, errMsg: 'busy', retryAfterMs: null, fromGalaxy: false, method: 'POST', path: '/api/tools/fetch' })), { maxAttempts: 3 });
    s.uploads.add(file('a'), ROUTE);
    t.mock.timers.tick(0);
    for (let i = 0; i < 5; i++) {
      await turns(30);
      t.mock.timers.tick(1000);
    }
    await turns(30);

    assert.equal(s.requests.length, 3);
    assert.deepEqual(s.emit.of('upload.retry').map((e) => e.delay_ms), [1000, 1000, 1000]);
    assert.equal(s.rows.get('a')?.state, 'failed');
    assert.match(String(s.rows.get('a')?.lastError), /gave up after 3 attempts/);
  });

  it('sends nothing of a file another replica took over meanwhile', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup((batch) => datasets(batch.map((f) => f.path)), { owns: (p) => p !== 'theirs' });
    s.uploads.add(file('mine'), ROUTE);
    s.uploads.add(file('theirs'), ROUTE);
    t.mock.timers.tick(0);
    await turns(30);

    assert.deepEqual(s.requests, [['mine']]);
    assert.equal(s.files.has('theirs'), false);
  });
});
