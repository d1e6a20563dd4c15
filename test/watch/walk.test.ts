import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { walk } from '../../src/watch/walk.js';

describe('walk (real files)', () => {
  it('lists every file below the root, leaves out skipped directories and symlinked ones, and lets other work run while it reads', async (t) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'importd-walk-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    for (let d = 0; d < 40; d++) {
      mkdirSync(path.join(root, `run${d}`));
      for (let i = 0; i < 3; i++) writeFileSync(path.join(root, `run${d}`, `f${i}`), 'x');
    }
    mkdirSync(path.join(root, '.hidden'));
    writeFileSync(path.join(root, '.hidden', 'no'), 'x');
    symlinkSync(path.join(root, 'run0'), path.join(root, 'link'));
    const seen: string[] = [];
    let otherWorkRan = 0;
    const other = setInterval(() => otherWorkRan++, 1);
    t.after(() => clearInterval(other));

    const result = await walk(root, {
      // 1 ms of work per file: the walk takes over 100 ms, so it must let the interval run.
      onEntry: (p, kind) => {
        seen.push(`${p} ${kind}`);
        for (const end = Date.now() + 1; Date.now() < end;);
      },
      onError: () => assert.fail('no directory is unreadable here'),
      skipDir: (p) => p.startsWith('.'),
    }, systemClock);
    clearInterval(other);

    assert.equal(result.files, 121, 'the 120 files and the symlink');
    assert.ok(seen.includes('link symlink'), 'the symlink is an entry, not followed');
    assert.ok(!seen.some((s) => s.startsWith('.hidden')), 'the skipped directory is not entered');
    assert.ok(otherWorkRan >= 2, `timers ran while the walk read (${otherWorkRan})`);
  });
});
