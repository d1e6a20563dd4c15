/**
 * Several replicas, one import directory (issue 6): three daemons (the built CLI) share a
 * PostgreSQL ledger on a real server and the same import directory; 1,000 files arrive in
 * waves; one replica is kill -9'ed in the middle. The other two take its files over after
 * its lease, and at the end every file is in Galaxy exactly once, sent in exactly one upload
 * request, with one library and one folder per directory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startEmulator } from '../../emulator/server.js';
import type { RunningCli } from '../helpers.js';
import { runCli, spawnCli, tempDir, waitFor } from '../helpers.js';
import { ini } from '../integration/harness.js';
import { freshDatabase, NO_POSTGRES, PGPASSWORD, sql } from '../postgres.js';

const FILES = 1000;
const DIRS = 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Status {
  states: Record<string, number>;
  replicas: { name: string; alive: boolean; holds: Record<string, number> }[];
}

describe('three replicas on one import directory', { skip: NO_POSTGRES }, () => {
  it(`${FILES} files, one replica kill -9'ed midway: each file in Galaxy exactly once`, { timeout: 8 * 60_000 }, async (t) => {
    const url = await freshDatabase(t);
    const root = tempDir(t, 'importd-replicas-');
    const importDir = path.join(root, 'import');
    mkdirSync(importDir);
    // Jobs of 0.4 s: each request stays sent long enough for the kill to find one in flight (with
    // 40 ms jobs a fast run could finish every file before replica-2 was seen holding any).
    const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 20, jobRunMs: 400 });
    t.after(() => emu.close());
    const configOf = (n: number): string => {
      const file = path.join(root, `replica-${n}.ini`);
      writeFileSync(file, ini({
        galaxy: { url: emu.url, timeout_seconds: 10 },
        import: { dir: importDir, settle_seconds: 1, rescan_minutes: 0 },
        upload: { rate_per_second: 0, concurrency: 4, batch_size: 20, backoff_max_seconds: 2 },
        state: { dir: path.join(root, `state-${n}`), ledger: 'postgresql', postgresql_url: url, lease_seconds: 10, replica_name: `replica-${n}` },
        http: { listen: '' },
      }));
      return file;
    };
    const env = { GALAXY_API_KEY: emu.adminKey, PGPASSWORD };
    const replicas: RunningCli[] = [1, 2, 3].map((n) => spawnCli(['--config', configOf(n), 'run'], env));
    t.after(() => {
      for (const r of replicas) r.child.kill('SIGKILL');
    });
    await waitFor(() => replicas.every((r) => r.stdout().includes('"event":"daemon.ready"')) || undefined, 30_000, 'three replicas ready');

    const expected = new Set<string>();
    const dropping = (async () => {
      const waves = 25;
      for (let w = 0; w < waves; w++) {
        for (let i = Math.floor((w * FILES) / waves); i < Math.floor(((w + 1) * FILES) / waves); i++) {
          const dir = `run${String(i % DIRS).padStart(2, '0')}`;
          mkdirSync(path.join(importDir, dir), { recursive: true });
          writeFileSync(path.join(importDir, dir, `f${i}.txt`), `${dir}/f${i}\n${'x'.repeat(i % 300)}\n`);
          expected.add(`${dir}/f${i}.txt`);
        }
        await sleep(300);
      }
    })();

    // kill -9 replica-2 while it holds files it has sent and not yet seen ok.
    const victim = replicas[1] as RunningCli;
    await waitFor(async () => {
      // Requests sent and not yet confirmed: the case where a second upload would be easiest to make.
      const held = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM importd_files WHERE owner = 'replica-2' AND state = 'submitted'");
      return emu.model.tree().length >= 200 && (held[0]?.n ?? 0) > 0 ? true : undefined;
    }, 60_000, 'replica-2 holding sent files').catch(async (err: unknown) => {
      const owners = await sql(url, 'SELECT owner, state, count(*)::int AS n FROM importd_files GROUP BY owner, state');
      throw new Error(`${(err as Error).message}: ${emu.model.tree().length} datasets in Galaxy; ledger ${JSON.stringify(owners)}\n${replicas.map((r) => `${r.stdout().slice(-3000)}${r.stderr().slice(-1000)}`).join('\n---\n')}`);
    });
    const heldAtKill = await sql<{ state: string; n: number }>(url, "SELECT state, count(*)::int AS n FROM importd_files WHERE owner = 'replica-2' GROUP BY state");
    assert.ok(heldAtKill.some((h) => h.state === 'submitted' && h.n > 0), `replica-2 had sent nothing: ${JSON.stringify(heldAtKill)}`);
    victim.child.kill('SIGKILL');
    assert.equal((await victim.exited).signal, 'SIGKILL');
    await dropping;

    const okInGalaxy = (): number => emu.model.tree().filter((d) => d.state === 'ok').length;
    await waitFor(() => (okInGalaxy() >= FILES ? true : undefined), 4 * 60_000, `all ${FILES} files ok in Galaxy`).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${okInGalaxy()} ok\n${replicas.map((r) => r.stdout().slice(-1500)).join('\n---\n')}`);
    });
    // The ledger catches up: replica-2's requests in doubt are confirmed by the replica that takes them over.
    const pending = async (): Promise<number> => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM importd_files WHERE state NOT IN ('ok', 'failed', 'skipped')"))[0]?.n ?? -1;
    await waitFor(async () => ((await pending()) === 0 ? true : undefined), 2 * 60_000, 'every file recorded done').catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}: ${await pending()} pending\n${replicas.map((r) => r.stdout().slice(-2000)).join('\n---\n')}`);
    });
    // A late duplicate would show now.
    await sleep(2000);

    const status = await runCli(['--config', configOf(1), 'status', '--json'], { env });
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as Status;

    const text = await runCli(['--config', configOf(3), 'status'], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /ledger: postgresql:\/\/importd@.* \(PostgreSQL, shared by replicas\)/);
    assert.match(text.stdout, /replicas:\n(.*\n)* {2}replica-1 on \S+ \(pid \d+\): running, renewed \d+ s ago; holds nothing/);
    assert.match(text.stdout, / {2}replica-2 on \S+ \(pid \d+\): not renewed for \d+ s \(lease 10 s\): presumed dead, its files are taken over; holds nothing/);

    for (const r of [replicas[0], replicas[2]] as RunningCli[]) r.child.kill('SIGTERM');
    for (const r of [replicas[0], replicas[2]] as RunningCli[]) {
      const end = await r.exited;
      assert.equal(end.code, 0, `a replica exited ${end.code} on SIGTERM: ${r.stderr().slice(-2000)}`);
    }

    // Galaxy: each file is one dataset, ok, in its folder; nothing else.
    const copies = new Map<string, number>();
    for (const d of emu.model.tree()) {
      assert.equal(d.state, 'ok', `${d.folder}/${d.name} is ${d.state}`);
      const file = `${d.folder.replace(/^\//, '')}/${d.name}`;
      copies.set(file, (copies.get(file) ?? 0) + 1);
    }
    const wrong = [...expected].filter((f) => copies.get(f) !== 1).map((f) => `${f}: ${copies.get(f) ?? 0}`);
    assert.deepEqual(wrong, [], 'files not in Galaxy exactly once');
    assert.equal(copies.size, expected.size, 'Galaxy holds datasets of files never dropped');

    // Each file was sent in exactly one upload request: nothing was sent twice, even by the replica that took over.
    const sent = new Map<string, number>();
    for (const job of emu.model.jobs.values()) {
      for (const item of job.items) {
        const file = item.fullPath.slice(importDir.length + 1);
        sent.set(file, (sent.get(file) ?? 0) + 1);
      }
    }
    assert.deepEqual([...sent].filter(([, n]) => n !== 1), [], 'files sent more than once');

    // One library, one folder per directory: creation was coordinated.
    assert.equal([...emu.model.libraries.values()].filter((l) => l.name === 'Imports').length, 1);
    const folders = new Map<string, number>();
    for (const f of emu.model.folders.values()) {
      const key = `${f.libraryId}:${emu.model.folderPath(f)}`;
      folders.set(key, (folders.get(key) ?? 0) + 1);
    }
    assert.deepEqual([...folders].filter(([, n]) => n > 1), [], 'a folder was created twice');
    assert.equal(folders.size, DIRS + 1, 'the root folder and one per directory');

    // The ledger: all ok; replica-2's files were taken over.
    const rows = await sql<{ state: string; n: number }>(url, 'SELECT state, count(*)::int AS n FROM importd_files GROUP BY state');
    assert.deepEqual(rows, [{ state: 'ok', n: FILES }]);
    const logs = replicas.map((r) => `${r.stdout()}${r.stderr()}`);
    const survivorsLogs = `${logs[0] ?? ''}${logs[2] ?? ''}`;
    assert.ok(survivorsLogs.includes('"event":"ledger.adopted"'), `no survivor took over replica-2's files (held at the kill: ${JSON.stringify(heldAtKill)})`);
    for (const [n, log] of logs.entries()) {
      // The work is shared: the survivors confirmed uploads; the victim had sent some when it was killed (heldAtKill).
      if (n !== 1) assert.ok(log.includes('"event":"upload.ok"'), `replica-${n + 1} confirmed nothing`);
      assert.equal(log.includes(emu.adminKey), false, 'the API key is never logged');
      assert.equal(log.includes(PGPASSWORD), false, 'the database password is never logged');
    }
    // status: which replica holds what; the dead one holds nothing any more.
    const dead = report.replicas.find((r) => r.name === 'replica-2');
    assert.ok(dead, JSON.stringify(report.replicas));
    assert.equal(dead.alive, false);
    assert.deepEqual(dead.holds, {});
    assert.equal(report.states.ok, FILES);
    t.diagnostic(`held by replica-2 at its kill: ${JSON.stringify(heldAtKill)}; upload requests: ${emu.model.jobs.size}`);
  });
});
