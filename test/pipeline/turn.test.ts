import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { TurnGather } from '../../src/pipeline/turn.js';

describe('TurnGather (system clock)', () => {
  it('hands what was asked in one turn over together at the next 0 ms timer, and what is asked after that in the next hand-over', async () => {
    const handed: number[][] = [];
    const g = new TurnGather<number>(systemClock, (items) => void handed.push(items));
    g.add(1);
    g.add(2);
    assert.deepEqual(handed, [], 'nothing within the turn');
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(handed, [[1, 2]]);
    g.add(3);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(handed, [[1, 2], [3]]);
  });
});
