import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GRID_MS, alignedDelay, gridPoint } from '../../src/pipeline/grid.js';

describe('the grid', () => {
  it('gridPoint is the first point at or after a time', () => {
    assert.equal(gridPoint(0, 200), 0);
    assert.equal(gridPoint(1, 200), 200);
    assert.equal(gridPoint(200, 200), 200);
    assert.equal(gridPoint(201, 200), 400);
  });

  it('a short pause ends on the finest grid, at most one step later', () => {
    for (const now of [0, 13, 199, 1_000_050]) {
      const d = alignedDelay(now, 250);
      assert.equal((now + d) % GRID_MS, 0, `at ${now}`);
      assert.ok(d >= 250 && d < 250 + GRID_MS, `at ${now}: ${d}`);
    }
  });

  it('a long pause ends on a coarser grid, at most a quarter later and never on a grid coarser than 1.6 s', () => {
    const now = 12_345;
    const two = alignedDelay(now, 2000);
    const ten = alignedDelay(now, 10_000);
    assert.equal((now + two) % 400, 0, 'a 2 s pause: a 400 ms grid (at most a quarter of it)');
    assert.ok(two >= 2000 && two <= 2500);
    assert.equal((now + ten) % 1600, 0, 'a 10 s pause: the coarsest grid');
    assert.ok(ten >= 10_000 && ten < 11_600);
  });

  it('pauses of different lengths meet on the same points (a coarse grid\'s points are the fine one\'s)', () => {
    const now = 7_777;
    const ends = [300, 900, 2000, 6400].map((d) => now + alignedDelay(now, d));
    for (const end of ends) assert.equal(end % GRID_MS, 0);
  });
});
