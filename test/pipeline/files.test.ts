import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Files } from '../../src/pipeline/files.js';
import { ROUTE, events, memoryRows } from '../fakes.js';

const target = { libraryId: 'L1', folderId: 'F1' };
const file = (path: string) => ({ path, size: 3, mtimeMs: 1000, readyAt: 100 });

describe('Files: the one owner of per-file transitions', () => {
  it('a file written again to another size during its upload keeps the send time (so the folder is looked in before sending again); one edited after it was ok, or to the same size, does not', () => {
    const rows = memoryRows();
    let now = 1000;
    const files = new Files({ ledger: rows, emit: events(), clock: { now: () => now } });
    const v1 = { path: 'run1/a.txt', size: 3, mtimeMs: 900, readyAt: 900 };
    files.queued(v1, ROUTE);
    files.submitted([v1], ROUTE, { attempt: 1, target, historyId: null });
    now = 2000;
    files.ok(v1, ROUTE, 'D1', { jobId: 'J1' });
    const during = { path: v1.path, size: 9, mtimeMs: 1500, readyAt: 2500 };
    files.queued(during, ROUTE);
    const kept = files.submittedAt(v1.path);
    files.submitted([during], ROUTE, { attempt: 1, target, historyId: null });
    now = 3000;
    files.ok(during, ROUTE, 'D2', { jobId: 'J2' });
    files.queued({ path: v1.path, size: 12, mtimeMs: 5000, readyAt: 6000 }, ROUTE);
    const after = files.submittedAt(v1.path);
    files.submitted([{ path: v1.path, size: 12, mtimeMs: 5000, readyAt: 6000 }], ROUTE, { attempt: 1, target, historyId: null });
    now = 7000;
    files.ok({ path: v1.path, size: 12, mtimeMs: 5000, readyAt: 6000 }, ROUTE, 'D3', { jobId: 'J3' });
    files.queued({ path: v1.path, size: 12, mtimeMs: 6500, readyAt: 7500 }, ROUTE);

    assert.equal(kept, 1000, 'changed to another size during the upload: its send time is kept');
    assert.equal(after, null, 'edited after it was ok: a new file');
    assert.equal(files.submittedAt(v1.path), null, 'rewritten at the same size during the upload: nothing tells which version Galaxy has, so it is sent again');
  });

  it('knows the attempts and send time of the files it holds without reading the ledger, and agrees with it', () => {
    const rows = memoryRows();
    let reads = 0;
    const counted = { ...rows, get: (p: string) => (reads++, rows.get(p)) };
    const files = new Files({ ledger: counted, emit: events(), clock: { now: () => 500 } });
    const f = file('run1/a.txt');
    files.queued(f, ROUTE);
    files.submitted([f], ROUTE, { attempt: 1, target, historyId: null });
    files.split([f], ROUTE, 'the job failed as a whole', 'J1');
    files.submitted([f], ROUTE, { attempt: 1, target, historyId: null });
    const before = reads;
    const held = { attempts: files.attempts(f.path), submittedAt: files.submittedAt(f.path) };

    assert.equal(reads, before, 'no ledger read');
    assert.deepEqual(held, { attempts: 1, submittedAt: 500 });
    assert.equal(rows.get(f.path)?.attempts, 1);
    assert.equal(rows.get(f.path)?.submittedAt, 500);
  });

  it('each transition writes the ledger and emits its one event', () => {
    const rows = memoryRows();
    const emit = events();
    let now = 100;
    const files = new Files({ ledger: rows, emit, clock: { now: () => now } });
    const f = file('run1/a.txt');

    assert.equal(files.queued(f, ROUTE), true);
    assert.equal(rows.get(f.path)?.state, 'queued');
    files.submitted([f], ROUTE, { attempt: 1, target, historyId: 'H1' });
    assert.equal(rows.get(f.path)?.state, 'submitted');
    assert.equal(rows.get(f.path)?.attempts, 1);
    assert.equal(rows.get(f.path)?.historyId, 'H1');
    files.retrying([f], ROUTE, 'Galaxy 502', 1, 1500);
    assert.equal(rows.get(f.path)?.state, 'retrying');
    now = 2100;
    files.ok(f, ROUTE, 'D1', { jobId: 'J1' });

    assert.equal(rows.get(f.path)?.state, 'ok');
    assert.equal(rows.get(f.path)?.datasetId, 'D1');
    assert.deepEqual(emit.seen.map((e) => e.type), ['upload.queued', 'upload.submitted', 'upload.retry', 'upload.ok']);
    assert.equal(emit.of('upload.ok')[0]?.duration_ms, 2000);
    assert.equal(emit.of('upload.retry')[0]?.delay_ms, 1500);
    assert.equal(files.active, 0, 'an ok file is no longer active');
  });

  it('never queues a file twice while it is queued or in flight', () => {
    const emit = events();
    const files = new Files({ ledger: memoryRows(), emit, clock: { now: () => 0 } });

    assert.equal(files.queued(file('a'), ROUTE), true);
    assert.equal(files.queued(file('a'), ROUTE), false);
    assert.equal(emit.of('upload.queued').length, 1);
    assert.equal(files.has('a'), true);
  });

  it('a requeue (the key was refused) and a split do not count as attempts', () => {
    const rows = memoryRows();
    const files = new Files({ ledger: rows, emit: events(), clock: { now: () => 0 } });
    const f = file('a');
    files.queued(f, ROUTE);
    files.submitted([f], ROUTE, { attempt: 1, target, historyId: null });
    files.requeued([f]);

    assert.equal(rows.get('a')?.attempts, 0);
    assert.equal(rows.get('a')?.state, 'queued');
    files.submitted([f], ROUTE, { attempt: 1, target, historyId: null });
    files.split([f], ROUTE, 'job failed', 'J1');
    assert.equal(rows.get('a')?.attempts, 0);
    assert.equal(rows.get('a')?.state, 'retrying');
  });

  it('a rejection already recorded the same way is neither written nor said again', () => {
    const rows = memoryRows();
    const emit = events();
    const files = new Files({ ledger: rows, emit, clock: { now: () => 0 } });
    files.rejected('fifo', { size: 0, mtimeMs: 5 }, 'skipped', 'not a regular file');
    files.rejected('fifo', { size: 0, mtimeMs: 5 }, 'skipped', 'not a regular file');

    assert.equal(emit.of('file.skipped').length, 1);
    assert.equal(rows.get('fifo')?.state, 'skipped');
  });

  it('forgets the history of a request that made no job, and only rows that still name it', () => {
    const rows = memoryRows();
    const files = new Files({ ledger: rows, emit: events(), clock: { now: () => 0 } });
    const [a, b] = [file('a'), file('b')];
    files.queued(a, ROUTE);
    files.queued(b, ROUTE);
    files.submitted([a], ROUTE, { attempt: 1, target, historyId: 'H1' });
    files.submitted([b], ROUTE, { attempt: 1, target, historyId: 'H2' });
    files.unassigned([a, b], 'H1');

    assert.equal(rows.get('a')?.historyId, null);
    assert.equal(rows.get('b')?.historyId, 'H2');
  });
});
