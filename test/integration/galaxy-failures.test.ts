import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { put, waitFor } from '../helpers.js';
import { retryCommand } from '../../src/cli/status.js';
import { harness } from './harness.js';

// What the daemon does when Galaxy fails (pages, resets, lost answers, failed and killed jobs):
// real files, real chokidar, a real SQLite ledger and the Galaxy emulator on a loopback port.

function duplicates(names: string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

describe('daemon: Galaxy failures', () => {
  it('ends every file ok, none twice, through 502/503 pages, resets, timeouts and 429 with Retry-After', async (t) => {
    const h = await harness(t, { ini: { galaxy: { timeout_seconds: 1 }, upload: { batch_size: 3, max_attempts: 20 } } });
    h.emu.addFaults(
      { method: 'POST', path: '^/api/tools/fetch$', times: 2, action: { type: 'status', status: 502 } },
      { method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'status', status: 503, body: 'text' } },
      { method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'reset' } },
      { method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'hang' } },
      { method: 'POST', path: '^/api/tools/fetch$', times: 2, action: { type: 'status', status: 429, body: 'text', retryAfter: 1 } },
      { method: 'GET', path: '^/api/jobs/', times: 3, action: { type: 'status', status: 504 } },
      { method: 'GET', path: '^/api/folders/', times: 2, action: { type: 'reset' } },
    );
    const files = Array.from({ length: 15 }, (_, i) => `flaky/f${i}.txt`);
    for (const f of files) put(h.importDir, f);

    await h.start();
    await h.waitOk(files, 60_000);

    const names = h.datasets();
    assert.equal(names.length, 15);
    assert.deepEqual(duplicates(names), []);
    assert.ok(h.events('upload.retry').length >= 5);
  });

  it('does not duplicate an upload that Galaxy accepted before its answer was lost (accepted, then 502)', async (t) => {
    const h = await harness(t, { emu: { jobQueuedMs: 300, jobRunMs: 100 } });
    h.emu.addFaults(
      { method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'accept-then', status: 502 } },
      { method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'accept-then-reset' } },
    );
    put(h.importDir, 'lost/one.txt');

    await h.start();
    await h.waitOk(['lost/one.txt']);
    put(h.importDir, 'lost/two.txt');
    await h.waitOk(['lost/two.txt']);
    await h.daemon().idle();

    assert.deepEqual(h.datasets(), ['Imports|/lost|one.txt', 'Imports|/lost|two.txt']);
    assert.equal(h.emu.requests.filter((r) => r.method === 'POST' && r.url === '/api/tools/fetch').length, 2);
  });

  it('a job that ends in error leaving empty and cut-short ok datasets (a full disk): they are deleted, and the folder keeps one good dataset per file', async (t) => {
    const h = await harness(t, { ini: { upload: { batch_size: 10 } } });
    h.emu.addJobFaults({ match: 'full/', outcome: 'disk-full', times: 2 });
    const names = Array.from({ length: 6 }, (_, i) => `full/f${i}.txt`);
    for (const n of names) put(h.importDir, n, `${n} `.repeat(50));

    await h.start();
    await h.waitOk(names);

    const live = h.emu.model.tree().filter((d) => d.folder === '/full');
    assert.deepEqual(live.map((d) => d.name).sort(), names.map((n) => n.slice('full/'.length)).sort(), 'one live dataset per file');
    for (const d of live) assert.equal(d.size, `full/${d.name} `.repeat(50).length, `${d.name}: the whole file`);
    const deleted = h.events('upload.leftover_deleted');
    assert.ok(deleted.length >= 6, `the first job's six datasets at least: ${deleted.length}`);
    assert.ok(deleted.some((e) => e.state === 'ok' && e.size === 0), 'an empty ok dataset among them');
    assert.equal(h.events('upload.split').length >= 1, true);
    assert.match(String(h.events('upload.split')[0]?.reason), /ended error with no message: see Galaxy's log for job/);
  });

  it('jobs that keep ending in error pause uploads (readyz says why) instead of failing file after file; the first ok job resumes them and retries what they failed', async (t) => {
    const h = await harness(t, { ini: { upload: { backoff_max_seconds: 5 } } });
    h.emu.addJobFaults({ match: 'run[123]/', outcome: 'disk-full' });
    for (const d of ['run1', 'run2', 'run3']) put(h.importDir, `${d}/a.txt`, `${d} `.repeat(20));

    await h.start();
    const failing = await waitFor(() => h.events('galaxy.jobs_failing')[0], 15_000, 'the pause');
    const reasons = await h.daemon().readiness();
    const sentWhilePaused = h.emu.requests.filter((r) => r.method === 'POST' && r.url === '/api/tools/fetch').length;
    h.emu.model.jobFaults.length = 0;
    put(h.importDir, 'other/x.txt');
    await h.waitOk(['other/x.txt', 'run1/a.txt', 'run2/a.txt', 'run3/a.txt'], 30_000);

    assert.equal(failing.jobs, 3);
    assert.ok(reasons.some((r) => /^uploads paused: the last 3 upload jobs ended in error/.test(r)), reasons.join('; '));
    // The shared job's folders go again in halves, run1 alone and run2 with run3, and the pair in halves again if its job
    // ends before run1's: at most 5 requests before the third failed job pauses uploads, not one per file from then on.
    assert.ok(sentWhilePaused <= 5, `one request, then its halves: ${sentWhilePaused}`);
    const resumed = h.events('galaxy.jobs_ok');
    assert.equal(resumed.length, 1);
    // What the failing jobs failed (run1's file, and run2's and run3's if their own jobs ended before the pause held) is retried.
    const failed = new Set(h.events('upload.failed').map((e) => e.file));
    assert.ok(failed.size >= 1 && failed.size <= 3, [...failed].join(', '));
    assert.equal(resumed[0]?.requeued, failed.size);
    assert.deepEqual(h.emu.model.tree().filter((d) => d.name === 'a.txt').map((d) => [d.folder, d.size]).sort(), [['/run1', 100], ['/run2', 100], ['/run3', 100]], 'one whole dataset per file');
  });

  it('a job a Galaxy restart killed (error, no message, after Galaxy was seen down) is sent again, not failed, split or counted by the breaker', async (t) => {
    const h = await harness(t);
    h.emu.addJobFaults({ match: '^k/', outcome: 'stuck', times: 1 });
    put(h.importDir, 'k/a.txt', 'only file of its job\n');

    await h.start();
    // The job must exist before Galaxy goes down: upload.submitted is written before the request goes out.
    await waitFor(() => (h.emu.model.jobs.size > 0 ? true : undefined), 15_000, 'the job');
    // Galaxy goes down behind its proxy while the job runs; the daemon's look at the job meets the proxy's page.
    h.emu.addFaults({ path: '.*', action: { type: 'status', status: 502 } });
    await waitFor(() => h.events('upload.retry').find((e) => /502 to GET \/api\/jobs/.test(String(e.reason))), 15_000, 'a look at the job while Galaxy is down');
    // It comes back: the local job runner's recover() ends the job it was running in error, with no message.
    assert.equal(h.emu.model.killUnfinishedJobs(), 1);
    h.emu.faults.clear();
    await h.waitOk(['k/a.txt']);

    const retried = h.events('upload.retry', 'k/a.txt');
    assert.equal(retried.length, 1, JSON.stringify(retried));
    assert.match(String(retried[0]?.reason), /ended error with no message after Galaxy was down while it ran \(Galaxy answered 502 to GET .*a restart kills the jobs it was running/);
    assert.deepEqual([h.events('upload.failed').length, h.events('upload.split').length, h.events('galaxy.jobs_failing').length], [0, 0, 0]);
    assert.equal(h.emu.requests.filter((r) => r.method === 'POST' && r.url === '/api/tools/fetch').length, 2, 'sent twice: before and after the restart');
    assert.deepEqual(h.datasets(), ['Imports|/k|a.txt']);
  });

  it('marks only the bad file failed when a job errors or an ok job has one error dataset; retry re-queues it', async (t) => {
    const h = await harness(t, { ini: { upload: { batch_size: 10 } } });
    h.emu.addJobFaults({ match: 'bad\\.txt$', outcome: 'dataset-error', message: 'checksum mismatch' });
    h.emu.addJobFaults({ match: 'crash\\.txt$', outcome: 'job-error', message: 'tool crashed', times: 10 });
    for (const n of ['good1.txt', 'bad.txt', 'good2.txt']) put(h.importDir, `mixed/${n}`);
    for (const n of ['ok1.txt', 'crash.txt', 'ok2.txt', 'ok3.txt']) put(h.importDir, `jobs/${n}`);

    await h.start();
    await h.waitOk(['mixed/good1.txt', 'mixed/good2.txt', 'jobs/ok1.txt', 'jobs/ok2.txt', 'jobs/ok3.txt']);
    await waitFor(() => (h.events('upload.failed').length >= 2 ? true : undefined), 15_000, 'two failures');

    const failures: Record<string, string | undefined> = Object.fromEntries(h.events('upload.failed').map((l) => [l.file ?? '', l.reason]));
    assert.match(String(failures['mixed/bad.txt']), /checksum mismatch/);
    assert.match(String(failures['jobs/crash.txt']), /ended error: tool crashed/);
    assert.equal(h.datasets().filter((d) => d.endsWith('|ok1.txt')).length, 1);

    h.emu.model.jobFaults.length = 0;
    const out: string[] = [];
    const err: string[] = [];
    const io = { env: {}, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, onSignal: () => undefined };
    assert.equal(await retryCommand(h.config, io, [], true), 0);
    await h.daemon().rescan();
    await h.waitOk(['mixed/bad.txt', 'jobs/crash.txt']);

    assert.match(out.join(''), /^2 file\(s\) queued again/);
    const said = err.join('').trim().split('\n').map((l) => JSON.parse(l) as { event: string; file: string; cause: string });
    assert.deepEqual(said.map((e) => [e.event, e.file, e.cause]).sort(), [['upload.requeued', 'jobs/crash.txt', 'retry'], ['upload.requeued', 'mixed/bad.txt', 'retry']], 'each re-queue is logged');
    assert.equal(h.datasets().filter((d) => d.endsWith('|bad.txt')).length, 1);
    assert.equal(h.datasets().filter((d) => d.endsWith('|crash.txt')).length, 1);
  });

  it('fails a job stuck in queued after job_timeout_minutes, with the job state in the reason', async (t) => {
    const h = await harness(t, { ini: { upload: { job_timeout_minutes: 0.02 } } });
    h.emu.addJobFaults({ match: 'stuck', outcome: 'stuck' });
    put(h.importDir, 'q/stuck.txt');

    await h.start();
    const [failed] = await waitFor(() => {
      const f = h.events('upload.failed', 'q/stuck.txt');
      return f.length > 0 ? f : undefined;
    }, 15_000, 'the stuck job to time out');

    assert.match(String(failed?.reason), /still queued after/);
  });
});
