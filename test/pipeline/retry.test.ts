import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GalaxyApiError, GalaxyNetworkError, GalaxyResponseError } from '../../src/galaxy/errors.js';
import { backoffMs, classify } from '../../src/pipeline/retry.js';

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

  it('keeps Retry-After', () => {
    const v = classify(api(429, null, false, 2000));

    assert.equal(v.kind === 'transient' ? v.retryAfterMs : null, 2000);
  });
});

describe('backoffMs', () => {
  it('grows exponentially with full jitter, capped', () => {
    assert.equal(backoffMs(1, 600_000, null, () => 1), 1000);
    assert.equal(backoffMs(4, 600_000, null, () => 1), 8000);
    assert.equal(backoffMs(4, 600_000, null, () => 0.5), 4000);
    assert.equal(backoffMs(30, 5000, null, () => 1), 5000);
  });

  it('never waits less than Retry-After, nor more than the cap', () => {
    assert.equal(backoffMs(1, 600_000, 30_000, () => 0), 30_000);
    assert.equal(backoffMs(1, 10_000, 30_000, () => 0), 10_000);
  });
});
