import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { Group } from '../../src/pipeline/batcher.js';
import { Batcher, HOLD_IDLE_MS, HOLD_MAX_MS } from '../../src/pipeline/batcher.js';
import type { BatcherOptions } from '../../src/pipeline/batcher.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { ROUTE, turns } from '../fakes.js';

const file = (path: string): ReadyFile => ({ path, size: 1, mtimeMs: 1, readyAt: 0 });
const paths = (groups: Group[]): string[] => groups.flatMap((g) => g.files.map((f) => f.path));
const route = (folder: string) => ({ ...ROUTE, folder: [folder] });
/** A batcher with the tests' usual limits (32 requests, 1,000 files on their way, 200 ms linger); `o` changes any of them. */
const batcher = (o: Partial<BatcherOptions> & Pick<BatcherOptions, 'batchSize' | 'combine' | 'send'>): Batcher =>
  new Batcher({ lingerMs: 200, maxInFlight: 32, maxFilesInFlight: 1000, clock: systemClock, ...o });

describe('Batcher (fake timers)', () => {
  it('sends files ready in the same turn as one batch at the next turn', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 10, combine: false, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.add(file('a'), ROUTE);
    b.add(file('b'), ROUTE);
    assert.equal(sent.length, 0);
    t.mock.timers.tick(0);

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('sends a full batch at once, without waiting', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 2, combine: false, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.add(file('a'), ROUTE);
    b.add(file('b'), ROUTE);

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('lowered (a 413 from the proxy), requests hold at most the new ceiling; a ceiling no lower changes nothing', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 10, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    assert.equal(b.lower(4), true);
    assert.equal(b.lower(4), false);
    assert.equal(b.lower(6), false);
    for (const p of ['a', 'b', 'c']) b.add(file(p), route('/x'));
    for (const p of ['d', 'e', 'f', 'g']) b.add(file(p), route('/y'));
    t.mock.timers.tick(0);

    // /y is full at 4 and goes at once; /x, which would have gone with it in a request of 10, at the next turn.
    assert.deepEqual(sent, [['d', 'e', 'f', 'g'], ['a', 'b', 'c']]);

    // Restored (a reload): requests hold batchSize again.
    assert.equal(b.restore(), true);
    assert.equal(b.restore(), false);
    for (const p of ['h', 'i', 'j', 'k', 'l']) b.add(file(p), route('/z'));
    t.mock.timers.tick(0);
    assert.deepEqual(sent.slice(2), [['h', 'i', 'j', 'k', 'l']]);
  });

  it('while a request of the folder is on its way, gathers until it is answered', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 10, combine: false, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    const answered = b.begin(ROUTE);
    b.add(file('a'), ROUTE);
    t.mock.timers.tick(100);
    b.add(file('b'), ROUTE);
    assert.equal(sent.length, 0, 'gathering while the request is on its way');
    answered();
    answered(); // once or more: the end counts once
    await turns();
    t.mock.timers.tick(0); // due at the next turn, with other folders due then

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('while a burst holds, a request goes once the folders no longer receiving files fill it, each folder whole; the rest together when the burst is queued', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 3, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.hold(true);
    b.add(file('a'), route('x'));
    b.add(file('b'), route('y'));
    t.mock.timers.tick(0);
    assert.deepEqual(sent, [], 'two files of two folders wait for the burst');
    b.add(file('c'), route('y'));
    t.mock.timers.tick(0);
    assert.deepEqual(sent, [], 'three files, but y is still receiving files: x alone would not fill a request');
    b.add(file('d'), route('x'));
    b.add(file('e'), route('z'));
    t.mock.timers.tick(0);
    assert.deepEqual(sent, [['a', 'd']], 'x and y, no longer receiving, fill a request: x goes whole, y does not fit beside it');
    b.hold(false);

    assert.deepEqual(sent, [['a', 'd'], ['b', 'c', 'e']]);
  });

  it('when the hold ends, the burst\'s last files, queued in that turn, go in the same request as the rest', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 100, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.hold(true);
    b.add(file('a'), route('x'));
    t.mock.timers.tick(0);
    b.add(file('b'), route('y'));
    b.hold(false); // in the turn y's file was queued: its batch's turn has not come
    t.mock.timers.tick(0);

    assert.deepEqual(sent, [['a', 'b']]);
  });

  it('while a burst holds, the folder still receiving files is not split over two requests (a backlog of 100-file folders into requests of 2,500)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: Group[][] = [];
    const b = batcher({ batchSize: 250, maxFilesInFlight: 10_000, combine: true, send: (groups) => (sent.push(groups), Promise.resolve()) });
    b.hold(true);
    // Folders of 100 files, one after another, in slices of 30 a turn as the ready stage hands them on: 2.5 folders fill a request.
    for (let d = 0; d < 10; d++) {
      for (let i = 0; i < 100; i++) {
        b.add(file(`d${d}/${i}`), route(`d${d}`));
        if (i % 30 === 29) t.mock.timers.tick(0);
      }
    }
    t.mock.timers.tick(0);
    b.hold(false);

    const folders = sent.flatMap((groups) => groups.map((g) => g.route.folder[0]));
    assert.equal(new Set(folders).size, folders.length, `each folder in one request: ${sent.map((groups) => groups.map((g) => `${g.route.folder[0]}:${g.files.length}`).join(' ')).join(' | ')}`);
    assert.ok(sent.every((groups) => groups.reduce((n, g) => n + g.files.length, 0) <= 250));
    assert.equal(sent.reduce((n, groups) => n + groups.reduce((m, g) => m + g.files.length, 0), 0), 1000);
  });

  it('while a burst holds, the folder still receiving files goes once it alone fills a request', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 3, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.hold(true);
    b.add(file('a'), route('x'));
    b.add(file('b'), route('x'));
    assert.deepEqual(sent, []);
    b.add(file('c'), route('x'));

    assert.deepEqual(sent, [['a', 'b', 'c']], 'a full request of the folder still receiving files goes at once');
  });

  it('a folder given its last file before a hold began is not taken, in that hold, as still receiving files', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    let answer = (): void => undefined;
    const b = batcher({
      batchSize: 3, maxInFlight: 1, combine: true,
      send: (groups) => (sent.push(paths(groups)), sent.length === 1 ? new Promise<void>((r) => (answer = r)) : Promise.resolve()),
    });
    b.hold(true);
    for (const f of ['a', 'b', 'c']) b.add(file(f), route('x'));
    b.add(file('d'), route('y'));
    b.add(file('e'), route('y'));
    t.mock.timers.tick(0);
    b.hold(false);
    b.add(file('f'), route('z')); // between holds
    b.hold(true);
    t.mock.timers.tick(0);
    assert.deepEqual(sent, [['a', 'b', 'c']], 'one request on its way at most');
    answer();
    await turns();

    assert.deepEqual(sent, [['a', 'b', 'c'], ['d', 'e', 'f']], 'y and z fill the next request: z no longer receives files');
  });

  it(`holds until no file came for HOLD_IDLE_MS (${HOLD_IDLE_MS} ms): a burst of slow checksums does not hold the rest longer`, (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 10, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.hold(true);
    b.add(file('a'), ROUTE);
    t.mock.timers.tick(HOLD_IDLE_MS - 1);
    assert.deepEqual(sent, []);
    t.mock.timers.tick(1);
    assert.deepEqual(sent, [['a']]);
    b.add(file('b'), ROUTE);
    t.mock.timers.tick(0);
    b.hold(false);

    assert.deepEqual(sent, [['a'], ['b']], 'after the hold ran out, files go as they come');
  });

  it(`a burst that keeps queueing files holds as long as they come (a busy machine's slow burst), at most HOLD_MAX_MS (${HOLD_MAX_MS} ms)`, (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 1000, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.hold(true);
    let n = 0;
    // A file every HOLD_IDLE_MS - 1000 ms: never idle long enough, so only HOLD_MAX_MS ends the hold.
    for (let at = 0; at < HOLD_MAX_MS; at += HOLD_IDLE_MS - 1000) {
      b.add(file(`f${n++}`), ROUTE);
      t.mock.timers.tick(HOLD_IDLE_MS - 1000);
      if (at + HOLD_IDLE_MS - 1000 < HOLD_MAX_MS) assert.deepEqual(sent, [], `still holding at ${at + HOLD_IDLE_MS - 1000} ms`);
    }
    // Now HOLD_MAX_MS after the hold began, the last file 4 s ago: only HOLD_MAX_MS can have ended it.
    assert.equal(sent.length, 1, 'HOLD_MAX_MS ended it: the files held went as one request');
    assert.equal(sent[0]?.length, n);
    b.hold(false);
  });

  it('sends after lingerMs even while a request is still on its way', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 10, combine: false, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.begin(ROUTE);
    b.add(file('a'), ROUTE);
    t.mock.timers.tick(199);
    assert.equal(sent.length, 0);
    t.mock.timers.tick(1);

    assert.deepEqual(sent, [['a']]);
  });

  it('clear forgets what was not sent', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 10, combine: false, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.add(file('a'), ROUTE);
    b.clear();
    t.mock.timers.tick(1000);

    assert.deepEqual(sent, []);
  });
  it('keeps at most maxInFlight batches on their way; the others gather and go, in turn, as batches end', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const ends: (() => void)[] = [];
    const b = batcher({ batchSize: 10, maxInFlight: 2, combine: false, send: (groups) => (sent.push(paths(groups)), new Promise<void>((r) => void ends.push(r))) });
    for (const f of ['a', 'b', 'c', 'd']) b.add(file(`${f}1`), route(f));
    t.mock.timers.tick(0);
    const first = sent.map((s) => [...s]);
    b.add(file('c2'), route('c'));
    t.mock.timers.tick(1000);
    const whileFull = sent.length;
    ends[0]?.();
    await turns();
    t.mock.timers.tick(0);

    assert.deepEqual(first, [['a1'], ['b1']], 'two on their way');
    assert.equal(whileFull, 2, 'nothing more while both are on their way');
    assert.deepEqual(b.inFlight, { sending: 2, waiting: 1 });
    assert.deepEqual(sent.slice(2), [['c1', 'c2']], 'the first due goes when one ends, with what gathered meanwhile');
  });

  it('combine: the folders due in one turn go as one request, a group per folder', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: Group[][] = [];
    const b = batcher({ batchSize: 10, combine: true, send: (groups) => (sent.push(groups), Promise.resolve()) });
    b.add(file('a1'), route('a'));
    b.add(file('b1'), route('b'));
    b.add(file('a2'), route('a'));
    b.add(file('c1'), route('c'));
    t.mock.timers.tick(0);

    assert.equal(sent.length, 1, 'one request');
    assert.deepEqual(sent[0]?.map((g) => [g.route.folder[0], g.files.map((f) => f.path)]), [['a', ['a1', 'a2']], ['b', ['b1']], ['c', ['c1']]]);
  });

  it('combine: a request holds at most batchSize files; a folder that does not fit whole goes in the next one', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 3, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.add(file('a1'), route('a'));
    b.add(file('a2'), route('a'));
    b.add(file('b1'), route('b'));
    b.add(file('b2'), route('b'));
    b.add(file('c1'), route('c'));
    t.mock.timers.tick(0);

    assert.deepEqual(sent, [['a1', 'a2'], ['b1', 'b2', 'c1']]);
  });

  it('combine: a full folder goes at once, and a folder with a request on its way still gathers', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const b = batcher({ batchSize: 2, combine: true, send: (groups) => (sent.push(paths(groups)), Promise.resolve()) });
    b.add(file('b1'), route('b'));
    b.begin(route('a'));
    for (const f of ['a1', 'a2', 'a3']) b.add(file(f), route('a'));
    const atOnce = sent.map((s) => [...s]);
    t.mock.timers.tick(0);
    t.mock.timers.tick(0);
    const nextTurn = sent.slice(1).map((s) => [...s]);
    t.mock.timers.tick(200);

    assert.deepEqual(atOnce, [['a1', 'a2']], 'a full batch goes at once, while its folder has a request on its way');
    assert.deepEqual(nextTurn, [['b1']], 'the rest of that folder gathers: its request is still on its way');
    assert.deepEqual(sent.slice(2), [['a3']], 'and goes after lingerMs');
  });

  it('starts no request while maxFilesInFlight files are on their way; one may go beyond it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sent: string[][] = [];
    const ends: (() => void)[] = [];
    const b = batcher({ batchSize: 3, maxFilesInFlight: 4, combine: false, send: (groups) => (sent.push(paths(groups)), new Promise<void>((r) => void ends.push(r))) });
    for (const f of ['a1', 'a2', 'a3']) b.add(file(f), route('a'));
    for (const f of ['b1', 'b2', 'b3']) b.add(file(f), route('b'));
    b.add(file('c1'), route('c'));
    t.mock.timers.tick(0);
    const atFirst = sent.map((s) => [...s]);
    ends[0]?.();
    await turns();
    t.mock.timers.tick(0);

    assert.deepEqual(atFirst, [['a1', 'a2', 'a3'], ['b1', 'b2', 'b3']], '3 files on their way: one more request may start, then none');
    assert.deepEqual(sent.slice(2), [['c1']], 'the next goes when files come back under the limit');
  });
});
