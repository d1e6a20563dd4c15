import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatasetStorage } from '../../src/galaxy/client.js';
import { GalaxyApiError } from '../../src/galaxy/errors.js';
import { NO_CELERY, STORED_TIMING, StoredHashes, VERIFY_AT_ONCE } from '../../src/pipeline/stored-hashes.js';
import { events } from '../fakes.js';

const AT = { file: 'run1/a.fastq', library: 'Lab', folder: '/run1' };
const CHECKSUM = { hashFunction: 'SHA-256' as const, hex: 'aa'.repeat(32) };
const storage = (hashes: [string, string][], state = 'ok'): DatasetStorage => ({ dataset_state: state, hashes: hashes.map(([f, v]) => ({ hash_function: f, hash_value: v })) });

/**
 * A Galaxy answering `storages` in turn (the last one again), its Celery on or off; a clock that
 * moves only when waited on, so the schedule of looks is the test's to read.
 */
function setup(o: { celery?: boolean; storages: (DatasetStorage | Error)[]; fileNow?: string | null }) {
  let now = 0;
  const sleeps: number[] = [];
  const asked: string[] = [];
  const seen = { storage: 0, configuration: 0 };
  const emit = events();
  const stored = new StoredHashes({
    client: {
      configuration: () => (seen.configuration++, Promise.resolve({ enable_celery_tasks: o.celery ?? true })),
      datasetStorage: () => {
        const a = o.storages[Math.min(seen.storage++, o.storages.length - 1)] as DatasetStorage | Error;
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
      },
      computeDatasetHash: (id, fn) => (asked.push(`${id} ${fn}`), Promise.resolve({ id: 'task' })),
    },
    checksumNow: () => Promise.resolve(o.fileNow === undefined ? 'ff'.repeat(32) : o.fileNow),
    clock: { now: () => now, sleep: (ms) => (sleeps.push(ms), (now += ms), Promise.resolve(true)) },
    signal: new AbortController().signal,
    emit,
  });
  return { stored, sleeps, asked, seen, emit, elapsed: () => now };
}

describe('stored hashes (method = paths): the hash Galaxy stores after the job, against the file\'s checksum', () => {
  it('the hash Galaxy computed by itself (Celery, calculate_dataset_hash: upload) equal to the checksum: verified, Galaxy asked for nothing', async () => {
    const s = setup({ storages: [storage([]), storage([['SHA-256', CHECKSUM.hex.toUpperCase()]])] });
    assert.equal((await s.stored.verify(AT, 'D1', 'L1', CHECKSUM)).kind, 'verified');
    assert.deepEqual(s.asked, [], 'its own hash was waited for, not asked for twice');
    assert.deepEqual(s.sleeps, [STORED_TIMING.looks.firstMs]);
  });

  it('a stored hash of other bytes: a mismatch naming both, and what the file holds now (changed, unchanged, gone)', async () => {
    const other = storage([['SHA-256', 'bb'.repeat(32)]]);
    const mismatch = { kind: 'mismatch', hashFunction: 'SHA-256', expected: CHECKSUM.hex, got: 'bb'.repeat(32) };
    assert.deepEqual(await setup({ storages: [other], fileNow: 'bb'.repeat(32) }).stored.verify(AT, 'D1', 'L1', CHECKSUM), { ...mismatch, file: 'changed' });
    assert.deepEqual(await setup({ storages: [other], fileNow: CHECKSUM.hex }).stored.verify(AT, 'D1', 'L1', CHECKSUM), { ...mismatch, file: 'unchanged' });
    assert.deepEqual(await setup({ storages: [other], fileNow: null }).stored.verify(AT, 'D1', 'L1', CHECKSUM), { ...mismatch, file: 'gone' });
  });

  it('only another function\'s hash stored (Galaxy\'s hash_function is not ours): ours is asked for at once, then compared', async () => {
    const s = setup({ storages: [storage([['MD5', 'cc'.repeat(16)]]), storage([['MD5', 'cc'.repeat(16)], ['SHA-256', CHECKSUM.hex]])] });
    assert.equal((await s.stored.verify(AT, 'D1', 'L1', CHECKSUM)).kind, 'verified');
    assert.deepEqual(s.asked, ['L1 SHA-256']);
  });

  it('no hash at all: waited for autoWaitMs, then asked for once; never stored: unverified after giveUpMs, said with the file', async () => {
    const s = setup({ storages: [storage([])] });
    const v = await s.stored.verify(AT, 'D1', 'L1', CHECKSUM);
    assert.equal(v.kind, 'unverified');
    assert.match(v.kind === 'unverified' ? v.reason : '', /stored no SHA-256 hash of dataset D1 within 5 min .*was asked for one .*Celery workers running/);
    assert.deepEqual(s.asked, ['L1 SHA-256'], 'asked once');
    assert.ok(s.elapsed() >= STORED_TIMING.giveUpMs && s.elapsed() < STORED_TIMING.giveUpMs + STORED_TIMING.looks.capMs, `gave up at ${s.elapsed()} ms`);
    assert.ok(s.sleeps.every((ms) => ms <= STORED_TIMING.looks.capMs), 'each pause capped');
    assert.ok(s.sleeps.length < 70, `${s.sleeps.length} looks, not one a second`);
    assert.deepEqual(s.emit.of('checksum.unverified').map((e) => [e.file, e.dataset_id]), [['run1/a.fastq', 'D1']]);
  });

  it('Galaxy without Celery: unverified at once, no storage read, and said once for all files', async () => {
    const s = setup({ celery: false, storages: [storage([])] });
    assert.deepEqual(await s.stored.verify(AT, 'D1', 'L1', CHECKSUM), { kind: 'unverified', reason: NO_CELERY, everyFile: true });
    assert.deepEqual(await s.stored.verify({ ...AT, file: 'run1/b.fastq' }, 'D2', 'L2', CHECKSUM), { kind: 'unverified', reason: NO_CELERY, everyFile: true });
    assert.deepEqual([s.seen.configuration, s.seen.storage], [1, 0], 'the configuration read once');
    assert.equal(s.emit.of('checksum.unverifiable').length, 1);
    assert.deepEqual(s.emit.of('checksum.unverified'), []);
  });

  it('a transient failure of the storage read is retried and said (galaxy.retry); a permanent one leaves the file unverified with why', async () => {
    const gateway = new GalaxyApiError({ status: 502, errCode: null, errMsg: 'Bad Gateway', retryAfterMs: null, fromGalaxy: false, method: 'GET', path: '/api/datasets/L1/storage' });
    const s = setup({ storages: [gateway, storage([['SHA-256', CHECKSUM.hex]])] });
    assert.equal((await s.stored.verify(AT, 'D1', 'L1', CHECKSUM)).kind, 'verified');
    assert.deepEqual(s.emit.of('galaxy.retry').map((e) => [e.request, e.folder, e.attempt]), [['the stored hash of dataset D1 (run1/a.fastq)', '/run1', 1]]);

    const gone = new GalaxyApiError({ status: 404, errCode: 404001, errMsg: 'LibraryDatasetDatasetAssociation not found', retryAfterMs: null, fromGalaxy: true, method: 'GET', path: '/api/datasets/L1/storage' });
    const p = setup({ storages: [gone] });
    const v = await p.stored.verify(AT, 'D1', 'L1', CHECKSUM);
    assert.equal(v.kind, 'unverified');
    assert.match(v.kind === 'unverified' ? v.reason : '', /could not be read: LibraryDatasetDatasetAssociation not found/);
  });

  it('a dataset whose state is not ok in its storage answer: its hashes are not taken as the bytes\'', async () => {
    const s = setup({ storages: [storage([['SHA-256', 'bb'.repeat(32)]], 'error'), storage([['SHA-256', CHECKSUM.hex]])] });
    assert.equal((await s.stored.verify(AT, 'D1', 'L1', CHECKSUM)).kind, 'verified');
  });
});

describe('stored hashes of a whole job (verifyAll)', () => {
  const ROUTE_ = { library: 'Lab', folder: ['run1'], fileType: 'auto', dbkey: '?', tags: [], link: false, access: null, notify: [] };
  const files = Array.from({ length: 20 }, (_, i) => ({ path: `run1/f${i}.txt`, size: 1, mtimeMs: 1, readyAt: 0, checksum: { hashFunction: 'SHA-256' as const, hex: `${String(i).padStart(2, '0')}`.repeat(32) } }));
  const matched = new Map(files.map((f, i) => [f.path, { id: `D${i}`, ldda_id: `L${i}`, name: f.path, type: 'file' as const, state: 'ok' }]));
  /** Galaxy storing each file's hash by itself after `auto` ms of the clock (null: never), or when asked. */
  function galaxy(auto: number | null, celeryWorking = true, firstFailsOnceAsked = false) {
    let now = 0;
    const reads: string[] = [];
    const asked = new Set<string>();
    let inFlight = 0;
    let most = 0;
    const stored = new StoredHashes({
      client: {
        configuration: () => Promise.resolve({ enable_celery_tasks: true }),
        datasetStorage: async (ldda) => {
          reads.push(ldda);
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setImmediate(r));
          inFlight--;
          const i = Number(ldda.slice(1));
          if (firstFailsOnceAsked && ldda === 'L0' && asked.has('L0')) {
            throw new GalaxyApiError({ status: 403, errCode: 403002, errMsg: 'You are not allowed to access this dataset', retryAfterMs: null, fromGalaxy: true, method: 'GET', path: '/api/datasets/L0/storage' });
          }
          const have = celeryWorking && ((auto !== null && now >= auto) || asked.has(ldda));
          return storage(have ? [['SHA-256', files[i]?.checksum.hex ?? '']] : []);
        },
        computeDatasetHash: (ldda) => (asked.add(ldda), Promise.resolve({ id: 'task' })),
      },
      checksumNow: () => Promise.resolve(null),
      clock: { now: () => now, sleep: (ms) => ((now += ms), Promise.resolve(true)) },
      signal: new AbortController().signal,
      emit: events(),
    });
    return { stored, reads, asked, most: () => most };
  }

  it('the first file\'s hash is waited for alone; the others are read after it, at most VERIFY_AT_ONCE at a time, each at its first look', async () => {
    const g = galaxy(1000);
    const v = await g.stored.verifyAll(files, ROUTE_, matched);
    assert.deepEqual([...v.values()].map((x) => x.kind), files.map(() => 'verified'));
    assert.equal(g.reads.filter((l) => l === 'L0').length, 3, 'the first: at 0 ms, 500 ms, 1,500 ms');
    assert.equal(g.reads.length, 3 + 19, 'the others once each');
    assert.ok(g.most() <= VERIFY_AT_ONCE, `${g.most()} at once`);
    assert.equal(g.asked.size, 0);
  });

  it('Galaxy hashing nothing by itself (calculate_dataset_hash: never): the first is asked for after autoWaitMs, the others at once', async () => {
    const g = galaxy(null);
    const v = await g.stored.verifyAll(files, ROUTE_, matched);
    assert.deepEqual(new Set([...v.values()].map((x) => x.kind)), new Set(['verified']));
    assert.equal(g.asked.size, 20);
    assert.ok(g.reads.length <= 20 * 2 + 10, `${g.reads.length} reads: the others' two each (one to ask, one to find)`);
  });

  it('the first file\'s storage unreadable after its hash was asked for: the others are still asked for at once', async () => {
    const g = galaxy(null, true, true);
    const v = await g.stored.verifyAll(files, ROUTE_, matched);
    assert.equal(v.get('run1/f0.txt')?.kind, 'unverified');
    assert.deepEqual(new Set([...v.values()].slice(1).map((x) => x.kind)), new Set(['verified']));
    assert.equal(g.asked.size, 20);
    assert.ok(g.reads.length <= 20 * 2 + 10, `${g.reads.length} reads: the others' two each (one to ask, one to find), not one every few seconds for autoWaitMs`);
  });

  it('no Celery worker running: the first gives up after giveUpMs, the others at once, each said', async () => {
    const g = galaxy(null, false);
    const v = await g.stored.verifyAll(files, ROUTE_, matched);
    assert.deepEqual(new Set([...v.values()].map((x) => x.kind)), new Set(['unverified']));
    assert.equal(new Set(g.reads).size, 1, 'only the first file\'s storage was read');
  });
});
