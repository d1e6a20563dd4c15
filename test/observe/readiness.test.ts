import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReadinessDeps } from '../../src/observe/readiness.js';
import { ANSWER_COUNTS_MS, readiness } from '../../src/observe/readiness.js';
import { turns } from '../fakes.js';

/** A daemon that is started and not paused, whose Galaxy answers when `answer()` is called. */
function deps(over: Partial<ReadinessDeps> = {}): ReadinessDeps & { probes: number; answer(err?: Error): void; at: { now: number } } {
  const at = { now: 0 };
  const pending: { resolve(): void; reject(err: Error): void }[] = [];
  const d = {
    probes: 0,
    at,
    started: () => true,
    stopping: () => false,
    pause: () => null,
    probeGalaxy: () => {
      d.probes++;
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    ledgerProblem: () => null,
    clock: { now: () => at.now },
    answer: (err?: Error) => {
      for (const p of pending.splice(0)) {
        if (err) p.reject(err);
        else p.resolve();
      }
    },
    ...over,
  };
  return d;
}

describe('readiness', () => {
  it('waits for Galaxy\'s answer by default', async () => {
    const d = deps();
    const ready = readiness(d);

    const asked = ready();
    d.answer(new Error('connect ECONNREFUSED'));

    assert.deepEqual(await asked, ['Galaxy is not reachable: connect ECONNREFUSED']);
  });

  it('with wait: false answers at once with Galaxy\'s last answer, and asks again behind the scenes', async () => {
    const d = deps();
    const ready = readiness(d);

    const first = await ready({ wait: false });
    d.answer();
    await turns();
    const second = await ready({ wait: false });
    d.at.now = 6000;
    const stale = await ready({ wait: false });

    assert.deepEqual(first, ['Galaxy has not answered yet']);
    assert.deepEqual(second, []);
    assert.deepEqual(stale, [], 'the last answer counts while Galaxy is asked again');
    assert.equal(d.probes, 2);
  });

  it('asks Galaxy once at a time, however many ask for readiness', async () => {
    const d = deps();
    const ready = readiness(d);

    const asked = [ready({ wait: false }), ready({ wait: false }), ready(), ready()];
    d.answer();
    const answers = await Promise.all(asked);

    assert.equal(d.probes, 1);
    assert.deepEqual(answers.slice(2), [[], []]);
  });

  it('while Galaxy answers the daemon\'s own requests (within ANSWER_COUNTS_MS), it is not asked, and nothing waits for it', async () => {
    let answeredAt: number | null = 0;
    const d = deps({ answeredAt: () => answeredAt });
    const ready = readiness(d);

    d.at.now = ANSWER_COUNTS_MS;
    assert.deepEqual(await ready(), [], 'ready at once: no look waiting in the queue behind a backlog');
    assert.equal(d.probes, 0);

    d.at.now = ANSWER_COUNTS_MS + 1;
    const asked = ready();
    d.answer(new Error('connect ECONNREFUSED'));
    assert.deepEqual(await asked, ['Galaxy is not reachable: connect ECONNREFUSED'], 'an answer older than ANSWER_COUNTS_MS does not count');
    assert.equal(d.probes, 1);

    answeredAt = d.at.now - 1;
    d.at.now += 1000;
    assert.deepEqual(await ready(), ['Galaxy is not reachable: connect ECONNREFUSED'], 'a failed look after the last answer counts');
    answeredAt = d.at.now;
    assert.deepEqual(await ready(), [], 'an answer after the failed look counts');
    assert.equal(d.probes, 1);
  });

  it('names every reason: the walk, the key, the ledger, stopping', async () => {
    const d = deps({
      started: () => false,
      stopping: () => true,
      pause: () => ({ kind: 'key', reason: '401 Provided API key has expired.' }),
      ledgerProblem: () => 'the PostgreSQL ledger at db cannot be reached',
    });
    const ready = readiness(d);

    const asked = ready();
    d.answer();

    assert.deepEqual(await asked, [
      'the start-up walk is not done yet',
      'Galaxy refuses the API key: 401 Provided API key has expired.',
      'the PostgreSQL ledger at db cannot be reached',
      'stopping',
    ]);
  });
});
