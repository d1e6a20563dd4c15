/**
 * Bad-input matrix, part 2: the file system (issue 5). One daemon run over an import
 * directory holding every awkward kind of entry, each row in its own subdirectory next to a
 * control file; live rows change things while the daemon runs. Each row asserts the entry's
 * end state and reason, and that its control file was imported exactly once (nothing else
 * lost). In-process daemon, real chokidar, real SQLite, the emulator on a loopback port.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../helpers.js';
import type { Harness } from '../integration/harness.js';
import { harness } from '../integration/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const DEEP = Array.from({ length: 40 }, (_, i) => `d${i}`).join('/');

interface Row {
  name: string;
  dir: string;
  /** Make the entry before the daemon starts. */
  before?: (dir: string, h: Harness) => void | Promise<void>;
  /** Change things while the daemon runs (after its start-up walk). */
  live?: (dir: string, h: Harness) => Promise<void>;
  /** The assertion, once the daemon is idle. */
  expect: (h: Harness, dir: string) => void;
}

const folder = (h: Harness, dir: string): { name: string; state: string; size: number }[] =>
  h.emu.model.tree().filter((d) => d.folder === `/${dir}`);

function skipped(h: Harness, file: string, reason: RegExp): void {
  const line = h.events('file.skipped', file)[0];
  assert.ok(line, `no file.skipped line for ${JSON.stringify(file)}`);
  assert.match(String(line.reason), reason);
}

function imported(h: Harness, dir: string, name: string): void {
  const copies = folder(h, dir).filter((d) => d.name === name && d.state === 'ok');
  assert.equal(copies.length, 1, `${dir}/${name} is ok in Galaxy ${copies.length} times`);
}

const sockets: net.Server[] = [];

const ROWS: Row[] = [
  { name: 'a zero-byte file is imported (an empty result is still a result)', dir: 'empty', before: (d) => writeFileSync(path.join(d, 'nothing.bed'), ''), expect: (h, d) => imported(h, d, 'nothing.bed') },
  { name: 'a name with a newline', dir: 'newline', before: (d) => writeFileSync(path.join(d, 'two\nlines.txt'), 'x\n'), expect: (h, d) => imported(h, d, 'two\nlines.txt') },
  { name: 'names with quotes', dir: 'quotes', before: (d) => { writeFileSync(path.join(d, `it's "quoted".txt`), 'x\n'); }, expect: (h, d) => imported(h, d, `it's "quoted".txt`) },
  { name: 'names with spaces, leading and doubled', dir: 'spaces', before: (d) => writeFileSync(path.join(d, ' two  spaces.txt'), 'x\n'), expect: (h, d) => imported(h, d, ' two  spaces.txt') },
  { name: 'a name with non-UTF-8 bytes is skipped with a reason, not dropped silently', dir: 'latin1', before: (d) => writeFileSync(Buffer.concat([Buffer.from(`${d}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'x\n'), expect: (h, d) => { skipped(h, `${path.basename(d)}/caf\uFFFD.txt`, /not valid UTF-8/); assert.equal(folder(h, path.basename(d)).length, 1); } },
  { name: 'a FIFO is skipped, and never opened (no hang)', dir: 'fifo', before: (d) => { execFileSync('mkfifo', [path.join(d, 'pipe')]); }, expect: (h, d) => skipped(h, `${d}/pipe`, /not a regular file/) },
  {
    name: 'a Unix socket is skipped',
    dir: 'socket',
    before: (d) => new Promise<void>((resolve) => {
      const s = net.createServer().listen(path.join(d, 'sock'), () => resolve());
      sockets.push(s);
    }),
    expect: (h, d) => skipped(h, `${d}/sock`, /not a regular file/),
  },
  { name: 'a symlink out of the import directory is refused', dir: 'linkout', before: (d) => symlinkSync('/etc/hostname', path.join(d, 'host.txt')), expect: (h, d) => { skipped(h, `${d}/host.txt`, /leaves the import directory/); assert.equal(folder(h, d).length, 1); } },
  { name: 'a symlink to a file inside it is imported', dir: 'linkin', before: (d, h) => symlinkSync(path.join(h.importDir, 'linkin', 'control.txt'), path.join(d, 'alias.txt')), expect: (h, d) => imported(h, d, 'alias.txt') },
  { name: 'a dangling symlink is skipped', dir: 'dangling', before: (d) => symlinkSync('/nonexistent/file', path.join(d, 'gone.txt')), expect: (h, d) => skipped(h, `${d}/gone.txt`, /does not exist/) },
  { name: 'a symlink loop is skipped', dir: 'loop', before: (d) => { symlinkSync('b.txt', path.join(d, 'a.txt')); symlinkSync('a.txt', path.join(d, 'b.txt')); }, expect: (h, d) => { skipped(h, `${d}/a.txt`, /symlink loop/); skipped(h, `${d}/b.txt`, /symlink loop/); } },
  { name: 'a directory symlink back to its parent is not walked in circles', dir: 'dirloop', before: (d) => symlinkSync('..', path.join(d, 'up')), expect: (h, d) => assert.deepEqual(folder(h, d).map((x) => x.name), ['control.txt']) },
  { name: 'very deep nesting (40 levels) becomes nested folders', dir: 'deep', before: (d) => { mkdirSync(path.join(d, DEEP), { recursive: true }); writeFileSync(path.join(d, DEEP, 'bottom.txt'), 'x\n'); }, expect: (h, d) => assert.equal(h.emu.model.tree().filter((x) => x.folder === `/${d}/${DEEP}` && x.name === 'bottom.txt' && x.state === 'ok').length, 1) },
  { name: 'hidden files and partial downloads are never imported', dir: 'hidden', before: (d) => { writeFileSync(path.join(d, '.secret'), 'x\n'); writeFileSync(path.join(d, 'big.fastq.part'), 'x\n'); writeFileSync(path.join(d, '.rsync.tmp.AbC123'), 'x\n'); }, expect: (h, d) => assert.deepEqual(folder(h, d).map((x) => x.name), ['control.txt']) },
  {
    name: 'a file deleted before it settled is logged as gone',
    dir: 'vanish',
    live: async (d) => {
      writeFileSync(path.join(d, 'brief.txt'), 'x\n');
      await sleep(300);
      rmSync(path.join(d, 'brief.txt'));
    },
    expect: (h, d) => { assert.equal(h.events('file.gone', `${d}/brief.txt`).length, 1); assert.deepEqual(folder(h, d).map((x) => x.name), ['control.txt']); },
  },
  {
    name: 'a directory deleted while watched, then made again: its new files are imported',
    dir: 'rmdir',
    live: async (d) => {
      mkdirSync(path.join(d, 'run'));
      writeFileSync(path.join(d, 'run', 'first.txt'), 'x\n');
      await sleep(300);
      rmSync(path.join(d, 'run'), { recursive: true });
      await sleep(500);
      mkdirSync(path.join(d, 'run'));
      writeFileSync(path.join(d, 'run', 'second.txt'), 'y\n');
    },
    expect: (h, d) => {
      assert.equal(h.emu.model.tree().filter((x) => x.folder === `/${d}/run` && x.name === 'second.txt' && x.state === 'ok').length, 1);
      assert.equal(h.emu.model.tree().filter((x) => x.name === 'first.txt').length, 0);
    },
  },
  {
    name: 'a file replaced while it was being uploaded: its final version ends in Galaxy once',
    dir: 'replace',
    live: async (d, h) => {
      h.emu.addFaults({ method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'delay', ms: 1500 } });
      writeFileSync(path.join(d, 'data.txt'), 'version 1\n');
      await waitFor(() => h.events('upload.submitted', `${d}/data.txt`)[0], 10_000, 'the first upload');
      writeFileSync(path.join(d, 'data.txt.new'), 'version 2, longer\n');
      renameSync(path.join(d, 'data.txt.new'), path.join(d, 'data.txt'));
      // With the checksum sent, a job that read version 2 fails Galaxy's check and the file goes again;
      // without, version 2 may be in the first dataset: either way, wait for version 2 ok in Galaxy.
      const v2 = 'version 2, longer\n'.length;
      await waitFor(() => (folder(h, d).some((x) => x.name === 'data.txt' && x.state === 'ok' && x.size === v2) && h.events('upload.ok', `${d}/data.txt`).length >= 1 ? true : undefined), 20_000, 'version 2 ok');
      await h.daemon().idle();
    },
    expect: (h, d) => {
      assert.ok(h.events('file.changed', `${d}/data.txt`).length >= 1, 'the change is logged');
      // Galaxy reads the file when its job runs: the first dataset holds version 1 or 2. When it
      // already holds version 2 it is adopted (same name and size); otherwise version 2 is sent.
      const versions = folder(h, d).filter((x) => x.name === 'data.txt' && x.state === 'ok');
      assert.equal(versions.filter((v) => v.size === 'version 2, longer\n'.length).length, 1, 'the new version is in Galaxy once');
      assert.ok(versions.length <= 2);
    },
  },
];

describe('bad-input matrix: the file system', () => {
  it(`${ROWS.length} awkward entries, each next to a control file, in one daemon run`, { timeout: 180_000 }, async (t) => {
    const h = await harness(t, { ini: { import: { settle_seconds: 1 } } });
    t.after(() => {
      for (const s of sockets) s.close();
    });
    for (const row of ROWS) {
      const dir = path.join(h.importDir, row.dir);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'control.txt'), `${row.dir}\n`);
    }
    const cwd = process.cwd();
    process.chdir(h.importDir); // rows name their paths relative to the import directory
    try {
      for (const row of ROWS) await row.before?.(row.dir, h);
    } finally {
      process.chdir(cwd);
    }
    await h.start();
    await h.waitOk(ROWS.map((r) => `${r.dir}/control.txt`), 30_000);
    process.chdir(h.importDir);
    try {
      await Promise.all(ROWS.flatMap((row) => (row.live ? [row.live(row.dir, h)] : [])));
    } finally {
      process.chdir(cwd);
    }
    // A whole walk of what is there now, then nothing settling or queued: every row's files were looked at.
    await h.daemon().rescan();
    await h.daemon().idle();
    for (const row of ROWS) {
      await t.test(row.name, () => {
        row.expect(h, row.dir);
        imported(h, row.dir, 'control.txt');
      });
    }
  });
});
