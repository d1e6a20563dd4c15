import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { FolderItem, JobSummary } from '../../src/galaxy/client.js';
import { Files } from '../../src/pipeline/files.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { REBUILD_LISTING_MS, Recovery } from '../../src/pipeline/recover.js';
import { fetchSubmitter, pathsSubmitter } from '../../src/pipeline/submit.js';
import { ROUTE, events, memoryRows, turns } from '../fakes.js';

const file = (path: string, size = 3): ReadyFile => ({ path, size, mtimeMs: 1, readyAt: 0 });
const target = { libraryId: 'L1', folderId: 'F1' };

function setup(o: { jobs?: () => Promise<JobSummary[]>; items?: FolderItem[]; recent?: FolderItem[]; paths?: boolean } = {}) {
  const rows = memoryRows();
  const emit = events();
  const files = new Files({ ledger: rows, emit, clock: systemClock });
  const released: string[] = [];
  const waits: number[] = [];
  const listed = { n: 0, recent: 0 };
  const client = {
    listJobs: o.jobs ?? (() => Promise.resolve([])),
    folderContents: () => (listed.n++, Promise.resolve(o.items ?? [])),
    recentDatasets: () => (listed.recent++, Promise.resolve(o.recent ?? [])),
    fetchToFolders: () => Promise.reject(new Error('unused')),
    uploadPaths: () => Promise.reject(new Error('unused')),
  };
  const recovery = new Recovery({
    client, files, ledger: { jobsOf: (h) => rows.jobs.get(h) ?? new Set(), isClaimed: () => false },
    histories: { release: (h) => void released.push(h) },
    submitter: o.paths ? pathsSubmitter(client, '/import') : fetchSubmitter(client),
    details: { finish: () => Promise.resolve(new Map<string, string | null>()) },
    clock: systemClock, signal: new AbortController().signal, emit, gate: { wait: () => Promise.resolve() },
    onFailure: (_err, attempt) => (waits.push(attempt), 1000),
    afterOk: () => Promise.resolve(),
  });
  return { rows, emit, files, recovery, released, waits, listed };
}

describe('Recovery (fakes, fake timers)', () => {
  it('finds the job of a request whose answer was lost: the one in its history the ledger does not know', async () => {
    const s = setup({ jobs: () => Promise.resolve([{ id: 'J-old', state: 'ok' }, { id: 'J-new', state: 'running' }]) });
    s.rows.rememberJob('H1', 'J-old');

    assert.equal(await s.recovery.acceptedJob('H1'), 'J-new');
  });

  it('after a restart, confirms the job Galaxy has, and records it so that the next restart confirms too', async () => {
    const s = setup({ jobs: () => Promise.resolve([{ id: 'J1', state: 'running' }]) });
    const f = file('a');
    s.files.queued(f, ROUTE);
    s.files.submitted([f], ROUTE, { attempt: 1, target, historyId: 'H1' });

    assert.deepEqual(await s.recovery.recover([f], ROUTE, { historyId: 'H1', jobId: null }), { kind: 'job', jobId: 'J1' });
    assert.equal(s.rows.get('a')?.jobId, 'J1');
    assert.deepEqual(s.released, ['H1']);
    assert.match(String(s.emit.of('upload.recovered')[0]?.reason), /has the job/);
  });

  it('without a job in the history, sends again, the rows no longer naming that history', async () => {
    const s = setup();
    const f = file('a');
    s.files.queued(f, ROUTE);
    s.files.submitted([f], ROUTE, { attempt: 1, target, historyId: 'H1' });

    assert.deepEqual(await s.recovery.recover([f], ROUTE, { historyId: 'H1', jobId: null }), { kind: 'resend' });
    assert.equal(s.rows.get('a')?.historyId, null);
    assert.equal(s.rows.get('a')?.state, 'retrying');
  });

  it('while Galaxy cannot list the history\'s jobs, asks again after the pause onFailure names', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let calls = 0;
    const s = setup({ jobs: () => (++calls < 3 ? Promise.reject(new Error('reset')) : Promise.resolve([])) });
    const done = s.recovery.recover([file('a')], ROUTE, { historyId: 'H1', jobId: null });
    for (let i = 0; i < 3; i++) {
      await turns();
      t.mock.timers.tick(1000);
    }

    assert.deepEqual(await done, { kind: 'resend' });
    assert.deepEqual(s.waits, [1, 2]);
  });

  it('before a re-send, takes a dataset of the same name and size that is ok as the file\'s, and no other', async () => {
    const items = [
      { id: 'D1', name: 'a.txt', type: 'file', state: 'ok', raw_size: 3 },
      { id: 'D2', name: 'b.txt', type: 'file', state: 'ok', raw_size: 99 },
    ] as FolderItem[];
    const s = setup({ items });
    const [a, b] = [file('run1/a.txt'), file('run1/b.txt')];
    s.files.queued(a, ROUTE);
    s.files.queued(b, ROUTE);

    const { adopted, running } = await s.recovery.existing([a, b], target, ROUTE);

    assert.deepEqual([...adopted], ['run1/a.txt']);
    assert.equal(running.size, 0);
    assert.equal(s.rows.get('run1/a.txt')?.state, 'ok');
    assert.equal(s.rows.get('run1/a.txt')?.datasetId, 'D1');
    assert.equal(s.emit.of('upload.ok')[0]?.reason, 'already in Galaxy');
    assert.equal(s.rows.get('run1/b.txt')?.state, 'queued', 'another size is another file');
  });

  it('with method = paths, a dataset of the name still running is the lost upload, to be confirmed', async () => {
    const items = [{ id: 'D7', name: 'a.txt', type: 'file', state: 'running', raw_size: 0 }] as FolderItem[];
    const s = setup({ items, paths: true });

    const { adopted, running } = await s.recovery.existing([file('run1/a.txt')], target, ROUTE);

    assert.deepEqual([...adopted], ['run1/a.txt']);
    assert.deepEqual([...running], [['run1/a.txt', 'D7']]);
  });

  it('a rebuilt ledger\'s batches of one folder share one look at it for REBUILD_LISTING_MS, each brought up to date by a page of what changed since; files sent before always look afresh', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const made = { id: 'D5', name: 'made.txt', type: 'file', state: 'ok', raw_size: 3, update_time: '2026-12-01T10:00:05.000000' } as FolderItem;
    const s = setup({ items: [{ id: 'D1', name: 'a.txt', type: 'file', state: 'ok', raw_size: 3, update_time: '2026-12-01T10:00:00.000000' }] as FolderItem[], recent: [made] });
    const batch = (n: number) => {
      const f = file(`run1/n${n}.txt`);
      s.files.queued(f, ROUTE);
      return [f];
    };

    await s.recovery.existing(batch(1), target, ROUTE, { shared: true });
    await s.recovery.existing(batch(2), target, ROUTE, { shared: true });
    const afterTwo = s.listed.n;
    await s.recovery.existing(batch(3), target, ROUTE);
    const afresh = s.listed.n;
    t.mock.timers.tick(REBUILD_LISTING_MS);
    await s.recovery.existing(batch(4), target, ROUTE, { shared: true });
    const a = file('run1/a.txt');
    s.files.queued(a, ROUTE);
    const { adopted } = await s.recovery.existing([a], target, ROUTE, { shared: true });
    const m = file('run1/made.txt');
    s.files.queued(m, ROUTE);
    const later = await s.recovery.existing([m], target, ROUTE, { shared: true });

    assert.equal(afterTwo, 1);
    assert.deepEqual([...later.adopted], ['run1/made.txt'], 'a dataset made after the whole look is seen');
    assert.equal(s.listed.recent, 3, 'each batch after the first look reads one page of what changed');
    assert.equal(afresh, 2);
    assert.equal(s.listed.n, 3, 'looked again once the shared look was old');
    assert.deepEqual([...adopted], ['run1/a.txt'], 'the shared look still finds what is in Galaxy');
  });
});
