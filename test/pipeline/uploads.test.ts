import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { GalaxyApiError, GalaxyNetworkError } from '../../src/galaxy/errors.js';
import { localCoordinator } from '../../src/ledger/coordinator.js';
import type { Confirmed } from '../../src/pipeline/confirm.js';
import { Files } from '../../src/pipeline/files.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import type { Recovery } from '../../src/pipeline/recover.js';
import type { Sent, Submitter } from '../../src/pipeline/submit.js';
import type { Route } from '../../src/pipeline/route.js';
import type { Target } from '../../src/pipeline/targets.js';
import { Quiet } from '../../src/pipeline/quiet.js';
import { filesInFlight } from '../../src/pipeline/batcher.js';
import { AHEAD_AT_ONCE } from '../../src/pipeline/ahead.js';
import { Uploads } from '../../src/pipeline/uploads.js';
import { halves } from '../../src/pipeline/request.js';
import { ROUTE, events, memoryRows, turns } from '../fakes.js';

const file = (path: string): ReadyFile => ({ path, size: 1, mtimeMs: 1, readyAt: 0 });
const refused = (status: number, errCode: number): GalaxyApiError => new GalaxyApiError({ status, errCode, errMsg: `refused ${errCode}`, retryAfterMs: null, fromGalaxy: true, method: 'POST', path: '/api/tools/fetch' });

/** The upload run with fakes of every stage around it: `send` answers each request. */
function setup(send: (files: readonly ReadyFile[]) => Promise<Sent>, o: { maxAttempts?: number; owns?: (p: string) => boolean; combines?: boolean; confirm?: (job: string | null, files: readonly ReadyFile[], shared: boolean) => 'ok' | 'split'; recover?: Recovery['recover']; resolve?: (route: Route) => Promise<Target>; outage?: () => boolean; batchSize?: number } = {}) {
  const rows = memoryRows();
  const emit = events();
  // Idle as the daemon knows it: no file queued or in flight (quiet.ts), awaited instead of counted turns.
  const quiet: Quiet = new Quiet((): boolean => files.active === 0);
  const files: Files = new Files({ ledger: rows, emit, clock: systemClock, shrank: quiet.check });
  const requests: string[][] = [];
  /** Each request's files by folder. */
  const parts: string[][][] = [];
  const blocked: string[] = [];
  const submitter: Submitter = {
    usesHistory: false,
    combines: o.combines ?? false,
    createsFirst: false,
    datasetName: (f) => f.path,
    send: (batch) => {
      const all = batch.flatMap((p) => p.files);
      requests.push(all.map((f) => f.path));
      parts.push(batch.map((p) => p.files.map((f) => f.path)));
      return send(all);
    },
  };
  const stop = new AbortController();
  const uploads = new Uploads({
    files,
    targets: { resolve: o.resolve ?? (() => Promise.resolve({ libraryId: 'L1', folderId: 'F1' })) },
    histories: { acquire: () => Promise.resolve('H1'), release: () => undefined, retire: () => undefined, reserve: () => undefined },
    submitter,
    confirmer: {
      confirm: (job, batch, route, _target, _attempt, c): Promise<Confirmed> => {
        if (o.confirm?.(job, batch, c?.shared === true) === 'split') return Promise.resolve({ kind: 'split', reason: `Galaxy job ${String(job)} ended error`, jobId: job ?? '' });
        for (const f of batch) files.ok(f, route, `D-${f.path}`, { jobId: job });
        return Promise.resolve({ kind: 'done' });
      },
    },
    recovery: { recover: o.recover ?? (() => Promise.resolve({ kind: 'resend' })), existing: () => Promise.resolve({ adopted: new Set(), running: new Map() }), acceptedJob: () => Promise.resolve(null) },
    coordinator: { ...localCoordinator(rows), ...(o.owns ? { owns: o.owns } : {}) },
    gate: { wait: () => Promise.resolve(), block: (m) => void blocked.push(m), get blocked() { return blocked[0] ?? null; } },
    onFailure: () => 0,
    outage: () => Promise.resolve(o.outage?.() ?? false),
    clock: systemClock,
    signal: stop.signal,
    emit,
    random: () => 0,
    options: { batchSize: o.batchSize ?? 10, maxAttempts: o.maxAttempts ?? 8, backoff: { firstMs: 1000, capMs: 1000, jitter: false }, lingerMs: 0, rebuild: false },
  });
  return { rows, emit, files, uploads, requests, parts, blocked, stop, done: () => quiet.wait() };
}

const datasets = (ids: string[]): Promise<Sent> => Promise.resolve({ kind: 'datasets', ids: new Map(ids.map((p) => [p, `D-${p}`])) });

describe('Uploads: the run of a batch (fakes, fake timers)', () => {
  it('looks up a settling file\'s folder ahead once per folder, and leaves a lookup that failed to the upload', async () => {
    const looked: string[] = [];
    const s = setup((batch) => datasets(batch.map((f) => f.path)), {
      resolve: (route) => (looked.push(route.folder.join('/')), looked.length === 1 ? Promise.reject(new Error('Galaxy down')) : Promise.resolve({ libraryId: 'L1', folderId: 'F2' })),
    });
    const other: Route = { ...ROUTE, folder: ['other'] };
    s.uploads.prepare(ROUTE);
    s.uploads.prepare(ROUTE);
    await turns(5);
    s.uploads.prepare(ROUTE); // its lookup failed: not tried again ahead
    s.uploads.prepare(other);
    s.uploads.prepare(other);
    await turns(5);

    assert.deepEqual(looked, [ROUTE.folder.join('/'), 'other']);
  });

  it(`looks up at most AHEAD_AT_ONCE (${AHEAD_AT_ONCE}) folders ahead at a time: a backlog into many new folders does not queue its requests behind all their creations`, async () => {
    const pending: (() => void)[] = [];
    const looked: string[] = [];
    const s = setup((batch) => datasets(batch.map((f) => f.path)), {
      resolve: (route) => (looked.push(route.folder.join('/')), new Promise<Target>((r) => pending.push(() => r({ libraryId: 'L1', folderId: 'F2' })))),
    });
    const route = (i: number): Route => ({ ...ROUTE, folder: [`run${i}`] });
    for (let i = 0; i < AHEAD_AT_ONCE + 10; i++) s.uploads.prepare(route(i));
    assert.equal(looked.length, AHEAD_AT_ONCE);
    pending.shift()?.();
    await turns(5);
    s.uploads.prepare(route(AHEAD_AT_ONCE + 5)); // left out before: looked up now that one ended
    s.uploads.prepare(route(AHEAD_AT_ONCE + 6));
    assert.deepEqual(looked.slice(AHEAD_AT_ONCE), [`run${AHEAD_AT_ONCE + 5}`]);
    for (const p of pending.splice(0)) p();
    await turns(5);
  });

  it('a refused key met by a lookup ahead closes the gate at once, and no lookup goes ahead while it is closed', async () => {
    const looked: string[] = [];
    const refused = new GalaxyApiError({ status: 401, errCode: null, errMsg: 'Provided API key is not valid.', retryAfterMs: null, fromGalaxy: true, method: 'GET', path: '/api/libraries' });
    const s = setup((batch) => datasets(batch.map((f) => f.path)), { resolve: (route) => (looked.push(route.folder.join('/')), Promise.reject(refused)) });
    s.uploads.prepare({ ...ROUTE, folder: ['run1'] });
    await turns(5);
    s.uploads.prepare({ ...ROUTE, folder: ['run2'] });
    await turns(5);

    assert.deepEqual(s.blocked, ['401 Provided API key is not valid.']);
    assert.deepEqual(looked, ['run1'], 'none ahead while the gate is closed');
  });

  it('a backlog at batch_size 2,500: two requests on their way at once (the next job queued in Galaxy while one runs), the third when one ends', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const answers: (() => void)[] = [];
    const s = setup((batch) => new Promise<Sent>((resolve) => answers.push(() => void resolve({ kind: 'datasets', ids: new Map(batch.map((f) => [f.path, `D-${f.path}`])) }))), { batchSize: 2_500 });
    for (let i = 0; i < 7_500; i++) s.uploads.add(file(`f${i}`), ROUTE);
    t.mock.timers.tick(0);
    await turns(10);
    assert.equal(s.requests.length, 2, 'two full requests sent, the third waiting');
    answers.shift()?.();
    await turns(10);
    t.mock.timers.tick(0);
    await turns(10);
    assert.equal(s.requests.length, 3, 'the third sent once one ended');
    for (const answer of answers.splice(0)) answer();
    await s.done();
    assert.deepEqual(s.requests.map((r) => r.length), [2_500, 2_500, 2_500]);
    assert.deepEqual([filesInFlight(100), filesInFlight(2_500), filesInFlight(10_000)], [2_500, 5_000, 5_000], 'two requests\' files, from 2,500 to 5,000');
  });

  it('sends the files ready together as one request and records each ok', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup((batch) => datasets(batch.map((f) => f.path)));
    s.uploads.add(file('a'), ROUTE);
    s.uploads.add(file('b'), ROUTE);
    t.mock.timers.tick(0);
    await s.done();

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
    await s.done();

    assert.deepEqual(s.requests, [['a', 'bad', 'c', 'd'], ['a', 'bad'], ['c', 'd'], ['a'], ['bad']]);
    assert.equal(s.rows.get('bad')?.state, 'failed');
    assert.match(String(s.rows.get('bad')?.lastError), /refused 400008/);
    assert.deepEqual(['a', 'c', 'd'].map((p) => s.rows.get(p)?.state), ['ok', 'ok', 'ok']);
    assert.equal(s.emit.of('upload.split').length, 2);
    assert.deepEqual(s.emit.of('upload.ceiling'), [], 'a 400 says nothing of the request\'s size');
  });

  it("a request the proxy refuses as too large (413) lowers the ceiling to half its files: later requests hold at most that many", async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const tooLarge = new GalaxyApiError({ status: 413, errCode: null, errMsg: '413 Request Entity Too Large', retryAfterMs: null, fromGalaxy: false, method: 'POST', path: '/api/tools/fetch' });
    const s = setup((batch) => (batch.length > 3 ? Promise.reject(tooLarge) : datasets(batch.map((f) => f.path))), { batchSize: 10 });
    for (const p of ['a', 'b', 'c', 'd', 'e']) s.uploads.add(file(p), ROUTE);
    t.mock.timers.tick(0);
    await s.done();
    assert.deepEqual(s.requests, [['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c'], ['d', 'e']], 'the refused request in halves');
    assert.deepEqual(s.emit.of('upload.ceiling').map((e) => [e.refused, e.ceiling, e.batch_size]), [[5, 2, 10]]);
    for (const p of ['f', 'g', 'h', 'i', 'j']) s.uploads.add(file(p), ROUTE);
    t.mock.timers.tick(0);
    await s.done();

    assert.deepEqual(s.requests.slice(3), [['f', 'g'], ['h', 'i'], ['j']], 'at most 2 files a request (3 would go): the ceiling, not batch_size');
    assert.equal(s.emit.of('upload.ceiling').length, 1);
    assert.deepEqual([...'abcdefghij'].map((p) => s.rows.get(p)?.state), Array(10).fill('ok'));
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

  it('Galaxy down as a whole (a restart, an outage): the files wait as long as it lasts, their attempts not counted; then each is sent and ok', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let calls = 0;
    const unreachable = (): GalaxyNetworkError => new GalaxyNetworkError({ failure: 'refused', method: 'POST', path: '/api/tools/fetch', detail: 'ECONNREFUSED', cause: null });
    const s = setup((batch) => (++calls <= 5 ? Promise.reject(unreachable()) : datasets(batch.map((f) => f.path))), { maxAttempts: 3, outage: () => calls <= 5 });
    s.uploads.add(file('a'), ROUTE);
    t.mock.timers.tick(0);
    for (let i = 0; i < 8; i++) {
      await turns(30);
      t.mock.timers.tick(1000);
    }
    await turns(30);

    assert.equal(s.requests.length, 6, 'five while Galaxy was down, past max_attempts = 3, then the one that went');
    assert.equal(s.rows.get('a')?.state, 'ok');
    assert.equal(s.rows.get('a')?.attempts, 1, 'only the attempt that reached Galaxy counts');
    assert.ok(s.emit.of('upload.retry').every((e) => /Galaxy is down: the attempt does not count/.test(e.reason)), 'each wait said, with why it does not count');
  });

  it('a folder that cannot be looked up while Galaxy is down waits for Galaxy; while Galaxy answers, it fails at max_attempts', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const unreachable = (): GalaxyNetworkError => new GalaxyNetworkError({ failure: 'refused', method: 'GET', path: '/api/folders/F1/contents', detail: 'ECONNREFUSED', cause: null });
    let looks = 0;
    const down = setup((batch) => datasets(batch.map((f) => f.path)), { maxAttempts: 3, outage: () => looks <= 5, resolve: () => (++looks <= 5 ? Promise.reject(unreachable()) : Promise.resolve({ libraryId: 'L1', folderId: 'F1' })) });
    let tries = 0;
    const answering = setup((batch) => datasets(batch.map((f) => f.path)), { maxAttempts: 3, outage: () => false, resolve: () => (++tries, Promise.reject(unreachable())) });
    down.uploads.add(file('a'), ROUTE);
    answering.uploads.add(file('b'), ROUTE);
    t.mock.timers.tick(0);
    for (let i = 0; i < 8; i++) {
      await turns(30);
      t.mock.timers.tick(1000);
    }
    await turns(30);

    assert.equal(down.rows.get('a')?.state, 'ok', 'looked up again once Galaxy was back, past max_attempts = 3');
    assert.equal(answering.rows.get('b')?.state, 'failed');
    assert.equal(tries, 3);
    assert.match(String(answering.rows.get('b')?.lastError), /^cannot find or create library .*ECONNREFUSED/);
  });

  it('sends nothing of a file another replica took over meanwhile', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup((batch) => datasets(batch.map((f) => f.path)), { owns: (p) => p !== 'theirs' });
    s.uploads.add(file('mine'), ROUTE);
    s.uploads.add(file('theirs'), ROUTE);
    t.mock.timers.tick(0);
    await s.done();

    assert.deepEqual(s.requests, [['mine']]);
    assert.equal(s.files.has('theirs'), false);
  });

  it('fetch: files of several folders ready together go as one request, a part per folder, each confirmed in its folder', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const confirmed: string[][] = [];
    const s = setup(() => Promise.resolve({ kind: 'job', jobId: 'J1' }), { combines: true, confirm: (_job, batch) => (confirmed.push(batch.map((f) => f.path)), 'ok') });
    s.uploads.add(file('a1'), { ...ROUTE, folder: ['a'] });
    s.uploads.add(file('b1'), { ...ROUTE, folder: ['b'] });
    s.uploads.add(file('a2'), { ...ROUTE, folder: ['a'] });
    t.mock.timers.tick(0);
    await s.done();

    assert.deepEqual(s.parts, [[['a1', 'a2'], ['b1']]]);
    assert.deepEqual(confirmed, [['a1', 'a2'], ['b1']]);
    assert.deepEqual(['a1', 'a2', 'b1'].map((p) => [s.rows.get(p)?.state, s.rows.get(p)?.jobId]), [['ok', 'J1'], ['ok', 'J1'], ['ok', 'J1']]);
  });

  it('fetch: a job of two folders that failed as a whole sends each folder again on its own, even a folder of one file', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let jobs = 0;
    const s = setup(() => Promise.resolve({ kind: 'job', jobId: `J${++jobs}` }), {
      combines: true,
      // The shared job fails as a whole; each folder's own job is fine.
      confirm: (_job, _batch, shared) => (shared ? 'split' : 'ok'),
    });
    s.uploads.add(file('a1'), { ...ROUTE, folder: ['a'] });
    s.uploads.add(file('b1'), { ...ROUTE, folder: ['b'] });
    t.mock.timers.tick(0);
    await s.done();

    assert.deepEqual(s.parts, [[['a1'], ['b1']], [['a1']], [['b1']]], 'together, then each folder alone');
    assert.deepEqual(['a1', 'b1'].map((p) => [s.rows.get(p)?.state, s.rows.get(p)?.jobId, s.rows.get(p)?.attempts]), [['ok', 'J2', 1], ['ok', 'J3', 1]], 'each ok from its own job; the shared request that failed as a whole does not count');
    assert.deepEqual(s.emit.of('upload.split').map((e) => e.folder), ['/a', '/b']);
    assert.deepEqual(s.emit.of('upload.ceiling'), [], 'a job failed as a whole says nothing of the request\'s size');
  });

  it('fetch: a job of four folders that failed as a whole goes again as two requests of two folders; only the half with the bad folder is split again', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let jobs = 0;
    const holds = new Map<string, string[]>();
    const s = setup((all) => {
      const jobId = `J${++jobs}`;
      holds.set(jobId, all.map((f) => f.path));
      return Promise.resolve({ kind: 'job', jobId });
    }, {
      combines: true,
      // A job fails as a whole when it holds folder c beside another folder (c's own job is fine).
      confirm: (job, _batch, shared) => (shared && holds.get(String(job))?.includes('c1') === true ? 'split' : 'ok'),
    });
    for (const d of ['a', 'b', 'c', 'd']) s.uploads.add(file(`${d}1`), { ...ROUTE, folder: [d] });
    t.mock.timers.tick(0);
    await s.done();

    assert.deepEqual(s.parts, [[['a1'], ['b1'], ['c1'], ['d1']], [['a1'], ['b1']], [['c1'], ['d1']], [['c1']], [['d1']]], 'in halves by folders: 5 requests, where each folder alone made 5 as well at 4 folders and 101 at 100');
    assert.deepEqual(['a1', 'b1', 'c1', 'd1'].map((p) => s.rows.get(p)?.state), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(s.rows.get('a1')?.jobId, s.rows.get('b1')?.jobId, 'a and b share their second job');
  });

  it('halves: folders in two of about as many files, at least one each side; one folder\'s files in two', () => {
    const g = (name: string, n: number) => ({ route: { ...ROUTE, folder: [name] }, files: Array.from({ length: n }, (_, i) => file(`${name}${i}`)) });
    const shape = (hs: ReturnType<typeof halves>) => hs.map((h) => h.map((x) => `${x.route.folder[0]}:${x.files.length}`));
    assert.deepEqual(shape(halves([g('a', 100), g('b', 100), g('c', 100), g('d', 100)])), [['a:100', 'b:100'], ['c:100', 'd:100']]);
    assert.deepEqual(shape(halves([g('a', 10), g('b', 1), g('c', 1)])), [['a:10'], ['b:1', 'c:1']]);
    assert.deepEqual(shape(halves([g('a', 1), g('b', 30)])), [['a:1'], ['b:30']]);
    assert.deepEqual(shape(halves([g('a', 5)])), [['a:3'], ['a:2']]);
    assert.deepEqual(shape(halves([g('a', 1)])), [['a:1']]);
  });

  it('after a restart, one request of two folders is looked for once, and each folder confirmed with the job found', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const looked: string[][] = [];
    const confirmed: string[][] = [];
    const s = setup(() => Promise.reject(new Error('nothing is sent')), {
      combines: true,
      recover: (files) => (looked.push(files.map((f) => f.path)), Promise.resolve({ kind: 'job', jobId: 'J7' })),
      confirm: (job, batch) => (confirmed.push([String(job), ...batch.map((f) => f.path)]), 'ok'),
    });
    const row = (path: string) => ({ path, size: 1, mtimeMs: 1, state: 'submitted' as const, attempts: 1, lastError: null, libraryId: 'L1', folderId: 'F1', datasetId: null, jobId: null, historyId: 'H1', submittedAt: 1000, checksum: null, verified: false, updatedAt: 1000 });
    for (const r of [row('a/1'), row('b/1'), row('a/2')]) s.rows.put(r);
    s.uploads.resume([row('a/1'), row('b/1'), row('a/2')], (p) => ({ ...ROUTE, folder: [p.split('/')[0] ?? ''] }));
    await s.done();

    assert.deepEqual(looked, [['a/1', 'a/2', 'b/1']], 'one look for the whole request');
    assert.deepEqual(confirmed, [['J7', 'a/1', 'a/2'], ['J7', 'b/1']]);
    assert.deepEqual(s.requests, [], 'nothing sent again');
  });
});
