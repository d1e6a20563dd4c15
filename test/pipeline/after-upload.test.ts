import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AfterUpload } from '../../src/config/load.js';
import { afterUpload, withWriteHint } from '../../src/pipeline/after-upload.js';
import { Flow } from '../../src/pipeline/flow.js';
import type { Fingerprint } from '../../src/pipeline/settle.js';
import { events } from '../fakes.js';
import { put, tempDir } from '../helpers.js';

function setup(t: Parameters<typeof tempDir>[0], action: AfterUpload, stat: (p: string) => Fingerprint | null = () => ({ size: 2, mtimeMs: 1 })) {
  const importDir = tempDir(t);
  const emit = events();
  const unwatched: string[] = [];
  const reconsidered: string[] = [];
  const flow = new Flow();
  flow.on('done', (p) => void unwatched.push(p));
  flow.on('changed', (p) => void reconsidered.push(p));
  const after = afterUpload({ importDir, action, stat, flow, emit });
  return { importDir, emit, unwatched, reconsidered, after };
}
const file = { path: 'run1/a.txt', size: 2, mtimeMs: 1, readyAt: 0 };

describe('after_upload', () => {
  it('keep: stops watching the file and leaves it', async (t) => {
    const s = setup(t, { action: 'keep' });
    put(s.importDir, 'run1/a.txt', 'a\n');
    await s.after(file);
    assert.deepEqual(s.unwatched, ['run1/a.txt']);
    assert.equal(existsSync(path.join(s.importDir, 'run1/a.txt')), true);
    assert.equal(s.emit.seen.length, 0);
  });

  it('delete: removes it and says so', async (t) => {
    const s = setup(t, { action: 'delete' });
    put(s.importDir, 'run1/a.txt', 'a\n');
    await s.after(file);
    assert.equal(existsSync(path.join(s.importDir, 'run1/a.txt')), false);
    assert.deepEqual(s.emit.of('file.after_upload').map((e) => [e.file, e.action, e.err]), [['run1/a.txt', 'delete', undefined]]);
  });

  it('move:DIR: moves it to the same relative path below DIR', async (t) => {
    const dest = tempDir(t);
    const s = setup(t, { action: 'move', dir: dest });
    put(s.importDir, 'run1/a.txt', 'a\n');
    await s.after(file);
    assert.equal(existsSync(path.join(s.importDir, 'run1/a.txt')), false);
    assert.equal(readFileSync(path.join(dest, 'run1/a.txt'), 'utf8'), 'a\n');
  });

  it('move:DIR onto a read-only file system: the warning says EROFS (Node\'s recursive mkdir would say ENOENT) and how to fix it', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount a read-only tmpfs');
    // Its own directory: unmounted before it is removed (tempDir's removal would run first).
    const dest = mkdtempSync(path.join(tmpdir(), 'importd-ro.'));
    t.after(() => { spawnSync('umount', [dest]); rmSync(dest, { recursive: true, force: true }); });
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', dest]).status !== 0) return t.skip('mount -t tmpfs failed here (a container without CAP_SYS_ADMIN?)');
    // Not under systemd (a runner's INVOCATION_ID would ask for the unit's drop-in instead).
    const invocation = process.env.INVOCATION_ID;
    delete process.env.INVOCATION_ID;
    t.after(() => { if (invocation !== undefined) process.env.INVOCATION_ID = invocation; });
    const s = setup(t, { action: 'move', dir: dest });
    put(s.importDir, 'run1/a.txt', 'a\n');
    await s.after(file);
    assert.match(String(s.emit.of('file.after_upload')[0]?.err), /^EROFS: .*must write to .*read-only file system or mount: make it writable$/);
    assert.equal(existsSync(path.join(s.importDir, 'run1/a.txt')), true);
  });

  it('move:DIR where a file stands in for a directory: the warning names that file, at any level, and both files stay', async (t) => {
    for (const [rel, standing] of [['run1/a.txt', 'run1'], ['run1/lane2/a.txt', 'run1']] as const) {
      const dest = tempDir(t);
      put(dest, standing, 'not a directory\n');
      const s = setup(t, { action: 'move', dir: dest });
      put(s.importDir, rel, 'a\n');
      await s.after({ ...file, path: rel });
      const said = String(s.emit.of('file.after_upload')[0]?.err);
      assert.ok(said.startsWith(`ENOTDIR: ${path.join(dest, standing)} is a file, not a directory`), said);
      assert.equal(existsSync(path.join(s.importDir, rel)), true);
      assert.equal(readFileSync(path.join(dest, standing), 'utf8'), 'not a directory\n');
    }
  });

  it('a file written again during its upload is left where it is and looked at again', async (t) => {
    const s = setup(t, { action: 'delete' }, () => ({ size: 5, mtimeMs: 2 }));
    put(s.importDir, 'run1/a.txt', 'a bit more\n');
    await s.after(file);
    assert.equal(existsSync(path.join(s.importDir, 'run1/a.txt')), true);
    assert.deepEqual(s.reconsidered, ['run1/a.txt']);
  });

  it('a delete that fails is a warning with the reason; the file stays recorded ok (nothing thrown)', async (t) => {
    const s = setup(t, { action: 'delete' });
    await s.after(file);
    assert.match(String(s.emit.of('file.after_upload')[0]?.err), /ENOENT/);
  });

  it('a directory it may not write to: a read-only one names the ReadWritePaths= drop-in to add under systemd; a permission error, the user\'s write access', () => {
    const erofs = Object.assign(new Error("EROFS: read-only file system, rename '/data/import/run1/a.txt' -> '/data/done/run1/a.txt'"), { code: 'EROFS' });
    const move: AfterUpload = { action: 'move', dir: '/data/done' };
    assert.match(withWriteHint(erofs, '/data/import', move, { INVOCATION_ID: 'x' }),
      /^EROFS: .*: after_upload = move:\/data\/done must write to \/data\/import \/data\/done; .*systemctl edit galaxy-importd\) with \[Service\] ReadWritePaths=\/data\/import \/data\/done, then systemctl restart/);
    assert.match(withWriteHint(erofs, '/data/import', { action: 'delete' }, {}), /must write to \/data\/import; they are on a read-only file system or mount: make it writable$/);
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    for (const env of [{}, { INVOCATION_ID: 'x' }]) {
      assert.match(withWriteHint(eacces, '/data/import', { action: 'delete' }, env), /after_upload = delete must write to \/data\/import; give the daemon's user write access to them \(owner, group or ACL\)$/);
    }
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    assert.equal(withWriteHint(enoent, '/data/import', move, { INVOCATION_ID: 'x' }), 'ENOENT: no such file');
  });
});
