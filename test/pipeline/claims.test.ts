import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { LedgerUnavailableError } from '../../src/ledger/ledger.js';
import { localCoordinator } from '../../src/ledger/coordinator.js';
import { Claims } from '../../src/pipeline/claims.js';
import { events, memoryRows, turns } from '../fakes.js';

const file = (path: string) => ({ path, size: 1, mtimeMs: 1 });

describe('Claims (fake timers)', () => {
  it('claims files settled within a few milliseconds in one call', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const calls: string[][] = [];
    const claims = new Claims({ replica: 'r1', claim: (files) => (calls.push(files.map((f) => f.path)), Promise.resolve(new Set(['a']))) }, { clock: systemClock, signal: new AbortController().signal, emit: events() });
    const a = claims.claim(file('a'));
    const b = claims.claim(file('b'));
    t.mock.timers.tick(10);

    assert.deepEqual(await Promise.all([a, b]), [true, false]);
    assert.deepEqual(calls, [['a', 'b']]);
  });

  it('with one process owning the ledger, claims what settled in the same turn at the next turn, without waiting 10 ms', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const calls: string[][] = [];
    const claims = new Claims({ replica: null, claim: (files) => (calls.push(files.map((f) => f.path)), Promise.resolve(new Set(['a', 'b']))) }, { clock: systemClock, signal: new AbortController().signal, emit: events() });
    const a = claims.claim(file('a'));
    const b = claims.claim(file('b'));
    t.mock.timers.tick(0);

    assert.deepEqual(await Promise.all([a, b]), [true, true]);
    assert.deepEqual(calls, [['a', 'b']]);
  });

  it('while the database is away, tries again with a growing pause and says so each time', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const emit = events();
    let calls = 0;
    const claims = new Claims({
      replica: 'r1',
      claim: () => (++calls < 3 ? Promise.reject(new LedgerUnavailableError('down')) : Promise.resolve(new Set(['a']))),
    }, { clock: systemClock, signal: new AbortController().signal, emit });
    const held = claims.claim(file('a'));
    t.mock.timers.tick(10);
    await turns();
    assert.equal(calls, 1);
    t.mock.timers.tick(1000);
    await turns();
    assert.equal(calls, 2);
    t.mock.timers.tick(1999);
    await turns();
    assert.equal(calls, 2, 'the second pause is twice the first');
    t.mock.timers.tick(1);

    assert.equal(await held, true);
    assert.deepEqual(emit.of('ledger.claim_retry').map((e) => e.delay_ms), [1000, 2000]);
  });

  it('holds nothing when stopped while the database is away', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const stop = new AbortController();
    const claims = new Claims({ replica: 'r1', claim: () => Promise.reject(new LedgerUnavailableError('down')) }, { clock: systemClock, signal: stop.signal, emit: events() });
    const held = claims.claim(file('a'));
    t.mock.timers.tick(10);
    await turns();
    stop.abort();

    assert.equal(await held, false);
  });

  it('with a ledger one process owns, every claim holds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const claims = new Claims(localCoordinator(memoryRows()), { clock: systemClock, signal: new AbortController().signal, emit: events() });
    const held = claims.claim(file('a'));
    t.mock.timers.tick(10);

    assert.equal(await held, true);
  });
});
