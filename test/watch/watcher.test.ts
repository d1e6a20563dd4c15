import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { createTreeWatcher } from '../../src/watch/watcher.js';

/** Real turns of the event loop (setImmediate, which the test leaves unmocked) until `done`, or 5 s of real time. */
async function until(done: () => boolean, what: string): Promise<void> {
  const end = performance.now() + 5000;
  while (!done()) {
    if (performance.now() > end) assert.fail(`no ${what} within 5 s`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('inotify watcher (real files, fake timers)', () => {
  it('looks at a new file in the turn that read its event, and at a file written again soon after only when HOLD_MS has passed', async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'importd-watcher-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(path.join(dir, 'run'));
    // Timers and Date are the test's: no timer fires and no time passes unless it says so.
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const looked: string[] = [];
    const w = createTreeWatcher(dir, {
      poll: false,
      intervalMs: 0,
      ignored: () => false,
      onFile: (p) => void looked.push(p),
      onDir: () => undefined,
      onError: (err) => assert.fail(err),
    });
    t.after(() => w.close());
    await w.addDir('run');
    const times = (p: string): number => looked.filter((l) => l === p).length;

    writeFileSync(path.join(dir, 'run', 'a'), 'first');
    await until(() => times('run/a') > 0, 'look at run/a');
    assert.equal(times('run/a'), 1, 'the create and the write of a new file: one look, with no timer');

    appendFileSync(path.join(dir, 'run', 'a'), ' more');
    writeFileSync(path.join(dir, 'run', 'b'), 'other');
    // inotify keeps the order of events: a's is read before b's.
    await until(() => times('run/b') > 0, 'look at run/b');
    assert.equal(times('run/a'), 1, 'a written again at once waits for the hold');

    t.mock.timers.tick(20);
    assert.equal(times('run/a'), 2, 'looked at again once the hold is over');
    assert.equal(times('run/b'), 1);
  });
});
