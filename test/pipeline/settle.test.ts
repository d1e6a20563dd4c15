import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { Fingerprint } from '../../src/pipeline/settle.js';
import { BACKLOG_GROUP_MS, LOOKS_PER_TURN, Settler } from '../../src/pipeline/settle.js';
import { turns } from '../fakes.js';

function settler(sizes: Map<string, Fingerprint | null>, o: { marker?: boolean; grid?: { ms: number; belowRate: number }; settleMs?: number } = {}) {
  const ready: string[] = [];
  /** When each file was called ready (the fake clock's time). */
  const readyAt = new Map<string, number>();
  const stats: string[] = [];
  const gone: string[] = [];
  const slow: string[] = [];
  let marker = false;
  const s = new Settler({
    settleMs: o.settleMs ?? 1000,
    readyMarker: o.marker ? 'READY' : null,
    stat: (p) => (stats.push(p), sizes.get(p) ?? null),
    markerExists: () => marker,
    onReady: (p) => void (ready.push(p), readyAt.set(p, Date.now())),
    onGone: (p) => void gone.push(p),
    onSlow: (p) => void slow.push(p),
    slowMs: 5000,
    clock: systemClock,
    ...(o.grid ? { grid: o.grid } : {}),
  });
  return { s, ready, readyAt, gone, slow, stats, setMarker: () => (marker = true) };
}

/** Advance fake time in steps, letting the settler's stats answer between them. */
async function advance(t: { mock: { timers: { tick(ms: number): void } } }, ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    t.mock.timers.tick(step);
    await turns();
  }
}

describe('Settler (fake timers)', () => {
  it('calls a file ready once it has not changed for settle_seconds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sizes = new Map([['a', { size: 1, mtimeMs: 1 }]]);
    const { s, ready } = settler(sizes);
    s.touch('a');
    await advance(t, 900);
    assert.deepEqual(ready, [], 'not before settle_seconds');
    await advance(t, 300);

    assert.deepEqual(ready, ['a']);
    assert.equal(s.size, 0);
  });

  it('waits while the file keeps growing, and says once when it is slow', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sizes = new Map([['a', { size: 1, mtimeMs: 1 }]]);
    const { s, ready, slow } = settler(sizes);
    s.touch('a');
    for (let i = 2; i < 12; i++) {
      await advance(t, 700);
      sizes.set('a', { size: i, mtimeMs: i });
      s.touch('a');
    }
    assert.deepEqual(ready, []);
    assert.deepEqual(slow, ['a']);
    await advance(t, 1500);

    assert.deepEqual(ready, ['a']);
  });

  it('drops a file deleted before it settled', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sizes = new Map<string, Fingerprint | null>([['a', { size: 1, mtimeMs: 1 }]]);
    const { s, ready, gone } = settler(sizes);
    s.touch('a');
    await advance(t, 300);
    sizes.set('a', null);
    await advance(t, 1500);

    assert.deepEqual(gone, ['a']);
    assert.deepEqual(ready, []);
  });

  it('takes a stat it is given as the first look: the file is looked at once, after settle_seconds, and is ready then', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sizes = new Map([['a', { size: 1, mtimeMs: 1 }]]);
    const { s, ready, stats } = settler(sizes);
    s.touch('a', { size: 1, mtimeMs: 1 });
    await advance(t, 900);
    const before = stats.length;
    await advance(t, 200);

    assert.equal(before, 0, 'no look before settle_seconds');
    assert.deepEqual(stats, ['a']);
    assert.deepEqual(ready, ['a']);
  });

  it(`a backlog's files found within BACKLOG_GROUP_MS (${BACKLOG_GROUP_MS} ms) of their group's first are ready together, never before settle_seconds`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const fp = { size: 1, mtimeMs: 1 };
    const names = ['a', 'b', 'c', 'd', 'live'];
    const { s, readyAt } = settler(new Map(names.map((n) => [n, fp])));
    // A slow walk: a at 0 ms, b at 200, c at 400 (within the group), d at 600 (a new group); a live file at 200.
    s.touch('a', fp, undefined, true);
    await advance(t, 200);
    s.touch('b', fp, undefined, true);
    s.touch('live', fp);
    await advance(t, 200);
    s.touch('c', fp, undefined, true);
    await advance(t, 200);
    s.touch('d', fp, undefined, true);
    await advance(t, 2000);

    const at = Object.fromEntries(names.map((n) => [n, readyAt.get(n)]));
    assert.deepEqual(at, { a: 1000 + BACKLOG_GROUP_MS, b: 1000 + BACKLOG_GROUP_MS, c: 1000 + BACKLOG_GROUP_MS, d: 1600 + BACKLOG_GROUP_MS, live: 1200 });
  });

  it('a backlog group reaches at most half the settle window: with settle_seconds = 0.3, a group waits 150 ms, not BACKLOG_GROUP_MS', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const fp = { size: 1, mtimeMs: 1 };
    const { s, readyAt } = settler(new Map([['a', fp], ['b', fp]]), { settleMs: 300 });
    s.touch('a', fp, undefined, true);
    await advance(t, 100, 50);
    s.touch('b', fp, undefined, true);
    await advance(t, 1000, 50);

    assert.deepEqual([readyAt.get('a'), readyAt.get('b')], [450, 450]);
  });

  it('a backlog file due already (a ledger row seen long ago), or due well before the group waiting, does not wait for that group', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 });
    const fp = { size: 1, mtimeMs: 1 };
    const { s, readyAt } = settler(new Map([['walked', fp], ['row', fp], ['recent', fp]]));
    s.touch('walked', fp, undefined, true); // due at 11,000: its group's time is 11,000 + BACKLOG_GROUP_MS
    s.touch('row', fp, 1_000, true); // seen at 1,000: due long ago
    s.touch('recent', fp, 9_700 - BACKLOG_GROUP_MS, true); // due at 10,700 - BACKLOG_GROUP_MS: more than BACKLOG_GROUP_MS before the group's time
    await advance(t, 2000);

    assert.ok((readyAt.get('row') ?? Infinity) <= 10_100, `at its first look (${readyAt.get('row')})`);
    assert.equal(readyAt.get('recent'), 10_700, 'a group of its own, BACKLOG_GROUP_MS after its own time');
    assert.equal(readyAt.get('walked'), 11_000 + BACKLOG_GROUP_MS);
  });

  it('on a grid at low rates: files that become ready within one step are ready together at its next point, never before settle_seconds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const fp = { size: 1, mtimeMs: 1 };
    const sizes = new Map([['a', fp], ['b', fp], ['c', fp]]);
    const { s, readyAt } = settler(sizes, { grid: { ms: 200, belowRate: 100 } });
    await advance(t, 10, 10);
    s.touch('a', fp); // settled at 1010
    await advance(t, 110, 10);
    s.touch('b', fp); // settled at 1120
    await advance(t, 130, 10);
    s.touch('c'); // no first look given: looked at now (250), settled at 1250
    await advance(t, 1500, 10);

    assert.deepEqual([...readyAt], [['a', 1200], ['b', 1200], ['c', 1400]]);
  });

  it('leaves the grid within one step of belowRate new files a second, and takes it again when they slow down', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const fp = { size: 1, mtimeMs: 1 };
    const sizes = new Map(['a', 'b', 'c', 'd', 'e'].map((p) => [p, fp]));
    // 15 files a second over a step of 200 ms: 3 new files in a step.
    const { s, readyAt } = settler(sizes, { grid: { ms: 200, belowRate: 15 } });
    await advance(t, 10, 10);
    for (const p of ['a', 'b', 'c']) s.touch(p, fp); // settled at 1010: a and b on the grid, c the third new file of the step
    await advance(t, 240, 10);
    s.touch('d', fp); // three new in the step before: off the grid, settled at 1250
    await advance(t, 1800, 10);
    s.touch('e', fp); // none new in the last two steps: on the grid again, settled at 3050
    await advance(t, 2000, 10);

    assert.deepEqual([...readyAt], [['c', 1010], ['a', 1200], ['b', 1200], ['d', 1250], ['e', 3200]]);
  });

  it('with a ready marker, waits for the marker, not the clock', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sizes = new Map([['run/a', { size: 1, mtimeMs: 1 }]]);
    const { s, ready, setMarker } = settler(sizes, { marker: true });
    s.touch('run/a');
    await advance(t, 5000);
    assert.deepEqual(ready, []);
    const waitingBefore = s.waitingForMarker;
    setMarker();
    s.markerAppeared('run');
    await advance(t, 100);

    assert.equal(waitingBefore, 1, 'counted as waiting for its marker');
    assert.deepEqual(ready, ['run/a']);
    assert.equal(s.waitingForMarker, 0);
  });
  it('looks at a backlog found at once in turns of at most LOOKS_PER_TURN stats, and calls every file ready', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const n = LOOKS_PER_TURN * 2 + 7;
    const sizes = new Map(Array.from({ length: n }, (_, i) => [`d/f${i}`, { size: i, mtimeMs: 1 }] as const));
    const { s, ready, stats } = settler(sizes);
    for (const [p, fp] of sizes) s.touch(p, fp);
    t.mock.timers.tick(1000);
    const firstTurn = stats.length;
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));

    assert.equal(firstTurn, LOOKS_PER_TURN, 'one turn takes at most LOOKS_PER_TURN looks');
    assert.equal(stats.length, n, 'each file looked at once');
    assert.equal(ready.length, n);
    assert.equal(s.size, 0);
  });

  it('takes a first look made long ago (a row of the ledger) as settled once the file is unchanged now', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sizes = new Map([['a', { size: 1, mtimeMs: 1 }], ['b', { size: 2, mtimeMs: 2 }]]);
    const { s, ready, stats } = settler(sizes);
    s.touch('a', { size: 1, mtimeMs: 1 }, Date.now() - 5000);
    s.touch('b', { size: 1, mtimeMs: 1 }, Date.now() - 5000);
    await advance(t, 10, 1);
    const readyAtOnce = [...ready];
    await advance(t, 1100);

    assert.deepEqual(readyAtOnce, ['a'], 'unchanged since the old look: ready at the first look');
    assert.deepEqual(ready, ['a', 'b'], 'changed since: ready one settle window later');
    assert.deepEqual(stats, ['a', 'b', 'b']);
  });
});
