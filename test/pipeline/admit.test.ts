import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { Admission, WINDOW_FILES } from '../../src/pipeline/admit.js';
import { afterUpload } from '../../src/pipeline/after-upload.js';
import { Flow } from '../../src/pipeline/flow.js';
import { Files } from '../../src/pipeline/files.js';
import { Quiet } from '../../src/pipeline/quiet.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { slowWriterMs, statFileSync } from '../../src/pipeline/settle.js';
import { ROUTE, events, memoryRows, turns } from '../fakes.js';

function tree(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'importd-admit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function admission(dir: string, o: { skipBacklog?: boolean; claim?: boolean; stat?: (p: string) => { size: number; mtimeMs: number } | null; slowMs?: number } = {}) {
  const rows = memoryRows();
  const emit = events();
  const files = new Files({ ledger: rows, emit, clock: systemClock, claim: () => Promise.resolve(o.claim ?? true) });
  const queued: string[] = [];
  const prepared: string[] = [];
  let shrank = 0;
  const quiet = new Quiet(() => a.settling === 0);
  const a: Admission = new Admission({
    importDir: dir, realImportDir: realpathSync(dir), ignore: ['.*', '*.part'], readyMarker: null, skipBacklog: o.skipBacklog ?? false,
    ledger: { fingerprint: (p) => rows.get(p) }, files, settleMs: 1000, slowMs: o.slowMs ?? 60_000, clock: systemClock,
    // Settling looks at the real file (its timing is settle.test.ts's); here only fake time passes.
    stat: o.stat ?? ((p) => statFileSync(dir, p)),
    route: () => ROUTE, queue: (f) => void queued.push(f.path), prepare: (p) => void prepared.push(p), emit, shrank: () => {
      shrank++;
      a.refill();
      quiet.check();
    },
  });
  return { a, rows, emit, queued, prepared, shrank: () => shrank, quiet };
}

/** Advance fake time in steps, letting stats answer between them (they are real I/O). */
async function settle(t: TestContext, ms: number, quiet: Quiet): Promise<void> {
  for (let done = 0; done < ms; done += 100) {
    t.mock.timers.tick(100);
    await turns(20);
  }
  // Readability is a real look at the file: wait until admission says it is done.
  await quiet.wait();
}

describe('Admission (real files, fake timers)', () => {
  it('settles a plain file, then claims, routes and queues it', async (t) => {
    const dir = tree(t);
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const s = admission(dir);
    await s.a.consider('a.txt', false);
    assert.equal(s.a.settling, 1);
    await settle(t, 1500, s.quiet);

    assert.deepEqual(s.queued, ['a.txt']);
    assert.equal(s.emit.of('file.ready').length, 1);
    assert.equal(s.a.settling, 0);
    assert.ok(s.shrank() >= 1, 'idle is told');
  });

  it('refuses a symlink out of the import directory, with the reason, and never settles it', async (t) => {
    const dir = tree(t);
    const outside = tree(t);
    writeFileSync(path.join(outside, 'secret'), 'x');
    symlinkSync(path.join(outside, 'secret'), path.join(dir, 'link'));
    const s = admission(dir);
    await s.a.consider('link', false);

    assert.equal(s.rows.get('link')?.state, 'skipped');
    assert.match(String(s.rows.get('link')?.lastError), /symlink leaves the import directory/);
    assert.equal(s.a.settling, 0);
  });

  it('leaves ignored names alone and skips the backlog of a first start with backlog = skip', async (t) => {
    const dir = tree(t);
    mkdirSync(path.join(dir, 'run'));
    writeFileSync(path.join(dir, 'run', 'x.part'), 'x');
    writeFileSync(path.join(dir, 'run', 'old.txt'), 'x');
    const s = admission(dir, { skipBacklog: true });
    await s.a.consider('run/x.part', true);
    await s.a.walked('run/old.txt', 'file', true);

    assert.equal(s.rows.get('run/x.part'), undefined);
    assert.equal(s.rows.get('run/old.txt')?.state, 'skipped');
    assert.equal(s.a.skipDir('.git'), true);
  });

  it('says once that a file still changing after slowMs is slow (file.unsettled), and goes on waiting for it', async (t) => {
    const dir = tree(t);
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    let size = 0;
    const s = admission(dir, { slowMs: 3000, stat: () => ({ size: ++size, mtimeMs: size }) });
    await s.a.consider('a.txt', false);
    for (let done = 0; done < 8000; done += 100) {
      t.mock.timers.tick(100);
      await turns(20);
    }

    const slow = s.emit.of('file.unsettled');
    assert.equal(slow.length, 1);
    assert.equal(slow[0]?.file, 'a.txt');
    assert.ok((slow[0]?.duration_ms ?? 0) >= 3000);
    assert.deepEqual(s.queued, []);
    assert.equal(s.a.settling, 1);
  });

  it('a walk\'s files settle in groups: a file walked 200 ms after another is ready with it, not before (settle.ts, BACKLOG_GROUP_MS)', async (t) => {
    const dir = tree(t);
    mkdirSync(path.join(dir, 'run'));
    writeFileSync(path.join(dir, 'run', 'a'), 'x');
    writeFileSync(path.join(dir, 'run', 'b'), 'x');
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    /** The settler's looks: each file's path and the fake time of the look. */
    const looks: string[] = [];
    const s = admission(dir, { stat: (p) => (looks.push(`${p}@${Date.now()}`), statFileSync(dir, p)) });
    void s.a.walked('run/a', 'file', true);
    t.mock.timers.tick(200);
    void s.a.walked('run/b', 'file', true);
    await settle(t, 1600, s.quiet);

    assert.deepEqual(looks, ['run/a@1500', 'run/b@1500'], 'run/a, unchanged for settle_seconds at 1,000 ms, is looked at with its group');
    assert.deepEqual(s.queued, ['run/a', 'run/b']);
  });

  /** `n` files in run/, walked at a first start, with fake time. */
  function backlog(t: TestContext, n: number) {
    const dir = tree(t);
    const name = (i: number): string => `run/f${String(i).padStart(6, '0')}`;
    mkdirSync(path.join(dir, 'run'));
    for (let i = 0; i < n; i++) writeFileSync(path.join(dir, name(i)), 'x');
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const s = admission(dir);
    for (let i = 0; i < n; i++) void s.a.walked(name(i), 'file', true);
    /** Let time pass, 200 ms a step, until `queued` files are queued (or 20 s); `each` after every step. */
    const run = async (queued: number, each: () => void = () => undefined): Promise<void> => {
      for (let i = 0; i < 100 && s.queued.length < queued; i++) {
        t.mock.timers.tick(200);
        await new Promise((r) => setImmediate(r));
        await turns(20);
        each();
      }
    };
    return { dir, name, s, run };
  }

  it('holds at most WINDOW_FILES files; the rest wait in the ledger as seen and are taken in, oldest first, as the window empties', async (t) => {
    const n = WINDOW_FILES + 30;
    const { name, s, run } = backlog(t, n);
    const held = s.a.settling;
    const waiting = [...s.rows.rows.values()].filter((r) => r.state === 'seen').map((r) => r.path);
    const preparedAtFirst = [...s.prepared];
    let most = held;
    await run(n, () => void (most = Math.max(most, s.a.settling)));

    assert.equal(held, WINDOW_FILES, 'the window is full');
    assert.deepEqual(waiting, Array.from({ length: 30 }, (_, i) => name(WINDOW_FILES + i)), 'the rest are rows, not memory');
    assert.equal(s.a.deferred, 30);
    assert.ok(most <= WINDOW_FILES, `never more than the window in memory (${most})`);
    assert.equal(s.queued.length, n, 'every file queued');
    assert.equal(new Set(s.queued).size, n, 'each once');
    assert.deepEqual(s.queued.slice(-30), waiting, 'the waiting ones last, oldest first');
    // Each file's folder is looked up ahead once it begins to settle: a waiting one when its turn comes, not before.
    assert.equal(preparedAtFirst.length, WINDOW_FILES);
    assert.deepEqual(s.prepared.slice(WINDOW_FILES), waiting);
    assert.equal([...s.rows.rows.values()].filter((r) => r.state === 'seen').length, 0);
  });

  it('a waiting file deleted before its turn is recorded as skipped when its turn comes, with the reason', async (t) => {
    const { dir, name, s, run } = backlog(t, WINDOW_FILES + 1);
    rmSync(path.join(dir, name(WINDOW_FILES)));
    await run(WINDOW_FILES);
    t.mock.timers.tick(200);
    await new Promise((r) => setImmediate(r));

    assert.equal(s.queued.length, WINDOW_FILES);
    assert.equal(s.rows.get(name(WINDOW_FILES))?.state, 'skipped');
    assert.match(String(s.rows.get(name(WINDOW_FILES))?.lastError), /deleted/);
    assert.equal(s.emit.of('file.gone').length, 1);
  });

  it('calls a writer slow after ten settle windows, never before ten minutes', () => {
    assert.equal(slowWriterMs(60), 600_000);
    assert.equal(slowWriterMs(2), 600_000);
    assert.equal(slowWriterMs(300), 3_000_000);
  });

  it('a file another replica holds is neither queued nor recorded here', async (t) => {
    const dir = tree(t);
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const s = admission(dir, { claim: false });
    await s.a.consider('a.txt', false);
    await settle(t, 1500, s.quiet);

    assert.deepEqual(s.queued, []);
    assert.equal(s.emit.of('file.claimed_elsewhere').length, 1);
  });
});

describe('after-upload (real files)', () => {
  const done = (p: string, size: number, mtimeMs: number): ReadyFile => ({ path: p, size, mtimeMs, readyAt: 0 });

  it('moves the file below move:DIR, keeping its subdirectory', async (t) => {
    const dir = tree(t);
    const dest = tree(t);
    mkdirSync(path.join(dir, 'run'));
    writeFileSync(path.join(dir, 'run', 'a.txt'), 'abc');
    const fp = statFileSync(dir, 'run/a.txt');
    const emit = events();
    const handle = afterUpload({ importDir: dir, action: { action: 'move', dir: dest }, stat: (p) => statFileSync(dir, p), flow: new Flow(), emit });
    await handle(done('run/a.txt', fp?.size ?? 0, fp?.mtimeMs ?? 0));

    assert.equal(statFileSync(dir, 'run/a.txt'), null);
    assert.equal((statFileSync(dest, 'run/a.txt'))?.size, 3);
    assert.equal(emit.of('file.after_upload')[0]?.err, undefined);
  });

  it('leaves a file written again during its upload where it is, and looks at it again', async (t) => {
    const dir = tree(t);
    writeFileSync(path.join(dir, 'a.txt'), 'abc, and more');
    const again: string[] = [];
    const flow = new Flow();
    flow.on('changed', (p) => void again.push(p));
    const handle = afterUpload({ importDir: dir, action: { action: 'delete' }, stat: (p) => statFileSync(dir, p), flow, emit: events() });
    await handle(done('a.txt', 3, 1));

    assert.notEqual(statFileSync(dir, 'a.txt'), null);
    assert.deepEqual(again, ['a.txt']);
  });
});
