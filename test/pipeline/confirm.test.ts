import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { FolderItem, JobSummary } from '../../src/galaxy/client.js';
import { GalaxyApiError } from '../../src/galaxy/errors.js';
import { Metrics } from '../../src/observe/metrics.js';
import { Confirmer, FIRST_LOOK_FREE_FILES, FIRST_LOOK_MS_PER_FILE, LATE_SHARE, LONGEST_PAUSE_MS, LOOKS_AT_CAP_PER_FILE, lookPause, pollFor } from '../../src/pipeline/confirm.js';
import { PIPELINE_TIMING } from '../../src/pipeline/pipeline.js';
import { Files } from '../../src/pipeline/files.js';
import type { StoredVerdict } from '../../src/pipeline/stored-hashes.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { fanOut } from '../../src/observe/events.js';
import { ROUTE, events, memoryRows, metricsSource, turns } from '../fakes.js';

const target = { libraryId: 'L1', folderId: 'F1' };
const file = (path: string): ReadyFile => ({ path, size: 3, mtimeMs: 1, readyAt: 0 });
const item = (id: string, name: string, state: string): FolderItem => ({ id, name, type: 'file', state, raw_size: 3 });
const gateway504 = (): GalaxyApiError => new GalaxyApiError({ status: 504, errCode: null, errMsg: 'Gateway Timeout', retryAfterMs: null, fromGalaxy: false, method: 'GET', path: '/api/jobs/J1' });

type Answers = {
  jobs: (() => Promise<JobSummary>)[]; items: FolderItem[]; recent?: FolderItem[]; unrestricted?: Map<string, string | null>; stderr?: string; info?: string; stored?: Map<string, StoredVerdict>;
};

function setup(answers: Answers, signal = new AbortController().signal, jobTimeoutMs = 60_000) {
  const rows = memoryRows();
  const emit = events();
  const metrics = new Metrics(metricsSource());
  const all = fanOut(emit, (e) => metrics.observe(e));
  const files = new Files({ ledger: rows, emit: all, clock: systemClock });
  let polls = 0;
  const listings = { whole: 0, recent: 0 };
  const deleted: string[] = [];
  const ended: string[] = [];
  const changed: string[] = [];
  const described: string[] = [];
  const confirmer = new Confirmer({
    jobs: { look: () => (answers.jobs[Math.min(polls++, answers.jobs.length - 1)] as () => Promise<JobSummary>)() },
    client: {
      folderContents: () => (listings.whole++, Promise.resolve(answers.items)),
      recentDatasets: () => (listings.recent++, Promise.resolve([...(answers.recent ?? answers.items)])),
    },
    files,
    details: { info: () => Promise.resolve(answers.info ?? ''), stderr: () => Promise.resolve(answers.stderr ?? ': boom'), finish: () => Promise.resolve(answers.unrestricted ?? new Map<string, string | null>()), describe: (_f, id, info) => (described.push(`${id} ${info}`), Promise.resolve()) },
    gate: { wait: () => Promise.resolve(), block: () => undefined },
    isClaimed: () => false,
    clock: systemClock,
    signal,
    emit: all,
    jobTimeoutMs,
    // The daemon's own poll but for a first pause of 1 s.
    poll: { ...PIPELINE_TIMING.poll, firstMs: 1000 },
    afterOk: () => Promise.resolve(),
    changed: (p) => void changed.push(p),
    datasetName: (f) => path.posix.basename(f.path),
    leftovers: {
      ofFailedJob: (jobId, _at, fs) => (deleted.push(`job ${jobId}: ${fs.map((f) => f.path).join(' ')}`), Promise.resolve(0)),
      delete: (items) => (deleted.push(...items.map((i) => i.id)), Promise.resolve(items.length)),
    },
    breaker: { ended: (jobId, ok, _reason, failed = []) => void ended.push(`${jobId} ${ok ? 'ok' : 'error'}${failed.length ? ` ${failed.map((f) => f.path).join(' ')}` : ''}`) },
    ...(answers.stored ? { stored: { verifyAll: () => Promise.resolve(answers.stored ?? new Map<string, StoredVerdict>()) } } : {}),
  });
  return { rows, emit, metrics, files, confirmer, polls: () => polls, listings, deleted, ended, changed, described };
}

describe('Confirmer: finding the datasets', () => {
  const ok = () => Promise.resolve({ id: 'J1', state: 'ok', create_time: '2026-12-01T10:00:00.000000' } as JobSummary);

  it('looks at a job just sent only after the poll\'s first pause, and at a resumed one at once', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const s = setup({ jobs: [ok], items: [], recent: [item('D1', 'a.txt', 'ok')] });
    const a = file('run1/a.txt');
    s.files.queued(a, ROUTE);
    const done = s.confirmer.confirm('J1', [a], ROUTE, target, 1, { justSent: true });
    await turns();
    const before = s.polls();
    t.mock.timers.tick(999);
    await turns();
    const justBefore = s.polls();
    t.mock.timers.tick(1);
    await done;
    const resumed = setup({ jobs: [ok], items: [], recent: [item('D1', 'a.txt', 'ok')] });
    resumed.files.queued(a, ROUTE);
    void resumed.confirmer.confirm('J1', [a], ROUTE, target, 1);
    await turns();

    assert.deepEqual([before, justBefore, s.polls()], [0, 0, 1], 'one look, after the first pause (firstMs)');
    assert.equal(s.rows.get('run1/a.txt')?.state, 'ok');
    assert.equal(resumed.polls(), 1, 'a resumed job is looked at at once');
  });

  it('finds each file\'s dataset among the datasets updated since its job began, without listing the folder', async () => {
    const s = setup({ jobs: [ok], items: [], recent: [item('D2', 'b.txt', 'ok'), item('D1', 'a.txt', 'ok')] });
    const [a, b] = [file('run1/a.txt'), file('run1/b.txt')];
    s.files.queued(a, ROUTE);
    s.files.queued(b, ROUTE);

    await s.confirmer.confirm('J1', [a, b], ROUTE, target, 1);

    assert.deepEqual(s.listings, { whole: 0, recent: 1 });
    assert.equal(s.rows.get('run1/a.txt')?.datasetId, 'D1');
    assert.equal(s.rows.get('run1/b.txt')?.datasetId, 'D2');
  });

  it('looks at the whole folder once before calling a file failed whose dataset is not among the recent ones', async () => {
    const s = setup({ jobs: [ok], items: [item('D1', 'a.txt', 'ok'), item('D9', 'late.txt', 'ok')], recent: [item('D1', 'a.txt', 'ok')] });
    const [a, late] = [file('run1/a.txt'), file('run1/late.txt')];
    s.files.queued(a, ROUTE);
    s.files.queued(late, ROUTE);

    await s.confirmer.confirm('J1', [a, late], ROUTE, target, 1);

    assert.deepEqual(s.listings, { whole: 1, recent: 1 });
    assert.equal(s.rows.get('run1/late.txt')?.state, 'ok');
    assert.equal(s.rows.get('run1/late.txt')?.datasetId, 'D9');
  });
});

describe('Confirmer: access', () => {
  it('records ok only the files whose dataset was restricted: one that could not be is failed with why, one left by a stop stays submitted', async () => {
    const ok = () => Promise.resolve({ id: 'J1', state: 'ok', create_time: '2026-12-01T10:00:00.000000' } as JobSummary);
    const unrestricted = new Map<string, string | null>([['run1/b.txt', 'dataset D2 is in Galaxy but could not be restricted'], ['run1/c.txt', null]]);
    const s = setup({ jobs: [ok], items: [], recent: [item('D1', 'a.txt', 'ok'), item('D2', 'b.txt', 'ok'), item('D3', 'c.txt', 'ok')], unrestricted });
    const fs = ['a', 'b', 'c'].map((n) => file(`run1/${n}.txt`));
    for (const f of fs) s.files.queued(f, ROUTE);
    s.files.submitted(fs, ROUTE, { attempt: 1, target, historyId: 'H1' });

    await s.confirmer.confirm('J1', fs, ROUTE, target, 1);

    assert.deepEqual(['a', 'b', 'c'].map((n) => s.rows.get(`run1/${n}.txt`)?.state), ['ok', 'failed', 'submitted']);
    assert.equal(s.rows.get('run1/b.txt')?.lastError, 'dataset D2 is in Galaxy but could not be restricted');
  });
});

describe('Confirmer: method = paths, Galaxy\'s stored hash against the checksum', () => {
  it('verified: ok and verified; unverified: ok, not verified; other bytes in a file that changed: its dataset deleted, the file settles again; other bytes in a file that did not change: its dataset deleted, the file failed (sending it again would end the same way)', async () => {
    const known = new Map([['run1/a.txt', 'D1'], ['run1/b.txt', 'D2'], ['run1/c.txt', 'D3'], ['run1/d.txt', 'D4']]);
    const mismatch = { kind: 'mismatch', hashFunction: 'SHA-256', expected: 'aa', got: 'bb' } as const;
    const stored = new Map<string, StoredVerdict>([
      ['run1/a.txt', { kind: 'verified', info: 'SHA-256 aa: verified' }],
      ['run1/b.txt', { kind: 'unverified', reason: 'no Celery' }],
      ['run1/c.txt', { ...mismatch, file: 'changed' }],
      ['run1/d.txt', { ...mismatch, file: 'unchanged' }],
    ]);
    const items = ['a', 'b', 'c', 'd'].map((n, i) => item(`D${i + 1}`, `${n}.txt`, 'ok'));
    const s = setup({ jobs: [], items, recent: items, stored });
    const fs = ['a', 'b', 'c', 'd'].map((n) => ({ ...file(`run1/${n}.txt`), checksum: { hashFunction: 'SHA-256' as const, hex: 'aa' } }));
    for (const f of fs) s.files.queued(f, ROUTE);

    await s.confirmer.confirm(null, fs, ROUTE, target, 1, { known });

    assert.deepEqual(fs.map((f) => [s.rows.get(f.path)?.state, s.rows.get(f.path)?.verified]), [['ok', true], ['ok', false], ['settling', false], ['failed', false]]);
    assert.deepEqual(s.deleted.sort(), ['D3', 'D4'], 'never ok with other bytes: both datasets deleted');
    assert.deepEqual(s.changed, ['run1/c.txt']);
    assert.match(s.rows.get('run1/d.txt')?.lastError ?? '', /^Galaxy stored other bytes than the file's, which has not changed since it settled: the SHA-256 hash Galaxy computed of dataset D4 after its job is bb, the file's checksum aa\. .*Use method = fetch/);
    assert.deepEqual(s.emit.of('checksum.mismatch').map((e) => e.file).sort(), ['run1/c.txt', 'run1/d.txt'], 'both counted mismatched');
    assert.deepEqual(s.described, ['D1 SHA-256 aa: verified'], 'the verified dataset\'s info names its checksum');
  });
});

describe('Confirmer (fake timers)', () => {
  it('polls the job with a growing pause, then records each dataset ok', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const job = (state: string) => () => Promise.resolve({ id: 'J1', state } as JobSummary);
    const s = setup({ jobs: [job('queued'), job('running'), job('ok')], items: [item('D1', 'a.txt', 'ok')] });
    const f = file('run1/a.txt');
    s.files.queued(f, ROUTE);
    const done = s.confirmer.confirm('J1', [f], ROUTE, target, 1);
    await turns();
    assert.equal(s.polls(), 1);
    t.mock.timers.tick(999);
    await turns();
    assert.equal(s.polls(), 1, 'the second look waits pollMin');
    t.mock.timers.tick(1);
    await turns();
    assert.equal(s.polls(), 2);
    t.mock.timers.tick(1600); // 1.5 times the first pause, stretched onto the looks' grid (grid.ts)

    assert.deepEqual(await done, { kind: 'done' });
    assert.equal(s.polls(), 3);
    assert.equal(s.rows.get(f.path)?.state, 'ok');
    assert.equal(s.rows.get(f.path)?.datasetId, 'D1');
  });

  it('a job that runs 157 s is looked at at most 14 times (17 for one file), not one per cap, and found at most a fifth of its run late (one of 2,500 files within the 7.5 s cap, its looks at the cap); one of 1,000 files is first looked at after 9.5 s, and found within the 7.5 s cap when it runs 23 s, after 3 looks', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const run = async (jobFiles: number, runsMs: number) => {
      const endsAt = Date.now() + runsMs;
      const job = () => Promise.resolve({ id: 'J1', state: Date.now() >= endsAt ? 'ok' : 'running' } as JobSummary);
      const s = setup({ jobs: [job], items: [item('D1', 'a.txt', 'ok')] }, undefined, 3_600_000);
      const f = file('run1/a.txt');
      s.files.queued(f, ROUTE);
      let ended = -1;
      let firstLookAfter = -1;
      const start = Date.now();
      void s.confirmer.confirm('J1', [f], ROUTE, target, 1, { justSent: true, jobFiles }).then(() => (ended = Date.now()));
      while (ended < 0 && Date.now() < start + 2 * runsMs + 120_000) {
        await turns();
        if (firstLookAfter < 0 && s.polls() > 0) firstLookAfter = Date.now() - start;
        t.mock.timers.tick(250);
      }
      await turns();
      return { looks: s.polls(), lateMs: ended - endsAt, firstLookAfter };
    };
    const one = await run(1, 157_000);
    const many = await run(1000, 157_000);
    const short = await run(1000, 23_000);
    const hour = await run(1000, 3_600_000);
    const sized = await run(2500, 157_000);
    const past = await run(2500, 190_000);
    t.diagnostic(`157 s, one file: ${one.looks} looks, ${one.lateMs} ms late; 1,000 files: ${many.looks} looks, ${many.lateMs} ms late, first after ${many.firstLookAfter} ms; 23 s: ${short.looks} looks, ${short.lateMs} ms late; an hour: ${hour.looks} looks, ${hour.lateMs} ms late; 2,500 files, 157 s: ${sized.looks} looks, ${sized.lateMs} ms late; 190 s: ${past.looks} looks, ${past.lateMs} ms late`);
    // A job whose run its files explain (2,500 files, 157 s, as on the single-process Galaxy) is looked at every 7.5 s to its end: found
    // within the cap and its grid (a quarter more at most), not a fifth of its run (31 s) late, in at most its 20 looks (the first and 19 at the cap) and one more.
    assert.ok(sized.lateMs >= 0 && sized.lateMs <= PIPELINE_TIMING.poll.capMs * 1.25 + 250, `a 157 s job of 2,500 files found ${sized.lateMs} ms after it ended`);
    assert.ok(sized.looks <= 2500 * LOOKS_AT_CAP_PER_FILE + 1, `a 157 s job of 2,500 files: ${sized.looks} looks`);
    // Just past its 20 looks (at about 167 s), the pauses grow by the poll's factor: found within 11.25 s and its grid, not a fifth of 190 s (38 s).
    assert.ok(past.lateMs >= 0 && past.lateMs <= 11_250 * 1.25 + 250, `a 190 s job of 2,500 files found ${past.lateMs} ms after it ended`);

    for (const [r, most] of [[one, 17], [many, 14]] as const) {
      assert.ok(r.looks <= most, `${r.looks} looks (21 at a 10 s cap without the fifth)`);
      assert.ok(r.lateMs >= 0 && r.lateMs <= 157_000 * LATE_SHARE + 1_000, `found ${r.lateMs} ms after the job ended`);
    }
    assert.equal(one.firstLookAfter, 1000, 'the poll\'s first pause');
    assert.ok(many.firstLookAfter >= (1000 - FIRST_LOOK_FREE_FILES) * FIRST_LOOK_MS_PER_FILE, `a job of 1,000 files first looked at after ${many.firstLookAfter} ms`);
    // The cap, not a fifth of the run, bounds the lateness of a job of 20-37 s (9.5 s late with the old schedule: first look at 5 s, a 10 s cap).
    assert.ok(short.looks <= 3 && short.lateMs >= 0 && short.lateMs <= PIPELINE_TIMING.poll.capMs + 1_000, `a 23 s job of 1,000 files: ${short.looks} looks, found ${short.lateMs} ms after it ended`);
    assert.ok(hour.looks <= 80 && hour.lateMs <= LONGEST_PAUSE_MS + 1_000, `an hour's job: ${hour.looks} looks (360 at a 10 s cap), ${hour.lateMs} ms late`);
  });

  it('pollFor: the first pause 10 ms for each file beyond the first 50; lookPause: past the 7.5 s cap and 0.008 looks a file of the job, growing again to a fifth of the run, at most a minute', () => {
    const poll = PIPELINE_TIMING.poll;
    assert.deepEqual(pollFor(poll, 1), poll);
    assert.deepEqual(pollFor(poll, 75), poll);
    assert.deepEqual(pollFor(poll, 100), { ...poll, firstMs: 500 });
    assert.deepEqual(pollFor(poll, 1000), { ...poll, firstMs: 9500 });
    assert.equal(lookPause(poll, 1, 0), 250);
    assert.equal(lookPause(poll, 20, 30_000), 7_500);
    assert.equal(lookPause(poll, 20, 50_000), 10_000);
    assert.equal(lookPause(poll, 20, 100_000), 20_000);
    assert.equal(lookPause(poll, 30, 3_600_000), LONGEST_PAUSE_MS);
    // A job of 2,500 files keeps the cap for its first 20 looks, however long it has run; then the pauses
    // grow by the poll's factor (no jump to a fifth of the run, 33 s for a job just past its 20 looks), up to a fifth and a minute.
    assert.equal(lookPause(poll, 19, 100_000, 2500), 7_500);
    assert.equal(lookPause(poll, 20, 100_000, 2500), 11_250);
    assert.equal(lookPause(poll, 21, 100_000, 2500), 16_875);
    assert.equal(lookPause(poll, 23, 100_000, 2500), 20_000);
    assert.equal(lookPause(poll, 79, 3_600_000, 10_000), 7_500);
    assert.equal(lookPause(poll, 80, 3_600_000, 10_000), 11_250);
    assert.equal(lookPause(poll, 90, 3_600_000, 10_000), LONGEST_PAUSE_MS);
  });

  it('a failed look at the job is said, but galaxy_importd_retries_total does not count it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const s = setup({ jobs: [() => Promise.reject(gateway504()), () => Promise.reject(gateway504()), () => Promise.resolve({ id: 'J1', state: 'ok' } as JobSummary)], items: [item('D1', 'a.txt', 'ok')] });
    const f = file('run1/a.txt');
    s.files.queued(f, ROUTE);
    const done = s.confirmer.confirm('J1', [f], ROUTE, target, 1);
    for (let i = 0; i < 3; i++) {
      await turns();
      t.mock.timers.tick(10_000);
    }
    await done;

    assert.equal(s.emit.of('job.check_failed').length, 2);
    assert.match(await s.metrics.registry.metrics(), /^galaxy_importd_retries_total 0$/m);
    const g = file('run1/b.txt');
    s.files.queued(g, ROUTE);
    s.files.retrying([g], ROUTE, 'Galaxy 502', 1, 1000);
    assert.match(await s.metrics.registry.metrics(), /^galaxy_importd_retries_total 1$/m, 'an upload to be retried is counted');
  });

  it('hands a multi-file job that failed back to be split, with Galaxy\'s stderr in the reason', async () => {
    const s = setup({ jobs: [() => Promise.resolve({ id: 'J1', state: 'error' } as JobSummary)], items: [] });

    const c = await s.confirmer.confirm('J1', [file('run1/a.txt'), file('run1/b.txt')], ROUTE, target, 1);

    assert.deepEqual(c, { kind: 'split', reason: 'Galaxy job J1 ended error: boom', jobId: 'J1' });
    assert.deepEqual(s.deleted, ['job J1: run1/a.txt run1/b.txt'], 'what the job left is deleted before its files go again');
    assert.deepEqual(s.ended, ['J1 error'], 'the breaker is told, with no file failed');
  });

  it('a job that ended in error with no message: the reason names the job and where to look', async () => {
    const s = setup({ jobs: [() => Promise.resolve({ id: 'J1', state: 'error' } as JobSummary)], items: [], stderr: '' });
    const a = file('run1/a.txt');
    s.files.queued(a, ROUTE);

    await s.confirmer.confirm('J1', [a], ROUTE, target, 1);

    assert.equal(s.rows.get('run1/a.txt')?.state, 'failed');
    assert.match(s.rows.get('run1/a.txt')?.lastError ?? '', /^Galaxy job J1 ended error with no message: see Galaxy's log for job J1 \(its job handler's\), and the free space of Galaxy's file_path/);
    assert.deepEqual(s.ended, ['J1 error run1/a.txt'], 'the breaker is told of the file failed');
  });

  it('deletes the dataset of a file that ended in error, after recording why', async () => {
    const s = setup({ jobs: [() => Promise.resolve({ id: 'J1', state: 'ok', create_time: '2026-12-01T10:00:00.000000' } as JobSummary)], items: [], recent: [item('D1', 'a.txt', 'ok'), item('D2', 'b.txt', 'error')] });
    const [a, b] = [file('run1/a.txt'), file('run1/b.txt')];
    s.files.queued(a, ROUTE);
    s.files.queued(b, ROUTE);

    await s.confirmer.confirm('J1', [a, b], ROUTE, target, 1);

    assert.equal(s.rows.get('run1/a.txt')?.state, 'ok');
    assert.equal(s.rows.get('run1/b.txt')?.state, 'failed');
    assert.match(s.rows.get('run1/b.txt')?.lastError ?? '', /^dataset D2 ended error/);
    assert.deepEqual(s.deleted, ['D2']);
  });

  it('fails a file whose job is still running after job_timeout_minutes', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const s = setup({ jobs: [() => Promise.resolve({ id: 'J1', state: 'running' } as JobSummary)], items: [] });
    const f = file('run1/a.txt');
    s.files.queued(f, ROUTE);
    const done = s.confirmer.confirm('J1', [f], ROUTE, target, 1);
    for (let i = 0; i < 12; i++) {
      await turns();
      t.mock.timers.tick(10_000);
    }

    assert.deepEqual(await done, { kind: 'done' });
    assert.equal(s.rows.get(f.path)?.state, 'failed');
    assert.match(String(s.rows.get(f.path)?.lastError), /still running after 1 min/);
  });

  it('stops at once when its signal aborts', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const stop = new AbortController();
    const s = setup({ jobs: [() => Promise.resolve({ id: 'J1', state: 'running' } as JobSummary)], items: [] }, stop.signal);
    const done = s.confirmer.confirm('J1', [file('a')], ROUTE, target, 1);
    await turns();
    stop.abort();

    assert.deepEqual(await done, { kind: 'stopped' });
  });
});

describe('Confirmer: a file Galaxy found changed after its checksum', () => {
  it('deletes its dataset in error, and the file settles again (not failed), while the others of the job are ok', async () => {
    const info = ': Failed to validate upload with [SHA-256] - expected [aa] got [bb]';
    const s = setup({ jobs: [() => Promise.resolve({ id: 'J1', state: 'ok', create_time: '2026-12-01T10:00:00.000000' } as JobSummary)], items: [item('D1', 'a.txt', 'ok'), { ...item('D2', 'b.txt', 'error'), raw_size: 0 }], info });
    const [a, b] = [file('run1/a.txt'), file('run1/b.txt')];
    s.files.queued(a, ROUTE);
    s.files.queued(b, ROUTE);
    await s.confirmer.confirm('J1', [a, b], ROUTE, target, 1);

    assert.equal(s.rows.get('run1/a.txt')?.state, 'ok');
    assert.equal(s.rows.get('run1/b.txt')?.state, 'settling');
    assert.match(s.rows.get('run1/b.txt')?.lastError ?? '', /changed after it settled: .*Failed to validate upload with \[SHA-256\]/);
    assert.deepEqual(s.changed, ['run1/b.txt']);
    assert.deepEqual(s.deleted, ['D2']);
    assert.equal(s.emit.of('upload.failed').length, 0);
    assert.deepEqual(s.emit.of('file.changed').map((e) => e.file), ['run1/b.txt']);
  });
});
