import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobSummary } from '../../src/galaxy/client.js';
import { GalaxyApiError } from '../../src/galaxy/errors.js';
import { alignedDelay } from '../../src/pipeline/grid.js';
import { JobLooks, LISTING_LIMIT } from '../../src/pipeline/job-looks.js';

/** A Galaxy of jobs (id → history and state) that counts what it is asked. */
function galaxy(jobs: Record<string, { history: string; state: string; updated: number }>, o: { listFails?: boolean; listRefused?: boolean } = {}) {
  const asked = { show: [] as string[], list: [] as { historyId: string; updatedSinceMs?: number; limit?: number }[] };
  const summary = (id: string): JobSummary => ({ id, state: jobs[id]?.state ?? 'unknown' });
  const client = {
    showJob: (id: string) => (asked.show.push(id), Promise.resolve(summary(id))),
    listJobs: (q: { historyId: string; updatedSinceMs?: number; limit?: number }) => {
      asked.list.push(q);
      if (o.listRefused === true) return Promise.reject(new GalaxyApiError({ status: 400, errCode: 400008, errMsg: 'Input should be a valid datetime', retryAfterMs: null, fromGalaxy: true, method: 'GET', path: '/api/jobs' }));
      if (o.listFails === true) return Promise.reject(new GalaxyApiError({ status: 502, errCode: null, errMsg: 'Bad Gateway', retryAfterMs: null, fromGalaxy: false, method: 'GET', path: '/api/jobs' }));
      return Promise.resolve(Object.keys(jobs).filter((id) => jobs[id]?.history === q.historyId && (jobs[id]?.updated ?? 0) >= (q.updatedSinceMs ?? 0)).map(summary));
    },
  };
  const looks = new JobLooks({ client, clock: { setTimeout: (fn, ms) => setTimeout(fn, ms) } });
  return { looks, asked };
}

describe('JobLooks: the jobs in flight share their looks', () => {
  it('answers the looks of one turn at the jobs of one history with one listing, from the earliest time they can have changed', async () => {
    const g = galaxy({ J1: { history: 'H1', state: 'ok', updated: 2000 }, J2: { history: 'H1', state: 'running', updated: 1500 }, J3: { history: 'H1', state: 'ok', updated: 3000 } });
    const got = await Promise.all([
      g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 1900 }),
      g.looks.look({ jobId: 'J2', historyId: 'H1', sinceMs: 1000 }),
      g.looks.look({ jobId: 'J3', historyId: 'H1', sinceMs: 2500 }),
    ]);
    assert.deepEqual(got.map((j) => `${j.id} ${j.state}`), ['J1 ok', 'J2 running', 'J3 ok']);
    assert.deepEqual(g.asked.list, [{ historyId: 'H1', updatedSinceMs: 1000, limit: LISTING_LIMIT }]);
    assert.deepEqual(g.asked.show, [], 'no job looked at on its own');
  });

  it('looks at a job the listing left out on its own, so that no job is lost to a clock or a limit', async () => {
    // J2 last changed before the time given: a Galaxy whose clock is behind ours.
    const g = galaxy({ J1: { history: 'H1', state: 'ok', updated: 2000 }, J2: { history: 'H1', state: 'ok', updated: 500 } });
    const got = await Promise.all([g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 1000 }), g.looks.look({ jobId: 'J2', historyId: 'H1', sinceMs: 1000 })]);
    assert.deepEqual(got.map((j) => `${j.id} ${j.state}`), ['J1 ok', 'J2 ok']);
    assert.equal(g.asked.list.length, 1);
    assert.deepEqual(g.asked.show, ['J2']);
  });

  it('lists the history of a job looked at alone (its own answer would carry the whole request); looks at it alone when its history or time is unknown', async () => {
    const g = galaxy({ J1: { history: 'H1', state: 'ok', updated: 1 }, J2: { history: 'H2', state: 'ok', updated: 1 }, J3: { history: 'H3', state: 'ok', updated: 1 }, J4: { history: 'H3', state: 'ok', updated: 1 } });
    await Promise.all([
      g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 0 }),
      g.looks.look({ jobId: 'J2', historyId: null, sinceMs: 0 }),
      g.looks.look({ jobId: 'J3', historyId: 'H3', sinceMs: null }),
      g.looks.look({ jobId: 'J4', historyId: 'H3', sinceMs: Number.NaN }),
    ]);
    assert.deepEqual(g.asked.list.map((q) => q.historyId), ['H1']);
    assert.deepEqual(g.asked.show.sort(), ['J2', 'J3', 'J4']);
  });

  it('lists each history once, and looks of a later turn make a listing of their own', async () => {
    const g = galaxy({ A1: { history: 'HA', state: 'ok', updated: 5 }, A2: { history: 'HA', state: 'ok', updated: 5 }, B1: { history: 'HB', state: 'ok', updated: 5 }, B2: { history: 'HB', state: 'ok', updated: 5 } });
    await Promise.all(['A1', 'A2', 'B1', 'B2'].map((id) => g.looks.look({ jobId: id, historyId: `H${id[0] ?? ''}`, sinceMs: 1 })));
    await Promise.all(['A1', 'A2'].map((id) => g.looks.look({ jobId: id, historyId: 'HA', sinceMs: 1 })));
    assert.deepEqual(g.asked.list.map((q) => q.historyId), ['HA', 'HB', 'HA']);
    assert.deepEqual(g.asked.show, []);
  });

  it('hands a failed listing to every look that waited for it, as its own failure to retry', async () => {
    const g = galaxy({ J1: { history: 'H1', state: 'ok', updated: 1 }, J2: { history: 'H1', state: 'ok', updated: 1 } }, { listFails: true });
    const got = await Promise.allSettled([g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 0 }), g.looks.look({ jobId: 'J2', historyId: 'H1', sinceMs: 0 })]);
    assert.deepEqual(got.map((r) => r.status), ['rejected', 'rejected']);
    assert.ok(got.every((r) => r.status === 'rejected' && r.reason instanceof GalaxyApiError && r.reason.status === 502));
    assert.deepEqual(g.asked.show, [], 'not looked at one by one behind a failing Galaxy');
  });
});

describe('JobLooks: a Galaxy that refuses the listing', () => {
  it('looks at each job alone, from then on, when Galaxy refuses the listing\'s parameters', async () => {
    const g = galaxy({ J1: { history: 'H1', state: 'ok', updated: 1 }, J2: { history: 'H1', state: 'ok', updated: 1 } }, { listRefused: true });
    const first = await Promise.all([g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 0 }), g.looks.look({ jobId: 'J2', historyId: 'H1', sinceMs: 0 })]);
    await Promise.all([g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 0 }), g.looks.look({ jobId: 'J2', historyId: 'H1', sinceMs: 0 })]);

    assert.deepEqual(first.map((j) => j.state), ['ok', 'ok']);
    assert.equal(g.asked.list.length, 1, 'one refused listing, then none');
    assert.deepEqual(g.asked.show, ['J1', 'J2', 'J1', 'J2']);
  });
});

describe('alignedDelay: looks due about the same time meet on one grid point', () => {
  it('waits at least the delay, on a grid of 200 ms for short pauses and at most 1.6 s for long ones', () => {
    for (const [delay, grid] of [[250, 200], [375, 200], [1000, 200], [2000, 400], [4000, 800], [10_000, 1600], [60_000, 1600]] as const) {
      for (const now of [0, 1, 249, 1_796_165_380_318]) {
        const d = alignedDelay(now, delay);
        assert.ok(d >= delay && d < delay + grid, `delay ${delay} at ${now}: ${d}`);
        assert.equal((now + d) % grid, 0, `delay ${delay} at ${now}: on the ${grid} ms grid`);
      }
    }
  });

  it('brings together looks asked for at different moments and at different stages of their backoff', () => {
    const now = 1_000_000_003;
    // A first look (250 ms) asked 100 ms later than another, and a job at a 1.5 s pause asked in between.
    assert.equal(now + alignedDelay(now, 250), now + 100 + alignedDelay(now + 100, 250));
    const coarse = now + 50 + alignedDelay(now + 50, 8000);
    assert.equal(coarse % 200, 0, 'a coarse grid point is a point of the finest grid');
  });

  it('answers several looks at one job (the folders of one request) with one request', async () => {
    const g = galaxy({ J1: { history: 'H1', state: 'ok', updated: 2000 } });
    const got = await Promise.all([1, 2, 3].map(() => g.looks.look({ jobId: 'J1', historyId: 'H1', sinceMs: 1000 })));
    assert.deepEqual(got.map((j) => j.state), ['ok', 'ok', 'ok']);
    assert.deepEqual([g.asked.show, g.asked.list.map((q) => q.historyId)], [[], ['H1']]);
  });
});
