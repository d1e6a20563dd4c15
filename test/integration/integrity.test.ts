import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { put, waitFor } from '../helpers.js';
import { harness } from './harness.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
/** A whole second a minute ago: an mtime that utimes puts back exactly. */
const WHEN = Math.floor(Date.now() / 1000) - 60;

/** Other bytes of the same size, with the same mtime: nothing but the bytes tells. */
function overwrite(full: string, content: string): void {
  assert.equal(statSync(full).size, Buffer.byteLength(content));
  writeFileSync(full, content);
  utimesSync(full, WHEN, WHEN);
}

describe('integrity: each file sent with its checksum, which Galaxy verifies (emulator)', () => {
  it('a file overwritten with other bytes of the same size and mtime after it settled, before its job read it: its dataset in error is deleted, the file settles and goes again; one ok dataset of the new bytes, nothing failed', async (t) => {
    // Jobs wait 600 ms before they read the files: the overwrite lands between the request and the read.
    const h = await harness(t, { emu: { jobQueuedMs: 600, jobRunMs: 30 } });
    put(h.importDir, 'run1/keep.txt', 'stays the same\n');
    put(h.importDir, 'run1/swap.txt', 'AAAAAAAA\n');
    utimesSync(path.join(h.importDir, 'run1/swap.txt'), WHEN, WHEN);
    await h.start();
    await waitFor(() => h.events('upload.submitted', 'run1/swap.txt')[0], 10_000, 'swap.txt submitted');
    overwrite(path.join(h.importDir, 'run1/swap.txt'), 'BBBBBBBB\n');
    await waitFor(() => h.events('upload.ok', 'run1/swap.txt')[0], 15_000, 'swap.txt ok again');
    await h.waitOk(['run1/keep.txt']);

    const live = h.emu.model.tree();
    assert.deepEqual(live.map((d) => [d.name, d.state, d.sha256]).sort(), [['keep.txt', 'ok', sha256('stays the same\n')], ['swap.txt', 'ok', sha256('BBBBBBBB\n')]], 'one ok dataset per file, of the bytes on disk; the dataset in error deleted');
    assert.deepEqual(h.events('upload.failed'), []);
    const changed = h.events('file.changed', 'run1/swap.txt');
    assert.equal(changed.length, 1);
    assert.match(String(changed[0]?.reason), /changed after it settled: .*Failed to validate upload with \[SHA-256\] - expected \[/);
    assert.equal(h.events('upload.ok', 'run1/swap.txt').length, 1, 'ok once');
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    const rows = ['run1/keep.txt', 'run1/swap.txt'].map((p) => ledger.get(p));
    assert.deepEqual(rows.map((r) => [r?.state, r?.checksum, r?.verified]), [
      ['ok', `SHA-256:${sha256('stays the same\n')}`, true],
      ['ok', `SHA-256:${sha256('BBBBBBBB\n')}`, true],
    ], 'the ledger keeps the checksum of the version imported, verified by the job');
  });

  it('with checksum = none, no hash is sent: the same overwrite is imported as Galaxy read it (the case the checksum is for)', async (t) => {
    const h = await harness(t, { ini: { upload: { checksum: 'none' } }, emu: { jobQueuedMs: 600, jobRunMs: 30 } });
    put(h.importDir, 'run1/swap.txt', 'AAAAAAAA\n');
    utimesSync(path.join(h.importDir, 'run1/swap.txt'), WHEN, WHEN);
    await h.start();
    await waitFor(() => h.events('upload.submitted', 'run1/swap.txt')[0], 10_000, 'swap.txt submitted');
    overwrite(path.join(h.importDir, 'run1/swap.txt'), 'BBBBBBBB\n');
    await h.waitOk(['run1/swap.txt']);

    assert.deepEqual(h.emu.model.tree().map((d) => [d.name, d.state]), [['swap.txt', 'ok']]);
    assert.deepEqual(h.events('file.changed'), []);
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    const row = ledger.get('run1/swap.txt');
    assert.deepEqual([row?.checksum, row?.verified], [null, false], 'no checksum, not verified');
  });

  it('method = paths on a Galaxy with Celery: the hash Galaxy stores after the job is compared with the checksum; a file overwritten before its job read it is deleted in Galaxy and goes again; the others ok, verified, their info naming the checksum', async (t) => {
    const h = await harness(t, { ini: { upload: { method: 'paths' } }, emu: { allowPathPaste: true, celery: 'running', jobQueuedMs: 600, jobRunMs: 30 } });
    put(h.importDir, 'run2/keep.txt', 'stays the same\n');
    put(h.importDir, 'run2/swap.txt', 'AAAAAAAA\n');
    utimesSync(path.join(h.importDir, 'run2/swap.txt'), WHEN, WHEN);
    await h.start();
    await waitFor(() => h.events('upload.submitted', 'run2/swap.txt')[0], 10_000, 'swap.txt submitted');
    overwrite(path.join(h.importDir, 'run2/swap.txt'), 'BBBBBBBB\n');
    await waitFor(() => h.events('upload.ok', 'run2/swap.txt')[0], 15_000, 'swap.txt ok again');
    await h.waitOk(['run2/keep.txt']);

    const live = h.emu.model.tree();
    assert.deepEqual(live.map((d) => [d.name, d.state, d.sha256]).sort(), [['keep.txt', 'ok', sha256('stays the same\n')], ['swap.txt', 'ok', sha256('BBBBBBBB\n')]], 'one ok dataset per file, of the bytes on disk; the one of other bytes deleted');
    for (const d of live) assert.match(d.info, new RegExp(`^SHA-256 ${d.sha256 ?? '?'}: verified by galaxy-importd against the hash Galaxy computed`), `${d.name}: a lab sees the checksum in Galaxy`);
    const mismatch = h.events('checksum.mismatch', 'run2/swap.txt');
    assert.deepEqual(mismatch.map((e) => [e.by, e.hash_function, e.expected, e.got]), [['galaxy', 'SHA-256', sha256('AAAAAAAA\n'), sha256('BBBBBBBB\n')]]);
    assert.match(String(h.events('file.changed', 'run2/swap.txt')[0]?.reason), /changed after it settled: .*the SHA-256 hash Galaxy computed of dataset \S+ after its job is /);
    assert.deepEqual(h.events('upload.failed'), []);
    assert.deepEqual(h.events('upload.ok').map((e) => [e.file, e.verified]).sort(), [['run2/keep.txt', true], ['run2/swap.txt', true]], 'ok once each, verified');
    await h.stop();
    const ledger = new SqliteLedger(h.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    assert.deepEqual(['run2/keep.txt', 'run2/swap.txt'].map((p) => [ledger.get(p)?.checksum, ledger.get(p)?.verified]), [
      [`SHA-256:${sha256('stays the same\n')}`, true],
      [`SHA-256:${sha256('BBBBBBBB\n')}`, true],
    ]);
  });

  it('method = paths on a Galaxy without Celery: imported, unverified, and said once for all files (Galaxy computes no stored hash)', async (t) => {
    const h = await harness(t, { ini: { upload: { method: 'paths' } }, emu: { allowPathPaste: true, celery: 'none' } });
    put(h.importDir, 'run3/a.txt', 'A\n');
    put(h.importDir, 'run3/b.txt', 'B\n');
    await h.start();
    await h.waitOk(['run3/a.txt', 'run3/b.txt']);
    assert.deepEqual(h.events('upload.ok').map((e) => e.verified), [false, false]);
    const said = h.events('checksum.unverifiable');
    assert.equal(said.length, 1, 'said once, not per file');
    assert.match(String(said[0]?.reason), /enable_celery_tasks is false.*Use method = fetch/);
    assert.deepEqual(h.events('checksum.unverified'), []);
    assert.deepEqual(h.emu.model.tree().map((d) => d.info.includes('verified')), [false, false], 'no info claims a verification');
  });

  it('method = paths, stopped while its upload runs: the next start confirms (and compares) that upload instead of sending the file again', async (t) => {
    const h = await harness(t, { ini: { upload: { method: 'paths' } }, emu: { allowPathPaste: true, celery: 'running', jobQueuedMs: 1500, jobRunMs: 30 } });
    put(h.importDir, 'run4/a.txt', 'A\n');
    await h.start();
    await waitFor(() => h.events('upload.submitted', 'run4/a.txt')[0], 10_000, 'a.txt submitted');
    await waitFor(() => (h.emu.model.tree().length === 1 ? true : undefined), 10_000, 'its dataset created, its job queued');
    await h.stop();
    await h.start();
    await h.waitOk(['run4/a.txt']);

    const sent = h.emu.requests.filter((r) => r.method === 'POST' && /^\/api\/libraries\/[^/]+\/contents$/.test(r.url) && r.status === 200);
    assert.equal(h.emu.model.tree().filter((d) => d.name === 'a.txt').length, 1, 'one dataset');
    assert.equal(sent.length, 1, 'sent once');
    assert.deepEqual(h.events('upload.ok', 'run4/a.txt').map((e) => e.verified), [true], 'ok once, compared with its stored hash');
  });
});
