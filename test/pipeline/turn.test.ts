import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { TurnGather } from '../../src/pipeline/turn.js';

describe('TurnGather and the system clock\'s 0 ms timer', () => {
  it('hands what was asked in one turn over together at its end, and what is asked later in the next hand-over', async () => {
    const handed: number[][] = [];
    const g = new TurnGather<number>(systemClock, (items) => void handed.push(items));
    g.add(1);
    g.add(2);
    assert.deepEqual(handed, [], 'nothing before the turn ends');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(handed, [[1, 2]]);
    g.add(3);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(handed, [[1, 2], [3]]);
  });

  it('a 0 ms timer of the system clock runs at the end of the turn, before a 1 ms timer, and its clearTimeout cancels it', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      // Inside a timer's callback the order of the two is fixed (Node's loop: check phase before timers).
      setTimeout(() => {
        systemClock.setTimeout(() => void order.push('1 ms'), 1);
        systemClock.setTimeout(() => void order.push('0 ms'), 0);
        const cancelled = systemClock.setTimeout(() => void order.push('cancelled'), 0);
        systemClock.clearTimeout(cancelled);
        setTimeout(resolve, 20);
      }, 0);
    });
    assert.deepEqual(order, ['0 ms', '1 ms']);
  });
});
