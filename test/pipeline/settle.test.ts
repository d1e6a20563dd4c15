import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { Fingerprint } from '../../src/pipeline/settle.js';
import { Settler } from '../../src/pipeline/settle.js';
import { turns } from '../fakes.js';

function settler(sizes: Map<string, Fingerprint | null>, o: { marker?: boolean } = {}) {
  const ready: string[] = [];
  const stats: string[] = [];
  const gone: string[] = [];
  const slow: string[] = [];
  let marker = false;
  const s = new Settler({
    settleMs: 1000,
    readyMarker: o.marker ? 'READY' : null,
    stat: (p) => (stats.push(p), Promise.resolve(sizes.get(p) ?? null)),
    markerExists: () => Promise.resolve(marker),
    onReady: (p) => void ready.push(p),
    onGone: (p) => void gone.push(p),
    onSlow: (p) => void slow.push(p),
    slowMs: 5000,
    clock: systemClock,
  });
  return { s, ready, gone, slow, stats, setMarker: () => (marker = true) };
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
});
