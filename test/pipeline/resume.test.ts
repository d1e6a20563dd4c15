import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { Coordinator, FileRecord } from '../../src/ledger/ledger.js';
import { Resumer } from '../../src/pipeline/resume.js';
import { ROUTE, events, turns } from '../fakes.js';

const row = (path: string, fields: Partial<FileRecord>): FileRecord => ({
  path, size: 1, mtimeMs: 1, state: 'queued', attempts: 1, lastError: null, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, checksum: null, verified: false, updatedAt: 0, ...fields,
});

describe('Resumer (fake timers)', () => {
  it('at start confirms the requests in doubt, and every adoptEveryMs takes over abandoned files', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const emit = events();
    const resumed: string[] = [];
    const reconsidered: string[] = [];
    const barred: string[] = [];
    const later = [row('b', { state: 'submitted', historyId: 'H2' }), row('c', { state: 'queued' })];
    let adopts = 0;
    const coordinator: Pick<Coordinator, 'adopt' | 'historiesInDoubt' | 'adoptEveryMs' | 'replica'> = {
      replica: 'r1',
      adoptEveryMs: 15_000,
      historiesInDoubt: () => Promise.resolve(new Set(['H9'])),
      adopt: (initial) => {
        adopts++;
        return Promise.resolve(initial ? [row('a', { state: 'submitted', historyId: 'H1' }), row('done', { state: 'retrying' })] : later.splice(0));
      },
    };
    const r = new Resumer({
      coordinator, bar: (h) => void barred.push(...h), resume: (rows) => void resumed.push(...rows.map((x) => x.path)),
      reconsider: (p) => void reconsidered.push(p), route: () => ROUTE, clock: systemClock, signal: new AbortController().signal, emit,
    });
    await r.start(true);
    assert.deepEqual(barred, ['H9']);
    assert.deepEqual(resumed, ['a'], 'only the request in doubt is confirmed');
    assert.deepEqual(reconsidered, [], 'its own rows are not reconsidered at start');
    t.mock.timers.tick(15_000);
    await turns();
    r.stop();
    t.mock.timers.tick(60_000);
    await turns();

    assert.equal(adopts, 2, 'no adoption after stop');
    assert.deepEqual(resumed, ['a', 'b']);
    assert.deepEqual(reconsidered, ['c']);
    assert.deepEqual(emit.of('ledger.adopted').map((e) => e.files), [2]);
  });

  it('with a ledger one process owns, never looks for abandoned files', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let adopts = 0;
    const r = new Resumer({
      coordinator: { replica: null, adoptEveryMs: null, historiesInDoubt: () => Promise.resolve(new Set()), adopt: () => (adopts++, Promise.resolve([])) },
      bar: () => undefined, resume: () => undefined, reconsider: () => undefined, route: () => ROUTE, clock: systemClock, signal: new AbortController().signal, emit: events(),
    });
    await r.start(true);
    t.mock.timers.tick(3_600_000);

    assert.equal(adopts, 1);
  });
});
