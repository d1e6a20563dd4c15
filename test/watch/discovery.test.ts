import assert from 'node:assert/strict';
import type { Stats } from 'node:fs';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { Discovery } from '../../src/watch/discovery.js';
import type { DiscoveryTarget } from '../../src/watch/discovery.js';
import type { WatchOptions } from '../../src/watch/watcher.js';
import { events } from '../fakes.js';
import { waitFor } from '../helpers.js';

function tree(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'importd-discovery-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An admission that records what it is handed, and a watcher whose events the test makes. */
function setup(dir: string, o: { ignored?: (p: string, st: Stats | undefined) => boolean } = {}) {
  const seen: string[] = [];
  const admit: DiscoveryTarget = {
    walked: (p, _kind, initial, hint) => void seen.push(`walked ${p}${initial ? ' (initial)' : ''}${hint ? ` [seen ${hint}]` : ''}`),
    consider: (p) => (seen.push(`consider ${p}`), Promise.resolve()),
    gone: (p) => void seen.push(`gone ${p}`),
    skipDir: (p) => p.split('/').some((x) => x.startsWith('.')),
    ignored: o.ignored ?? (() => false),
    deferred: 0,
  };
  let watch: Omit<WatchOptions, 'poll' | 'intervalMs'> | null = null;
  const dirs: string[] = [];
  const d = new Discovery({
    importDir: dir, admit, rescanMinutes: 0, clock: systemClock, emit: events(),
    watch: (opts) => {
      watch = opts;
      return { addDir: (p) => (dirs.push(p), Promise.resolve()), removeDir: () => Promise.resolve(), unwatch: () => undefined, close: () => Promise.resolve(), size: 0 };
    },
  });
  return { d, seen, dirs, watcher: () => watch as unknown as Omit<WatchOptions, 'poll' | 'intervalMs'> };
}

describe('Discovery (real tree, fake watcher)', () => {
  it('walks the tree at start, watching each directory but hidden ones, and hands every file to admission', async (t) => {
    const dir = tree(t);
    mkdirSync(path.join(dir, 'run1'));
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, 'run1', 'a.txt'), 'x');
    writeFileSync(path.join(dir, '.git', 'config'), 'x');
    const s = setup(dir);
    await s.d.start(true);
    await s.d.close();

    assert.deepEqual(s.seen, ['walked run1/a.txt (initial)']);
    assert.deepEqual(s.dirs.sort(), ['', 'run1']);
  });

  it('hands the watcher\'s events on: a new file, a deleted one, a directory moved in', async (t) => {
    const dir = tree(t);
    const s = setup(dir);
    await s.d.start(true);
    mkdirSync(path.join(dir, 'moved', 'deep'), { recursive: true });
    writeFileSync(path.join(dir, 'moved', 'deep', 'b.txt'), 'x');
    s.watcher().onFile('new.txt', 'add');
    s.watcher().onFile('old.txt', 'unlink');
    s.watcher().onDir('moved', 'addDir');
    await waitFor(() => (s.seen.includes('consider moved/deep/b.txt') ? true : undefined), 5000, 'the moved directory walked');
    await s.d.close();

    assert.deepEqual(s.seen, ['consider new.txt', 'gone old.txt', 'consider moved/deep/b.txt']);
    assert.ok(s.dirs.includes('moved/deep'));
  });

  it('one walk at a time: a rescan asked for during a walk joins it', async (t) => {
    const dir = tree(t);
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    const s = setup(dir);
    const first = s.d.walk(false);
    const second = s.d.walk(false);

    assert.equal(first, second);
    await first;
    assert.deepEqual(s.seen, ['walked a.txt']);
  });

  it('passes the watcher\'s finding that a file is done to the walk, so that it is not looked up twice', async (t) => {
    const dir = tree(t);
    writeFileSync(path.join(dir, 'done.txt'), 'x');
    const st = statSync(path.join(dir, 'done.txt'));
    const s = setup(dir, { ignored: () => true });
    let watcherAsked = false;
    const walking = s.d.start(true);
    // The watcher reports the file done while the walk runs.
    if (s.d.walking !== null) {
      s.watcher().ignored('done.txt', st);
      watcherAsked = true;
    }
    await walking;
    await s.d.close();

    assert.equal(watcherAsked, true);
    assert.deepEqual(s.seen, [`walked done.txt (initial) [seen ${st.size}:${st.mtimeMs}]`]);
  });
});
