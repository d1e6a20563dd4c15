/**
 * planImport, the plan of `scan --dry-run`: real files in a temporary import directory, a fake
 * ledger (fingerprint, getMeta) and a fake clock; each action and the reason it gives.
 */
import assert from 'node:assert/strict';
import { chmodSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import type { FileRecord, Ledger } from '../../src/ledger/ledger.js';
import type { PlannedFile } from '../../src/pipeline/plan.js';
import { planImport } from '../../src/pipeline/plan.js';
import { put, tempDir } from '../helpers.js';

/** The fake clock's now; files are dated from it. */
const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR_AGO = NOW - 3_600_000;

/** The fake clock: its now is NOW, its turns are real (the walk yields now and then). */
const clock: Pick<Clock, 'now' | 'yieldTurn'> = { now: () => NOW, yieldTurn: () => systemClock.yieldTurn() };

type Fingerprint = Pick<FileRecord, 'state' | 'size' | 'mtimeMs'>;

/** A ledger that holds `rows` and `meta`; it records which paths were looked up. */
function fakeLedger(rows: Record<string, Fingerprint> = {}, meta: Record<string, string> = {}): Pick<Ledger, 'fingerprint' | 'getMeta'> & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    fingerprint: (p) => (asked.push(p), rows[p]),
    getMeta: (key) => meta[key],
  };
}

/** Write `rel` below `dir`, modified at `mtimeMs` (an hour before NOW unless given). */
function file(dir: string, rel: string, o: { content?: string; mtimeMs?: number } = {}): string {
  put(dir, rel, o.content);
  const full = path.join(dir, rel);
  const at = new Date(o.mtimeMs ?? HOUR_AGO);
  utimesSync(full, at, at);
  return full;
}

/** The config of `dir`: [import] lines, then other sections, parsed as the daemon parses its file. */
function config(dir: string, o: { import?: string[]; sections?: string[] }) {
  return parseConfig(['[import]', `dir = ${dir}`, 'settle_seconds = 10', ...(o.import ?? []), ...(o.sections ?? [])].join('\n'), null);
}

/** Every file planned, in the walk's order, and by name. */
async function plan(dir: string, o: { import?: string[]; sections?: string[]; ledger?: Pick<Ledger, 'fingerprint' | 'getMeta'> | null } = {}): Promise<{ all: PlannedFile[]; of: (f: string) => PlannedFile }> {
  const all: PlannedFile[] = [];
  await planImport({ config: config(dir, o), ledger: o.ledger === undefined ? fakeLedger() : o.ledger, clock, onFile: (f) => void all.push(f) });
  return {
    all,
    of: (f) => {
      const found = all.filter((p) => p.file === f);
      assert.equal(found.length, 1, `${f} planned once: ${JSON.stringify(all.map((p) => p.file))}`);
      return found[0] as PlannedFile;
    },
  };
}

function importDir(t: TestContext): string {
  return path.join(tempDir(t, 'importd-plan-'), 'import');
}

describe('planImport: what scan --dry-run says of each file', () => {
  it('upload: to the library and folder routing gives, with the routed attributes, and no note for a settled file', async (t) => {
    const dir = importDir(t);
    file(dir, 'run1/a.txt', { content: 'four' });
    file(dir, 'labA/deep/x.fastq', { content: 'ACGT\n' });

    const p = await plan(dir, { sections: ['[library]', 'name = Imports', '[folder:labA]', 'library = Lab A', 'folder = /projects/a', 'dbkey = hg38', 'tags = run42, seq', 'access = lab-a'] });

    assert.deepEqual(p.of('run1/a.txt'), {
      file: 'run1/a.txt', action: 'upload', size: 4, library: 'Imports', folder: '/run1', file_type: 'auto', dbkey: '?', tags: [], link_data_only: false, access: null, notify: [],
    });
    assert.deepEqual(p.of('labA/deep/x.fastq'), {
      file: 'labA/deep/x.fastq', action: 'upload', size: 5, library: 'Lab A', folder: '/projects/a/deep', file_type: 'auto', dbkey: 'hg38', tags: ['run42', 'seq'], link_data_only: false, access: 'lab-a', notify: [],
    });
  });

  it('upload: a file changed less than settle_seconds ago (by the clock given) is noted as still being written', async (t) => {
    const dir = importDir(t);
    file(dir, 'run1/fresh.txt', { mtimeMs: NOW - 2_000 });
    file(dir, 'run1/settled.txt', { mtimeMs: NOW - 10_000 });

    const p = await plan(dir);

    assert.equal(p.of('run1/fresh.txt').action, 'upload');
    assert.equal(p.of('run1/fresh.txt').note, 'changed 2 s ago: sent once unchanged for settle_seconds (10)');
    assert.equal(p.of('run1/settled.txt').action, 'upload');
    assert.equal(p.of('run1/settled.txt').note, undefined, 'unchanged for settle_seconds: no note');
  });

  it('done: the ledger holds this very size and modification time in state ok; a failed one says how to retry', async (t) => {
    const dir = importDir(t);
    const done = statSync(file(dir, 'run1/done.txt'));
    const failed = statSync(file(dir, 'run1/failed.txt'));
    const ledger = fakeLedger({
      'run1/done.txt': { state: 'ok', size: done.size, mtimeMs: done.mtimeMs },
      'run1/failed.txt': { state: 'failed', size: failed.size, mtimeMs: failed.mtimeMs },
    });

    const p = await plan(dir, { ledger });

    assert.deepEqual(p.of('run1/done.txt'), { file: 'run1/done.txt', action: 'done', reason: 'ok in the ledger with this very size and modification time', size: done.size });
    assert.equal(p.of('run1/failed.txt').action, 'done');
    assert.match(p.of('run1/failed.txt').reason ?? '', /^failed before, with this very size and modification time: .*galaxy-importd retry sends it again$/);
    assert.deepEqual(ledger.asked.sort(), ['run1/done.txt', 'run1/failed.txt']);
  });

  it('upload, noted as a new version: the ledger has the file ok with another size', async (t) => {
    const dir = importDir(t);
    const st = statSync(file(dir, 'run1/b.txt', { content: 'a new version\n' }));
    const ledger = fakeLedger({ 'run1/b.txt': { state: 'ok', size: 3, mtimeMs: st.mtimeMs } });

    const p = await plan(dir, { ledger });

    assert.equal(p.of('run1/b.txt').action, 'upload');
    assert.equal(p.of('run1/b.txt').size, st.size);
    assert.equal(p.of('run1/b.txt').note, "a new version (the ledger's was ok with size 3): uploaded as a new dataset");
  });

  it('skip: an ignored name, and a hidden directory once, with a trailing /, and nothing below it', async (t) => {
    const dir = importDir(t);
    file(dir, 'run1/c.part');
    file(dir, 'run1/kept.txt');
    file(dir, '.snapshot/e.txt');
    file(dir, '.snapshot/deeper/f.txt');

    const p = await plan(dir);

    assert.deepEqual(p.of('run1/c.part'), { file: 'run1/c.part', action: 'skip', reason: 'name matches [import] ignore (c.part)' });
    assert.deepEqual(p.all.filter((f) => f.file.startsWith('.snapshot')), [
      { file: '.snapshot/', action: 'skip', reason: 'directory: name matches [import] ignore (.snapshot); nothing below it is imported' },
    ]);
    assert.deepEqual(p.all.map((f) => f.file).sort(), ['.snapshot/', 'run1/c.part', 'run1/kept.txt']);
  });

  it('skip: a symlink that leaves the import directory; one to a file inside is planned as that file', async (t) => {
    const dir = importDir(t);
    const outside = path.join(path.dirname(dir), 'outside');
    const secret = file(outside, 'secret.txt');
    file(dir, 'run1/inside.txt');
    symlinkSync(secret, path.join(dir, 'run1', 'out.txt'));
    symlinkSync(path.join(dir, 'run1', 'inside.txt'), path.join(dir, 'run1', 'in.txt'));

    const p = await plan(dir);

    assert.equal(p.of('run1/out.txt').action, 'skip');
    assert.match(p.of('run1/out.txt').reason ?? '', /^symlink leaves the import directory \(points to .*outside\/secret\.txt\)/);
    assert.equal(p.of('run1/in.txt').action, 'upload');
  });

  it('skip: the files present at the very first start with backlog = skip; after the first start they upload', async (t) => {
    const dir = importDir(t);
    file(dir, 'run1/a.txt');
    const backlog = ['backlog = skip'];

    const noLedger = await plan(dir, { import: backlog, ledger: null });
    const firstStart = await plan(dir, { import: backlog, ledger: fakeLedger() });
    const later = await plan(dir, { import: backlog, ledger: fakeLedger({}, { first_start_done: '2026-02-01T00:00:00.000Z' }) });

    for (const p of [noLedger, firstStart]) {
      assert.deepEqual(p.of('run1/a.txt'), { file: 'run1/a.txt', action: 'skip', reason: 'present at the very first start and [import] backlog = skip', size: 11 });
    }
    assert.equal(later.of('run1/a.txt').action, 'upload');
  });

  it('wait: ready_marker set and missing in the file\'s directory; the marker itself is skipped', async (t) => {
    const dir = importDir(t);
    file(dir, 'run1/a.txt');
    file(dir, 'run1/.ready', { content: '' });
    file(dir, 'run2/d.txt');
    file(dir, 'run2/sub/e.txt');

    const p = await plan(dir, { import: ['ready_marker = .ready'] });

    assert.equal(p.of('run1/a.txt').action, 'upload');
    assert.deepEqual(p.of('run1/.ready'), { file: 'run1/.ready', action: 'skip', reason: 'the ready marker itself is never imported' });
    assert.deepEqual(p.of('run2/d.txt'), {
      file: 'run2/d.txt', action: 'wait', size: 11, reason: 'its directory has no ready marker (.ready) yet: nothing in it is imported before the marker exists',
    });
    assert.equal(p.of('run2/sub/e.txt').action, 'wait', 'the marker is looked for in the file\'s own directory');
  });

  it('fail: a file this user cannot read', {
    skip: process.getuid?.() === 0 ? 'running as root, which reads a file of mode 000 all the same' : false,
  }, async (t) => {
    const dir = importDir(t);
    const full = file(dir, 'run1/locked.txt');
    chmodSync(full, 0o000); // the temporary directory is removed all the same: that needs only the directory's permissions

    const p = await plan(dir);

    assert.equal(p.of('run1/locked.txt').action, 'fail');
    assert.equal(p.of('run1/locked.txt').size, 16);
    assert.match(p.of('run1/locked.txt').reason ?? '', /^not readable by this user \(EACCES\): fix its permissions, then run galaxy-importd retry$/);
  });
});
