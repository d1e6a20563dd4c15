import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { Batcher } from '../../src/pipeline/batcher.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { ROUTE, turns } from '../fakes.js';

const file = (path: string): ReadyFile => ({ path, size: 1, mtimeMs: 1, readyAt: 0 });

describe('Batcher (fake timers)', () => {
  it('sends files ready in the same turn as one batch at the next turn', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = new Batcher({ batchSize: 10, lingerMs: 200, clock: systemClock, send: (files) => void sent.push(files.map((f) => f.path)) });
    b.add(file('a'), ROUTE);
    b.add(file('b'), ROUTE);
    assert.equal(sent.length, 0);
    t.mock.timers.tick(0);

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('sends a full batch at once, without waiting', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = new Batcher({ batchSize: 2, lingerMs: 200, clock: systemClock, send: (files) => void sent.push(files.map((f) => f.path)) });
    b.add(file('a'), ROUTE);
    b.add(file('b'), ROUTE);

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('while a request of the folder is on its way, gathers until it is answered', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = new Batcher({ batchSize: 10, lingerMs: 200, clock: systemClock, send: (files) => void sent.push(files.map((f) => f.path)) });
    let answer!: () => void;
    const request = b.sending(ROUTE, () => new Promise<void>((resolve) => (answer = resolve)));
    b.add(file('a'), ROUTE);
    t.mock.timers.tick(100);
    b.add(file('b'), ROUTE);
    assert.equal(sent.length, 0, 'gathering while the request is on its way');
    answer();
    await request;
    await turns();

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('sends after lingerMs even while a request is still on its way', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = new Batcher({ batchSize: 10, lingerMs: 200, clock: systemClock, send: (files) => void sent.push(files.map((f) => f.path)) });
    void b.sending(ROUTE, () => new Promise<void>(() => undefined));
    b.add(file('a'), ROUTE);
    t.mock.timers.tick(199);
    assert.equal(sent.length, 0);
    t.mock.timers.tick(1);

    assert.deepEqual(sent, [['a']]);
  });

  it('clear forgets what was not sent', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = new Batcher({ batchSize: 10, lingerMs: 200, clock: systemClock, send: (files) => void sent.push(files.map((f) => f.path)) });
    b.add(file('a'), ROUTE);
    b.clear();
    t.mock.timers.tick(1000);

    assert.deepEqual(sent, []);
  });
});
