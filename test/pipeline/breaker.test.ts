import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JOB_FAILURES_TO_PAUSE, JobBreaker } from '../../src/pipeline/breaker.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { ROUTE, events } from '../fakes.js';

const file = (p: string): ReadyFile => ({ path: p, size: 1, mtimeMs: 1, readyAt: 0 });

function setup(maxPauseMs = 600_000) {
  const pauses: { reason: string; ms: number; jobs: number; jobId: string }[] = [];
  const requeued: string[][] = [];
  const emit = events();
  const breaker = new JobBreaker({
    gate: { failing: (reason, ms, run) => void pauses.push({ reason, ms, jobs: run.jobs, jobId: run.jobId }) },
    emit,
    maxPauseMs,
    requeue: (again) => void requeued.push(again.map((a) => a.file.path)),
  });
  return { breaker, pauses, requeued, emit };
}

describe('JobBreaker', () => {
  it(`pauses uploads at the ${JOB_FAILURES_TO_PAUSE}rd job in a row that ended in error, not before; one job of several folders counts once; an ok job starts the count again`, () => {
    const s = setup();
    s.breaker.ended('J1', false, 'Galaxy job J1 ended error');
    s.breaker.ended('J1', false, 'Galaxy job J1 ended error');
    s.breaker.ended('J2', false, 'Galaxy job J2 ended error');
    s.breaker.ended('J3', true, '');
    s.breaker.ended('J4', false, 'Galaxy job J4 ended error');
    s.breaker.ended('J5', false, 'Galaxy job J5 ended error');
    const before = s.pauses.length;
    s.breaker.ended('J6', false, 'Galaxy job J6 ended error with no message');

    assert.equal(before, 0);
    assert.equal(s.pauses.length, 1);
    assert.match(s.pauses[0]?.reason ?? '', /^the last 3 upload jobs ended in error \(the latest, Galaxy job J6 ended error with no message\); Galaxy may be out of disk space, or its job handlers broken: uploads are paused and tried again in 1 min$/);
    assert.equal(s.pauses[0]?.ms, 60_000);
    assert.deepEqual([s.pauses[0]?.jobs, s.pauses[0]?.jobId], [3, 'J6']);
  });

  it('each further failed job pauses again, twice as long, up to backoff_max_seconds', () => {
    const s = setup(300_000);
    for (let i = 1; i <= 7; i++) s.breaker.ended(`J${i}`, false, 'x');

    assert.deepEqual(s.pauses.map((p) => p.ms), [60_000, 120_000, 240_000, 300_000, 300_000]);
  });

  it('the first ok job after a pause says so and queues again, once, the files failed by the run of failed jobs', () => {
    const s = setup();
    s.breaker.ended('J1', false, 'x', [file('run1/a.txt')], ROUTE);
    s.breaker.ended('J2', false, 'x', [file('run1/b.txt')], ROUTE);
    s.breaker.ended('J3', false, 'x', [file('run1/c.txt')], ROUTE);
    s.breaker.ended('J4', true, '');
    s.breaker.ended('J5', true, '');

    assert.deepEqual(s.requeued, [['run1/a.txt', 'run1/b.txt', 'run1/c.txt']]);
    assert.deepEqual(s.emit.of('galaxy.jobs_ok').map((e) => [e.job_id, e.failed_jobs, e.requeued]), [['J4', 3, 3]]);
    assert.equal(s.breaker.tripped, false);
  });

  it('files failed by jobs that did not pause uploads stay failed (one bad file is not a broken Galaxy)', () => {
    const s = setup();
    s.breaker.ended('J1', false, 'x', [file('run1/a.txt')], ROUTE);
    s.breaker.ended('J2', true, '');
    s.breaker.ended('J3', false, 'x', [file('run1/b.txt')], ROUTE);
    s.breaker.ended('J4', false, 'x', [file('run1/c.txt')], ROUTE);
    s.breaker.ended('J5', true, '');

    assert.deepEqual(s.requeued, []);
    assert.equal(s.emit.of('galaxy.jobs_ok').length, 0);
  });
});
