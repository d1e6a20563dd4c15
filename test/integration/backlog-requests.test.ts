import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { put } from '../helpers.js';
import { harness } from './harness.js';

// Issue 29: a backlog goes to Galaxy in as few requests as its size allows (batch_size as a
// ceiling), not one per slice of files, and Galaxy's looks scale with jobs and folders, not files.

describe('daemon: a backlog in few requests', () => {
  it('a backlog of 2,000 files in 20 folders, present at start, goes as one fetch request, and at most 0.02 requests a file beyond one per folder created', async (t) => {
    const h = await harness(t, { ini: { upload: { concurrency: 4 } }, emu: { jobRunMs: 300 } });
    const names: string[] = [];
    for (let d = 0; d < 20; d++) for (let i = 0; i < 100; i++) names.push(`run${d}/s${i}.fastq`);
    for (const n of names) put(h.importDir, n, `@${n}\nACGT\n+\nIIII\n`);

    await h.start();
    await h.waitOk(names, 60_000);
    await h.daemon().idle();

    const count = (method: string, re: RegExp): number => h.emu.requests.filter((r) => r.method === method && re.test(r.url)).length;
    const fetches = count('POST', /^\/api\/tools\/fetch$/);
    const foldersMade = count('POST', /^\/api\/folders\/F[0-9a-f]+$/);
    const all = h.emu.requests.length;
    t.diagnostic(`${fetches} fetch requests (jobs of ${[...h.emu.model.jobs.values()].map((j) => j.items.length).join(', ')} files); ${all} requests, ${foldersMade} folders created`);
    assert.equal(fetches, 1, 'the backlog as one request (batch_size 10,000 by default)');
    assert.equal(foldersMade, 20);
    assert.ok(all - foldersMade <= 0.02 * names.length, `${all - foldersMade} requests beyond folder creation, for ${names.length} files`);
    // Folder looks: one per folder for the job's datasets. None before the twenty new folders, and no
    // listing of the library: the daemon has just made it, and the ledger is its own.
    assert.equal(count('GET', /^\/api\/folders\/F[0-9a-f]+\/contents/), 20);
    assert.equal(count('GET', /^\/api\/libraries\/[0-9a-f]+\/contents/), 0);
    assert.equal(h.datasets().length, names.length);
  });

  it("a request too large for Galaxy's proxy (413) is split in halves, which go; nothing fails", async (t) => {
    const h = await harness(t);
    h.emu.addFaults({ method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'status', status: 413 } });
    const names = Array.from({ length: 40 }, (_, i) => `big/f${i}.txt`);
    for (const n of names) put(h.importDir, n);

    await h.start();
    // 60 s, as above: beside the whole suite on two cores a backlog's settling and its burst hold take longer than alone (0.8 s).
    await h.waitOk(names, 60_000);

    const split = h.events('upload.split');
    assert.equal(split.length, 1);
    assert.match(String(split[0]?.reason), /413 .*larger than Galaxy's proxy takes: raise its client_max_body_size/);
    assert.deepEqual(h.events('upload.failed'), []);
    const statuses = h.emu.requests.filter((r) => r.method === 'POST' && r.url === '/api/tools/fetch').map((r) => r.status);
    assert.equal(statuses[0], 413);
    assert.ok(statuses.length >= 3 && statuses.slice(1).every((s) => s === 200), statuses.join(' '));
    assert.equal(h.datasets().length, 40);
  });

  it("after a 413 from Galaxy's proxy, requests hold at most half the refused one's files: the next backlog is not refused", async (t) => {
    // A proxy that takes a request of about 9 files (an item with its sha256 hashes and info is about 370 bytes), under a batch_size of 10,000.
    const h = await harness(t, { emu: { maxBodyBytes: 3_500 } });
    const fetches = (): { status: number | string; files: number }[] => {
      const jobs = [...h.emu.model.jobs.values()];
      let j = 0;
      // Each request answered 200 made a job, in order; a 413 made none.
      return h.emu.requests.filter((r) => r.method === 'POST' && r.url === '/api/tools/fetch').map((r) => ({ status: r.status, files: r.status === 200 ? (jobs[j++]?.items.length ?? -1) : 0 }));
    };
    const first = Array.from({ length: 64 }, (_, i) => `run1/lane${i % 4}/s${i}.fastq`);
    for (const n of first) put(h.importDir, n, `@${n}\nACGT\n+\nIIII\n`);
    await h.start();
    await h.waitOk(first, 60_000);
    const refused = fetches().filter((f) => f.status === 413).length;
    const ceilings = h.events('upload.ceiling');
    t.diagnostic(`first backlog: ${fetches().map((f) => `${f.status}:${f.files}`).join(' ')}; ceilings ${ceilings.map((e) => `${String(e.refused)}->${String(e.ceiling)}`).join(', ')}`);
    assert.ok(refused >= 1, 'the first backlog met the proxy');
    assert.ok(ceilings.length >= 1 && ceilings.length <= refused, 'one upload.ceiling line each time the ceiling is lowered');
    // The backlog goes as one request of 64 files (the test above); under load it may go in parts, each refused.
    const [firstCeiling] = ceilings;
    const n = Number(firstCeiling?.refused);
    assert.ok(n > 8 && n <= 64, String(n));
    assert.equal(firstCeiling?.ceiling, Math.floor(n / 2));
    assert.equal(firstCeiling?.batch_size, 10_000);
    assert.equal(firstCeiling?.level, 'warn');
    assert.match(String(firstCeiling?.msg), new RegExp(`refused a request of ${n} files as too large \\(413\\): requests hold at most ${Math.floor(n / 2)} files until galaxy-importd restarts`));
    const ceiling = Math.min(...ceilings.map((e) => Number(e.ceiling)));
    assert.deepEqual(h.events('upload.failed'), []);

    const before = fetches().length;
    const splits = h.events('upload.split').length;
    const second = Array.from({ length: 64 }, (_, i) => `run2/lane${i % 4}/s${i}.fastq`);
    for (const n of second) put(h.importDir, n, `@${n}\nACGT\n+\nIIII\n`);
    await h.waitOk(second, 60_000);
    const later = fetches().slice(before);
    t.diagnostic(`second backlog: ${later.map((f) => `${f.status}:${f.files}`).join(' ')}`);
    assert.deepEqual(later.filter((f) => f.status !== 200), [], 'no request of the second backlog refused');
    assert.ok(later.every((f) => f.files <= ceiling), `every request within the ceiling of ${ceiling}`);
    assert.equal(later.reduce((n, f) => n + f.files, 0), 64);
    assert.equal(h.events('upload.split').length, splits, 'no split in the second backlog');
    assert.equal(h.events('upload.ceiling').length, ceilings.length);
    assert.equal(h.datasets().length, 128);

    // A reload (SIGHUP: the daemon's rescan) undoes the ceiling, said once; the proxy, still as strict, lowers it again.
    await h.daemon().rescan();
    assert.deepEqual(h.events('upload.ceiling_reset').map((e) => [e.batch_size, e.level]), [[10_000, 'info']]);
    await h.daemon().rescan();
    assert.equal(h.events('upload.ceiling_reset').length, 1, 'not said again while nothing was lowered');
    const beforeThird = fetches().length;
    const third = Array.from({ length: 64 }, (_, i) => `run3/lane${i % 4}/s${i}.fastq`);
    for (const n of third) put(h.importDir, n, `@${n}\nACGT\n+\nIIII\n`);
    await h.waitOk(third, 60_000);
    const after = fetches().slice(beforeThird);
    t.diagnostic(`after the reload: ${after.map((f) => `${f.status}:${f.files}`).join(' ')}`);
    // The burst goes as one request of 64 again (refused, so the ceiling is lowered again), or at least one larger than the ceiling.
    assert.ok(h.events('upload.ceiling').length > ceilings.length || after.some((f) => f.files > ceiling), 'requests larger than the ceiling after the reload');
    assert.equal(h.datasets().length, 192);
  });
});
