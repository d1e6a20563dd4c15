import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArrivalRate } from '../../src/pipeline/arrival-rate.js';
import { DueHeap } from '../../src/pipeline/due-heap.js';

describe('DueHeap', () => {
  it('pops looks by due time, then by the order they were scheduled', () => {
    const heap = new DueHeap();
    const times = [50, 10, 30, 10, 70, 0, 30];
    times.forEach((at, seq) => heap.push({ at, seq, path: `f${seq}` }));
    const out: string[] = [];
    for (let d = heap.pop(); d !== undefined; d = heap.pop()) out.push(`${d.at}:${d.seq}`);

    assert.deepEqual(out, ['0:5', '10:1', '10:3', '30:2', '30:6', '50:0', '70:4']);
    assert.equal(heap.peek(), undefined);
  });
});

describe('ArrivalRate', () => {
  it('counts files a second over the window, the more of this window and the one before; nothing after two quiet windows', () => {
    const rate = new ArrivalRate(200);
    for (let i = 0; i < 20; i++) rate.arrived(1000 + i);
    assert.equal(rate.perSecond(1100), 100, 'a burst shows within its first window');
    assert.equal(rate.perSecond(1250), 100, 'the window before still counts');
    assert.equal(rate.perSecond(1700), 0, 'two quiet windows later');
  });
});
