import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistoryPool } from '../../src/pipeline/histories.js';
import { turns } from '../fakes.js';

function pool(max?: number) {
  const meta = new Map<string, string>();
  const created: string[] = [];
  let failures = 0;
  const client = {
    createHistory: (name: string) => {
      if (failures > 0 && failures--) return Promise.reject(new Error('no history today'));
      const id = `H${created.length + 1}`;
      created.push(name);
      return Promise.resolve({ id, name });
    },
    listJobs: () => Promise.resolve([]),
  };
  const ledger = {
    getMeta: (k: string) => meta.get(k) ?? null,
    setMeta: (k: string, v: string) => void meta.set(k, v),
    coordinator: { replica: null },
    jobsOf: () => new Set<string>(),
    transaction: <T>(fn: () => T): T => fn(),
    rememberJob: () => undefined,
  };
  return { histories: new HistoryPool(client, ledger as never, max === undefined ? {} : { max }), created, meta, failNext: (n: number) => void (failures = n) };
}

describe('HistoryPool: one history per upload request on its way, at most `max` at once', () => {
  it('makes a history only while fewer than max are held; a request beyond waits for one to be released and takes it', async () => {
    const { histories, created } = pool(2);
    const a = await histories.acquire();
    const b = await histories.acquire();
    let third: string | null = null;
    void histories.acquire().then((h) => (third = h));
    await turns();
    const waited = third;
    histories.release(a);
    await turns();

    assert.deepEqual([a, b], ['H1', 'H2']);
    assert.equal(waited, null, 'the third request waits while two are held');
    assert.equal(third, 'H1', 'and takes the history released');
    assert.equal(created.length, 2, 'no third history in Galaxy');
  });

  it('counts a history being made as held: requests at the same moment make no more than max', async () => {
    const { histories, created } = pool(2);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) void histories.acquire().then((h) => got.push(h));
    await turns();
    const first = [...got];
    histories.release('H1');
    histories.release('H2');
    await turns();

    assert.deepEqual(first, ['H1', 'H2']);
    assert.equal(created.length, 2);
    assert.deepEqual(got.slice(2).sort(), ['H1', 'H2'], 'the next two take the released ones; the fifth still waits');
  });

  it('lets a waiting request try when making a history failed', async () => {
    const { histories, created, failNext } = pool(1);
    failNext(1);
    const first = histories.acquire();
    let second: string | null = null;
    void histories.acquire().then((h) => (second = h));
    await assert.rejects(first, /no history/);
    await turns();

    assert.equal(second, 'H1');
    assert.equal(created.length, 1);
  });

  it('gives up waiting when the daemon stops, and a later release does not go to the request that gave up', async () => {
    const { histories, created } = pool(1);
    const a = await histories.acquire();
    const stop = new AbortController();
    const waiting = histories.acquire(stop.signal);
    let next: string | null = null;
    void histories.acquire().then((h) => (next = h));
    stop.abort();
    await assert.rejects(waiting, /stopping/);
    histories.release(a);
    await turns();

    assert.equal(next, 'H1', 'the release goes to the request still waiting');
    assert.equal(created.length, 1);
    await assert.rejects(histories.acquire(stop.signal), /stopping/, 'an aborted signal refuses at once while all are held');
  });

  it('reuses the history released last, and keeps the pool in the ledger across runs', async () => {
    const { histories, meta } = pool();
    const [a, b] = [await histories.acquire(), await histories.acquire()];
    histories.release(a);
    histories.release(b);
    const again = await histories.acquire();

    assert.equal(again, b);
    assert.deepEqual(JSON.parse(meta.get('histories') ?? '[]'), ['H1', 'H2']);
  });
});
