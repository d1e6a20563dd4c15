import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GalaxyApiError, GalaxyNetworkError, GalaxyResponseError } from '../../src/galaxy/errors.js';
import { systemClock } from '../../src/clock.js';
import { classify, galaxyBackoff, isOutage } from '../../src/pipeline/retry.js';
import { StoppedError, backoffMs, retry } from '../../src/retry.js';

const api = (status: number, errCode: number | null, fromGalaxy = true, retryAfterMs: number | null = null): GalaxyApiError =>
  new GalaxyApiError({ status, errCode, errMsg: 'm', retryAfterMs, fromGalaxy, method: 'POST', path: '/api/tools/fetch' });

describe('classify', () => {
  const cases: [string, unknown, string, boolean | null][] = [
    ['a refused connection is transient and certain not to have arrived', new GalaxyNetworkError({ failure: 'refused', method: 'POST', path: '/', detail: '', cause: null }), 'transient', false],
    ['a reset may hide an accepted request', new GalaxyNetworkError({ failure: 'reset', method: 'POST', path: '/', detail: '', cause: null }), 'transient', true],
    ['a timeout may hide an accepted request', new GalaxyNetworkError({ failure: 'timeout', method: 'POST', path: '/', detail: '', cause: null }), 'transient', true],
    ['an unreadable 200 means Galaxy acted', new GalaxyResponseError({ status: 200, method: 'POST', path: '/', problem: 'x' }), 'transient', true],
    ['a proxy 502 page may hide an accepted request', api(502, null, false), 'transient', true],
    ['a 429 was not processed', api(429, null, false, 2000), 'transient', false],
    ['a 408 was not processed', api(408, null, false), 'transient', false],
    ['Galaxy 500 JSON is transient', api(500, 500001), 'transient', true],
    ['401 blocks everything', api(401, 401001), 'blocked', null],
    ['403006 (admin required) blocks everything', api(403, 403006), 'blocked', null],
    ['403004 (a Galaxy setting) fails the request', api(403, 403004), 'permanent', null],
    ["403004 about user_library_import_dir (server_dir from a user who is not an admin: demoted) blocks everything", new GalaxyApiError({ status: 403, errCode: 403004, errMsg: '"user_library_import_dir" is not set in the Galaxy configuration', retryAfterMs: null, fromGalaxy: true, method: 'POST', path: '/api/tools/fetch' }), 'blocked', null],
    ['400 fails the request', api(400, 400008), 'permanent', null],
    ["Galaxy's 'No route for' page (404, no err_code) is retried, and Galaxy did not act", api(404, null, false), 'transient', false],
    ['405 is retried, and Galaxy did not act', api(405, null, true), 'transient', false],
    ['501 is retried, and Galaxy did not act', api(501, 501001), 'transient', false],
    ["Galaxy's 404 for a missing object (404001) fails the request", api(404, 404001), 'permanent', null],
  ];
  for (const [name, err, kind, uncertain] of cases) {
    it(name, () => {
      const v = classify(err);

      assert.equal(v.kind, kind);
      if (uncertain !== null && v.kind === 'transient') assert.equal(v.uncertain, uncertain);
    });
  }

  it("a 413 (the proxy's client_max_body_size) fails the request as too large; no other refusal is", () => {
    const v = classify(api(413, null, false));
    assert.equal(v.kind === 'permanent' ? v.tooLarge : null, true);
    assert.match(v.message, /larger than Galaxy's proxy takes: raise its client_max_body_size/);
    for (const err of [api(400, 400008), api(403, 403004), api(404, 404001)]) {
      const other = classify(err);
      assert.equal(other.kind === 'permanent' ? other.tooLarge : null, undefined, String(err));
    }
  });

  it('keeps Retry-After', () => {
    const v = classify(api(429, null, false, 2000));

    assert.equal(v.kind === 'transient' ? v.retryAfterMs : null, 2000);
  });
});

describe('backoffMs', () => {
  it('grows exponentially with full jitter, capped', () => {
    assert.equal(backoffMs(1, galaxyBackoff(600_000), null, () => 1), 1000);
    assert.equal(backoffMs(4, galaxyBackoff(600_000), null, () => 1), 8000);
    assert.equal(backoffMs(4, galaxyBackoff(600_000), null, () => 0.5), 4000);
    assert.equal(backoffMs(30, galaxyBackoff(5000), null, () => 1), 5000);
  });

  it('never waits less than Retry-After, nor more than the cap', () => {
    assert.equal(backoffMs(1, galaxyBackoff(600_000), 30_000, () => 0), 30_000);
    assert.equal(backoffMs(1, galaxyBackoff(10_000), 30_000, () => 0), 10_000);
  });
});

describe('backoffMs without jitter', () => {
  it('grows by its factor from firstMs up to the cap', () => {
    const poll = { firstMs: 1000, capMs: 10_000, factor: 1.5, jitter: false };

    assert.deepEqual([1, 2, 3, 4, 7].map((n) => backoffMs(n, poll)), [1000, 1500, 2250, 3375, 10_000]);
  });
});

describe('retry', () => {
  it('tries again after the wait onFailure names, and returns the first success', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const waits: number[] = [];
    let calls = 0;
    const done = retry((attempt) => {
      calls++;
      return attempt < 3 ? Promise.reject(new Error(`fail ${attempt}`)) : Promise.resolve('ok');
    }, { clock: systemClock, onFailure: (_err, attempt) => {
      const ms = backoffMs(attempt, { firstMs: 100, capMs: 1000, jitter: false });
      waits.push(ms);
      return ms;
    } });
    await flush();
    assert.equal(calls, 1);
    t.mock.timers.tick(99);
    await flush();
    assert.equal(calls, 1, 'not before the wait is over');
    t.mock.timers.tick(1);
    await flush();
    assert.equal(calls, 2);
    t.mock.timers.tick(200);

    assert.equal(await done, 'ok');
    assert.deepEqual(waits, [100, 200]);
  });

  it('throws the error when onFailure gives up', async () => {
    await assert.rejects(retry(() => Promise.reject(new Error('for good')), { clock: systemClock, onFailure: () => null }), /for good/);
  });

  it('ends with StoppedError when its signal aborts during a wait', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const stop = new AbortController();
    const done = retry(() => Promise.reject(new Error('down')), { clock: systemClock, signal: stop.signal, onFailure: () => 60_000 });
    await flush();
    stop.abort();

    await assert.rejects(done, StoppedError);
  });

  it('waits for `before` ahead of every try (the gate)', async () => {
    const order: string[] = [];
    let n = 0;
    await retry(() => {
      order.push('try');
      return ++n < 2 ? Promise.reject(new Error('x')) : Promise.resolve();
    }, { clock: systemClock, before: () => Promise.resolve(void order.push('gate')), onFailure: () => Promise.resolve() });

    assert.deepEqual(order, ['gate', 'try', 'gate', 'try']);
  });
});

/** Let pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}


describe('isOutage: Galaxy down as a whole, so that an attempt does not count', () => {
  const refused = (p: string): GalaxyNetworkError => new GalaxyNetworkError({ failure: 'refused', method: 'GET', path: p, detail: 'ECONNREFUSED', cause: null });
  const proxy502 = new GalaxyApiError({ status: 502, errCode: null, errMsg: 'Galaxy is down', retryAfterMs: null, fromGalaxy: false, method: 'POST', path: '/api/tools/fetch' });
  const galaxy500 = new GalaxyApiError({ status: 500, errCode: 500001, errMsg: 'boom', retryAfterMs: null, fromGalaxy: true, method: 'POST', path: '/api/tools/fetch' });

  it('no answer, or a proxy\'s 502, while /api/version gets none either: an outage', async () => {
    assert.equal(await isOutage(classify(refused('/api/tools/fetch')), () => Promise.reject(refused('/api/version'))), true);
    assert.equal(await isOutage(classify(proxy502), () => Promise.reject(proxy502)), true);
  });

  it('the same failure while /api/version answers, or an error Galaxy itself answered: counted', async () => {
    let asked = 0;
    assert.equal(await isOutage(classify(refused('/api/tools/fetch')), () => (asked++, Promise.resolve({ version_major: '26.1' }))), false);
    assert.equal(await isOutage(classify(galaxy500), () => (asked++, Promise.reject(refused('/api/version')))), false);
    assert.equal(asked, 1, 'Galaxy\'s own answer needs no look at /api/version');
  });
});
