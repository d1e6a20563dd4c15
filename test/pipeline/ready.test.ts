import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { Files } from '../../src/pipeline/files.js';
import { BURST_GRACE_MS, Ready } from '../../src/pipeline/ready.js';
import { statFileSync } from '../../src/pipeline/settle.js';
import { ROUTE, events, memoryRows } from '../fakes.js';
import { tempDir, waitFor } from '../helpers.js';

describe('Ready: settled files checked, claimed and queued', () => {
  it('files that became ready in one turn are queued in one turn, each with its checksum, whatever the time their checksums took', async (t) => {
    const dir = tempDir(t);
    const names = ['a/1.txt', 'b/2.txt', 'c/3.txt', 'c/4.txt', 'd/5.txt', 'e/6.txt'];
    for (const [i, n] of names.entries()) {
      writeFileSync(path.join(dir, n.replace('/', '-')), 'x'.repeat(1000 * (i + 1)));
    }
    const queued: { path: string; turn: number }[] = [];
    let turn = 0;
    const tick = setInterval(() => turn++, 0);
    t.after(() => clearInterval(tick));
    const emit = events();
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const ready = new Ready({
      importDir: dir, rules: { settled: () => null }, files: new Files({ ledger: memoryRows(), emit, clock: systemClock }),
      route: () => ROUTE, queue: (f) => {
        queued.push({ path: f.path, turn });
        assert.match(f.checksum?.hex ?? '', /^[0-9a-f]{64}$/);
        if (queued.length === names.length) done();
      },
      checksum: 'sha256', stat: (p) => statFileSync(dir, p), changed: () => assert.fail('nothing changed'), clock: systemClock, emit,
    });
    for (const n of names) {
      const p = n.replace('/', '-');
      const fp = statFileSync(dir, p);
      assert.ok(fp);
      ready.take(p, fp);
    }
    assert.equal(ready.size, names.length);
    await all;

    assert.deepEqual(new Set(queued.map((q) => q.turn)).size, 1, `one turn: ${JSON.stringify(queued)}`);
    assert.equal(ready.size, 0);
  });

  it(`a backlog settling in two waves less than BURST_GRACE_MS (${BURST_GRACE_MS} ms) apart is one burst: burst(false) once, BURST_GRACE_MS after the last file is queued`, async (t) => {
    const dir = tempDir(t);
    const names = Array.from({ length: 300 }, (_, i) => `f${i}.txt`);
    for (const n of names) writeFileSync(path.join(dir, n), n);
    const said: [boolean, number][] = [];
    let queued = 0;
    const emit = events();
    const ready = new Ready({
      importDir: dir, rules: { settled: () => null }, files: new Files({ ledger: memoryRows(), emit, clock: systemClock }),
      route: () => ROUTE, queue: () => void queued++, checksum: null, stat: (p) => statFileSync(dir, p), changed: () => assert.fail('nothing changed'),
      clock: systemClock, emit, burst: (on) => said.push([on, Date.now()]),
    });
    const wave = (from: number, to: number): void => {
      for (const n of names.slice(from, to)) ready.take(n, statFileSync(dir, n) ?? assert.fail(n));
    };
    wave(0, 200);
    await waitFor(() => (queued === 200 ? true : undefined), 5000, 'the first wave queued', 5);
    await new Promise((r) => setTimeout(r, BURST_GRACE_MS / 2));
    assert.deepEqual(said.map(([on]) => on), [true], 'still one burst, half the grace after the first wave');
    wave(200, 300);
    await waitFor(() => (queued === 300 ? true : undefined), 5000, 'the second wave queued', 5);
    const lastQueued = Date.now();
    await waitFor(() => (said.length === 2 ? true : undefined), 5 * BURST_GRACE_MS, 'the burst to end');

    assert.deepEqual(said.map(([on]) => on), [true, false], 'one burst for both waves');
    assert.ok((said[1]?.[1] ?? 0) - lastQueued >= BURST_GRACE_MS - 20, 'ended a grace after the last file was queued');
  });

  it('a burst ends as soon as its last file is queued when no file is left settling, and waits BURST_GRACE_MS while some are', async (t) => {
    const dir = tempDir(t);
    const names = Array.from({ length: 300 }, (_, i) => `f${i}.txt`);
    for (const n of names) writeFileSync(path.join(dir, n), n);
    const said: [boolean, number][] = [];
    let queued = 0;
    let settling = 100;
    const emit = events();
    const ready = new Ready({
      importDir: dir, rules: { settled: () => null }, files: new Files({ ledger: memoryRows(), emit, clock: systemClock }),
      route: () => ROUTE, queue: () => void queued++, checksum: null, stat: (p) => statFileSync(dir, p), changed: () => assert.fail('nothing changed'),
      clock: systemClock, emit, burst: (on) => said.push([on, Date.now()]), settling: () => settling,
    });
    const wave = (from: number, to: number): void => {
      for (const n of names.slice(from, to)) ready.take(n, statFileSync(dir, n) ?? assert.fail(n));
    };
    wave(0, 200);
    await waitFor(() => (queued === 200 ? true : undefined), 5000, 'the first wave queued', 5);
    await new Promise((r) => setTimeout(r, BURST_GRACE_MS / 2));
    assert.deepEqual(said.map(([on]) => on), [true], '100 files still settling: the burst waits for them');
    settling = 0;
    wave(200, 300);
    await waitFor(() => (queued === 300 ? true : undefined), 5000, 'the second wave queued', 5);
    const lastQueued = Date.now();
    await waitFor(() => (said.length === 2 ? true : undefined), 5 * BURST_GRACE_MS, 'the burst to end', 5);

    assert.deepEqual(said.map(([on]) => on), [true, false], 'one burst for both waves');
    assert.ok((said[1]?.[1] ?? 0) - lastQueued < BURST_GRACE_MS / 2, `ended ${(said[1]?.[1] ?? 0) - lastQueued} ms after the last file was queued, none left settling`);
  });
});
