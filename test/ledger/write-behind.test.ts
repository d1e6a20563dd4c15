import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { Unwritten } from '../../src/ledger/postgres/memory.js';
import { WriteBehind } from '../../src/ledger/postgres/write-behind.js';
import { turns } from '../fakes.js';

/** A memory of dirty paths, and a database that answers as told. */
function setup(o: { fail?: () => boolean; canWrite?: () => boolean } = {}) {
  let dirty = new Set<string>();
  const written: string[][] = [];
  const failures: unknown[] = [];
  let calls = 0;
  const writes = new WriteBehind({
    memory: {
      take: (): Unwritten => {
        const paths = [...dirty].sort();
        dirty = new Set();
        return { paths, jobs: [], meta: new Map() };
      },
      giveBack: (u) => {
        for (const p of u.paths) dirty.add(p);
      },
    },
    write: (u) => {
      calls++;
      if (o.fail?.()) return Promise.reject(new Error('ECONNREFUSED'));
      written.push(u.paths);
      return Promise.resolve([]);
    },
    canWrite: o.canWrite ?? (() => true),
    written: () => Promise.resolve(),
    failed: (err) => void failures.push(err),
    ending: () => false,
    clock: systemClock,
    signal: new AbortController().signal,
  });
  const change = (p: string): void => {
    dirty.add(p);
    writes.changed();
  };
  return { writes, change, written, failures, calls: () => calls };
}

describe('WriteBehind (fake timers)', () => {
  it('writes the changes of 20 ms in one transaction, and commit waits for it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = setup();
    s.change('a');
    s.change('b');
    let committed = false;
    const commit = s.writes.commit().then(() => (committed = true));
    await turns();
    assert.equal(committed, false);
    t.mock.timers.tick(0);
    await commit;

    assert.deepEqual(s.written, [['a', 'b']]);
    assert.equal(s.writes.unwritten, 0);
  });

  it('while the database is away, keeps the changes and tries again with a growing pause', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let down = true;
    const s = setup({ fail: () => down });
    s.change('a');
    t.mock.timers.tick(20);
    await turns();
    assert.equal(s.calls(), 1);
    t.mock.timers.tick(499);
    await turns();
    assert.equal(s.calls(), 1, 'the first pause is 500 ms');
    t.mock.timers.tick(1);
    await turns();
    assert.equal(s.calls(), 2);
    down = false;
    t.mock.timers.tick(1000);
    await turns();

    assert.equal(s.calls(), 3);
    assert.deepEqual(s.written, [['a']], 'nothing was dropped');
    assert.equal(s.failures.length, 2);
    assert.equal(s.writes.unwritten, 0);
  });

  it('does not spin while the replica name is not held: it writes once told it is held again', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let held = false;
    let asked = 0;
    const s = setup({ canWrite: () => (asked++, held) });
    s.change('a');
    for (let i = 0; i < 50; i++) {
      t.mock.timers.tick(100);
      await turns();
    }
    assert.equal(s.calls(), 0);
    assert.equal(s.writes.unwritten, 1);
    assert.ok(asked <= 2, `asked ${asked} times in 5 s: it spins`);
    held = true;
    s.writes.schedule(0);
    t.mock.timers.tick(0);
    await turns();

    assert.deepEqual(s.written, [['a']]);
  });
});
