/**
 * The shared ledger's database away (issue 6, docs/operations.md "When PostgreSQL is down"):
 * the daemon (the built CLI) keeps new files pending and sends nothing, says so in its log and
 * on /readyz, and imports them once the database is back. And `scan` does not wait behind a
 * running replica of the same name: it says what to do.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startEmulator } from '../../emulator/server.js';
import { freePort, runCli, spawnCli, tempDir, waitFor } from '../helpers.js';
import { ini } from '../integration/harness.js';
import { freshDatabase, NO_POSTGRES, PGPASSWORD, sql, startProxy } from '../postgres.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe('the shared ledger when PostgreSQL is away', { skip: NO_POSTGRES }, () => {
  it('keeps new files pending while the database is unreachable, sends nothing, and imports them when it is back', { timeout: 3 * 60_000 }, async (t) => {
    const url = await freshDatabase(t);
    const proxy = await startProxy(url);
    t.after(() => proxy.close());
    const root = tempDir(t, 'importd-outage-');
    const importDir = path.join(root, 'import');
    mkdirSync(path.join(importDir, 'run1'), { recursive: true });
    const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 20, jobRunMs: 30 });
    t.after(() => emu.close());
    const port = await freePort();
    const config = path.join(root, 'galaxy-importd.ini');
    writeFileSync(config, ini({
      galaxy: { url: emu.url, timeout_seconds: 5 },
      import: { dir: importDir, settle_seconds: 0.5, rescan_minutes: 0 },
      upload: { rate_per_second: 0, backoff_max_seconds: 1 },
      state: { dir: path.join(root, 'state'), ledger: 'postgresql', postgresql_url: proxy.url(url), lease_seconds: 10, replica_name: 'alone' },
      http: { listen: `127.0.0.1:${port}` },
    }));
    const env = { GALAXY_API_KEY: emu.adminKey, PGPASSWORD };
    const daemon = spawnCli(['--config', config, 'run'], env);
    t.after(() => daemon.child.kill('SIGKILL'));
    await waitFor(() => (daemon.stdout().includes('"event":"daemon.ready"') ? true : undefined), 30_000, 'ready');
    const okNames = (): string[] => emu.model.tree().filter((d) => d.state === 'ok').map((d) => d.name).sort();

    writeFileSync(path.join(importDir, 'run1', 'before.txt'), 'before\n');
    await waitFor(() => (okNames().includes('before.txt') ? true : undefined), 20_000, 'before.txt ok');

    await proxy.down();
    writeFileSync(path.join(importDir, 'run1', 'during-1.txt'), 'during 1\n');
    writeFileSync(path.join(importDir, 'run1', 'during-2.txt'), 'during 2\n');
    await waitFor(() => (daemon.stdout().includes('"event":"ledger.unavailable"') ? true : undefined), 20_000, 'ledger.unavailable logged');
    await sleep(2000);
    assert.deepEqual(okNames(), ['before.txt'], 'nothing is sent while the ledger is away');
    const fetches = emu.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/api/tools/fetch')).length;
    assert.equal(fetches, 1, 'no upload request went out');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /PostgreSQL ledger at postgresql:\/\/importd@127\.0\.0\.1:\d+\/t_\w+ cannot be reached/);

    await proxy.up();
    await waitFor(() => (okNames().length === 3 ? true : undefined), 60_000, 'the two files ok once the database is back');
    assert.deepEqual(okNames(), ['before.txt', 'during-1.txt', 'during-2.txt']);
    await waitFor(async () => {
      const rows = await sql<{ path: string; state: string }>(url, 'SELECT path, state FROM importd_files ORDER BY path');
      return rows.length === 3 && rows.every((r) => r.state === 'ok') ? true : undefined;
    }, 20_000, 'the ledger says ok');
    assert.ok(daemon.stdout().includes('"event":"ledger.available"'));
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^galaxy_importd_ledger_outages_total [1-9]\d*$/m);
    assert.match(metrics, /^galaxy_importd_files\{state="ok"\} 3$/m);

    // scan with the same replica name, while this replica runs: it says so, exits 2, waits for nothing.
    const scan = await runCli(['--config', config, 'scan'], { env });
    assert.equal(scan.code, 2, scan.stderr);
    assert.match(scan.stderr, /another running galaxy-importd holds the replica name "alone" .*: while galaxy-importd run works there is no need to scan; otherwise set a different \[state\] replica_name/);

    const check = await runCli(['--config', config, 'check'], { env });
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /ok {4}the PostgreSQL ledger postgresql:\/\/importd@127\.0\.0\.1:\d+\/t_\w+ \(PostgreSQL, shared by replicas\) is reachable and its schema is current/);

    daemon.child.kill('SIGTERM');
    assert.equal((await daemon.exited).code, 0, daemon.stderr());

    // A replica that starts while the database is away waits for it, and a stop still stops it.
    await proxy.down();
    const late = spawnCli(['--config', config, 'run'], env);
    t.after(() => late.child.kill('SIGKILL'));
    await waitFor(() => (late.stdout().includes('"event":"ledger.unavailable"') ? true : undefined), 20_000, 'the late replica says the ledger is away');
    assert.equal(late.child.exitCode, null, 'it waits rather than exits');
    late.child.kill('SIGTERM');
    const gone = await late.exited;
    assert.equal(gone.code, 0, late.stderr());
    assert.match(late.stdout(), /stopped before the ledger could be opened/);
    assert.equal(`${daemon.stdout()}${daemon.stderr()}`.includes(PGPASSWORD), false);
  });
});
