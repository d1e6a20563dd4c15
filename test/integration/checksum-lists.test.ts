import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { put, waitFor } from '../helpers.js';
import { harness } from './harness.js';

/**
 * Provider checksum lists ([import] manifests) in the daemon, on the emulator: read when they
 * settle, the files they name checked against them before they go, absent files recorded.
 */

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

describe('checksum lists: a provider\'s md5.txt checks the files it names (emulator)', () => {
  it('a file that does not match its line fails, naming the list and line; the others are ok; the list itself is not imported', async (t) => {
    const h = await harness(t);
    put(h.importDir, 'run1/a.fastq', 'AAAA\n');
    put(h.importDir, 'run1/b.fastq', 'BBBB\n');
    put(h.importDir, 'run1/sub/c.fastq', 'CCCC\n');
    // GNU text mode, binary mode ('*'), a CRLF line, a name below the list's directory; b's digest is wrong.
    put(h.importDir, 'run1/md5.txt', `${md5('AAAA\n')}  a.fastq\n${md5('not b')} *b.fastq\r\n${md5('CCCC\n')}  sub/c.fastq\n`);
    await h.start();
    await h.waitOk(['run1/a.fastq', 'run1/sub/c.fastq']);
    const failed = await waitFor(() => h.events('upload.failed', 'run1/b.fastq')[0], 10_000, 'b.fastq failed');

    assert.match(String(failed.reason), /does not match its checksum list: run1\/md5\.txt line 2 says MD5 [0-9a-f]{32}, the file's is [0-9a-f]{32}/);
    assert.deepEqual(h.datasets(), ['Imports|/run1/sub|c.fastq', 'Imports|/run1|a.fastq'], 'b is not imported, nor is the list');
    const mismatch = h.events('checksum.mismatch', 'run1/b.fastq');
    assert.deepEqual(mismatch.map((m) => [m.by, m.list, m.line, m.expected]), [['list', 'run1/md5.txt', 2, md5('not b')]]);
    assert.deepEqual(h.events('manifest.read').map((l) => [l.file, l.entries, l.problems]), [['run1/md5.txt', 3, 0]]);
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    assert.equal(ledger.get('run1/md5.txt')?.state, 'skipped');
    assert.equal(ledger.get('run1/b.fastq')?.state, 'failed');
  });

  it('a file the list names that is not there is recorded missing, and imported when it arrives; a restart reads the list again', async (t) => {
    const h = await harness(t);
    put(h.importDir, 'run2/x.txt', 'X\n');
    put(h.importDir, 'run2/MD5SUMS', `${md5('X\n')}  x.txt\n${md5('Y\n')}  y.txt\n`);
    await h.start();
    await h.waitOk(['run2/x.txt']);
    const missing = await waitFor(() => h.events('file.missing', 'run2/y.txt')[0], 10_000, 'y.txt missing');
    assert.deepEqual([missing.list, missing.line], ['run2/MD5SUMS', 2]);

    // A new process: the list, done in the ledger, is read again, and y checked against it.
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    assert.equal(ledger.counts().missing, 1, 'the ledger counts it (status, the status page, the files metric)');
    assert.match(ledger.get('run2/y.txt')?.lastError ?? '', /named in run2\/MD5SUMS line 2/);
    await ledger.close();
    await h.start();
    await waitFor(() => (h.events('manifest.read', 'run2/MD5SUMS').length === 2 ? true : undefined), 10_000, 'the list read again');
    put(h.importDir, 'run2/y.txt', 'Z\n');
    const failed = await waitFor(() => h.events('upload.failed', 'run2/y.txt')[0], 10_000, 'y.txt (wrong bytes) failed');
    assert.match(String(failed.reason), /run2\/MD5SUMS line 2/);
  });

  it('manifest_required: a file waits for its list, goes when the list arrives, and a file the list leaves out fails', async (t) => {
    const h = await harness(t, { ini: { import: { manifest_required: true, manifest_wait_seconds: 60 } } });
    await h.start();
    put(h.importDir, 'run3/early.txt', 'E\n');
    put(h.importDir, 'run3/other.txt', 'O\n');
    // Long enough for both to settle: they wait for a list.
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(h.events('upload.queued'), [], 'nothing goes before its list');
    put(h.importDir, 'run3/md5sum.txt', `${md5('E\n')}  early.txt\n`);
    await h.waitOk(['run3/early.txt']);
    const failed = await waitFor(() => h.events('upload.failed', 'run3/other.txt')[0], 10_000, 'other.txt failed');
    assert.match(String(failed.reason), /not named in its checksum list run3\/md5sum\.txt, and \[import\] manifest_required = true/);
    assert.deepEqual(h.datasets(), ['Imports|/run3|early.txt']);
  });

  it('manifest_required: a file no list arrives for fails at manifest_wait_seconds, saying what to do', async (t) => {
    const h = await harness(t, { ini: { import: { manifest_required: true, manifest_wait_seconds: 1 } } });
    await h.start();
    put(h.importDir, 'run4/lonely.txt', 'L\n');
    const failed = await waitFor(() => h.events('upload.failed', 'run4/lonely.txt')[0], 10_000, 'lonely.txt failed');
    assert.match(String(failed.reason), /no checksum list named it within 1 s .*galaxy-importd retry/);
    assert.deepEqual(h.datasets(), []);
  });

  it('method = paths (no hashes sent): the list is still compared before a file goes; the checksum is recorded, not verified by Galaxy', async (t) => {
    const h = await harness(t, { ini: { upload: { method: 'paths' } }, emu: { allowPathPaste: true } });
    put(h.importDir, 'run5/a.txt', 'A\n');
    put(h.importDir, 'run5/b.txt', 'B\n');
    put(h.importDir, 'run5/md5.txt', `${md5('A\n')}  a.txt\n${md5('not B')}  b.txt\n`);
    await h.start();
    await h.waitOk(['run5/a.txt']);
    const failed = await waitFor(() => h.events('upload.failed', 'run5/b.txt')[0], 10_000, 'b.txt failed');
    assert.match(String(failed.reason), /run5\/md5\.txt line 2/);
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    const row = ledger.get('run5/a.txt');
    assert.deepEqual([row?.state, row?.checksum, row?.verified], ['ok', `SHA-256:${createHash('sha256').update('A\n').digest('hex')}`, false]);
  });

  it('a file settling while a new version of its list settles waits for it: a corrected delivery is checked against the new list, not the old', async (t) => {
    // settle_seconds 1: the list, written 100 ms after the file, is seen settling well before the file settles.
    const h = await harness(t, { ini: { import: { settle_seconds: 1 } } });
    put(h.importDir, 'run6/b.txt', 'old\n');
    put(h.importDir, 'run6/md5.txt', `${md5('old\n')}  b.txt\n${md5('gone\n')}  y.txt\n`);
    await h.start();
    await h.waitOk(['run6/b.txt']);
    await waitFor(() => h.events('file.missing', 'run6/y.txt')[0], 10_000, 'y.txt missing');
    // The provider delivers b again, and a list to match that no longer names y, a moment later.
    put(h.importDir, 'run6/b.txt', 'new!\n');
    await new Promise((r) => setTimeout(r, 100));
    put(h.importDir, 'run6/md5.txt', `${md5('new!\n')}  b.txt\n`);
    await waitFor(() => (h.events('upload.ok', 'run6/b.txt').length === 2 ? true : undefined), 10_000, 'the new b.txt ok');

    assert.deepEqual(h.events('upload.failed'), [], 'checked against the new list');
    await waitFor(() => h.events('file.skipped', 'run6/y.txt')[0], 10_000, 'y.txt no longer looked for');
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    assert.equal(ledger.get('run6/y.txt')?.state, 'skipped', 'no longer missing: the new list does not name it');
    assert.equal(ledger.counts().missing, 0);
  });

  it('without manifest_required, files waiting for a list that never settles go on at manifest_wait_seconds, all of them, none failed', async (t) => {
    const h = await harness(t, { ini: { import: { manifest_wait_seconds: 1 } } });
    put(h.importDir, 'run7/md5.txt', '# being written\n');
    await h.start();
    // The list keeps changing; two files settle below it meanwhile.
    let n = 0;
    const writer = setInterval(() => put(h.importDir, 'run7/md5.txt', `# being written ${++n}\n`), 100);
    t.after(() => clearInterval(writer));
    put(h.importDir, 'run7/a.txt', 'A\n');
    put(h.importDir, 'run7/b.txt', 'B\n');
    await h.waitOk(['run7/a.txt', 'run7/b.txt']);
    clearInterval(writer);

    assert.deepEqual(h.events('upload.failed'), []);
  });
});
