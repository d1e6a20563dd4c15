/**
 * The replicas' fault suite (issue 6, beyond its 1,000-file test in npm test): three replicas
 * (the built CLI) on one import directory and one PostgreSQL ledger, the stress suite's HTTP
 * faults (503 pages, accepted-then-502, resets), and replicas kill -9'ed at random: some come
 * back at once under their name (they take their own files back), some only after their lease
 * ran out (the others have taken their files over). At the end every file is ok in Galaxy
 * exactly once and ok in the ledger.
 *
 * `npm run test:stress` runs it with the stress suite. RSTRESS_FILES (1,500), RSTRESS_KILLS (6)
 * and RSTRESS_SEED change it. Needs the test PostgreSQL server (skipped without, saying so).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { seededRandom } from '../../emulator/faults.js';
import { startEmulator } from '../../emulator/server.js';
import type { RunningCli } from '../helpers.js';
import { spawnCli, tempDir, waitFor } from '../helpers.js';
import { ini } from '../integration/harness.js';
import { freshDatabase, NO_POSTGRES, PGPASSWORD, sql } from '../postgres.js';
import { addFaults } from './faults.js';

const FILES = Number(process.env.RSTRESS_FILES ?? 1500);
const KILLS = Number(process.env.RSTRESS_KILLS ?? 6);
const SEED = Number(process.env.RSTRESS_SEED ?? 7);
const LEASE = 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('replicas through faults and kills', { skip: NO_POSTGRES }, () => {
  it(`${FILES} files, three replicas, HTTP faults, ${KILLS} kill -9s: each file ok in Galaxy exactly once`, { timeout: 15 * 60_000 }, async (t) => {
    const random = seededRandom(SEED);
    const url = await freshDatabase(t);
    const root = tempDir(t, 'importd-rstress-');
    const importDir = path.join(root, 'import');
    mkdirSync(importDir);
    const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 20, jobRunMs: 40, seed: SEED });
    t.after(() => emu.close());
    addFaults(emu);
    const configOf = (n: number): string => {
      const file = path.join(root, `replica-${n}.ini`);
      writeFileSync(file, ini({
        galaxy: { url: emu.url, timeout_seconds: 10 },
        import: { dir: importDir, settle_seconds: 1, rescan_minutes: 0 },
        upload: { rate_per_second: 0, concurrency: 4, batch_size: 20, max_attempts: 12, backoff_max_seconds: 2, job_timeout_minutes: 5 },
        state: { dir: path.join(root, `state-${n}`), ledger: 'postgresql', postgresql_url: url, lease_seconds: LEASE, replica_name: `replica-${n}` },
        http: { listen: '' },
      }));
      return file;
    };
    const env = { GALAXY_API_KEY: emu.adminKey, PGPASSWORD };
    const runs: RunningCli[] = [];
    const live = new Map<number, RunningCli>();
    const start = (n: number): void => {
      const r = spawnCli(['--config', configOf(n), 'run'], env);
      runs.push(r);
      live.set(n, r);
    };
    t.after(() => {
      for (const r of runs) r.child.kill('SIGKILL');
    });
    for (const n of [1, 2, 3]) start(n);

    const expected = new Set<string>();
    const dropping = (async () => {
      const waves = 40;
      for (let w = 0; w < waves; w++) {
        for (let i = Math.floor((w * FILES) / waves); i < Math.floor(((w + 1) * FILES) / waves); i++) {
          const dir = `run${String(i % 15).padStart(2, '0')}`;
          mkdirSync(path.join(importDir, dir), { recursive: true });
          writeFileSync(path.join(importDir, dir, `f${i}.txt`), `${dir}/f${i}\n${'y'.repeat(i % 250)}\n`);
          expected.add(`${dir}/f${i}.txt`);
        }
        await sleep(300);
      }
    })();

    // Kill a random replica now and then; half come back at once, half after their lease.
    const comebacks: Promise<void>[] = [];
    const chaos = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await sleep(2000 + random() * 3000);
        const candidates = [...live.keys()];
        if (candidates.length <= 1) continue;
        const n = candidates[Math.floor(random() * candidates.length)] ?? 1;
        const victim = live.get(n) as RunningCli;
        live.delete(n);
        victim.child.kill('SIGKILL');
        assert.equal((await victim.exited).signal, 'SIGKILL');
        const delay = k % 2 === 0 ? 300 : (LEASE + 3) * 1000;
        comebacks.push(sleep(delay).then(() => start(n)));
      }
    })();
    await Promise.all([dropping, chaos]);
    await Promise.all(comebacks);

    const state = async (): Promise<Record<string, number>> => Object.fromEntries(
      (await sql<{ state: string; n: number }>(url, 'SELECT state, count(*)::int AS n FROM importd_files GROUP BY state')).map((r) => [r.state, r.n]),
    );
    await waitFor(async () => {
      const s = await state();
      return (s.ok ?? 0) === FILES ? true : undefined;
    }, 8 * 60_000, 'every file ok in the ledger').catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await state())}\n${[...live.values()].map((r) => r.stdout().slice(-1500)).join('\n---\n')}`);
    });
    await sleep(2000);
    for (const r of live.values()) r.child.kill('SIGTERM');
    for (const r of live.values()) assert.equal((await r.exited).code, 0, r.stderr().slice(-2000));

    const copies = new Map<string, number>();
    for (const d of emu.model.tree()) {
      if (d.state !== 'ok') continue;
      const file = `${d.folder.replace(/^\//, '')}/${d.name}`;
      copies.set(file, (copies.get(file) ?? 0) + 1);
    }
    assert.deepEqual([...expected].filter((f) => copies.get(f) !== 1).map((f) => `${f}: ${copies.get(f) ?? 0}`), [], 'files not ok in Galaxy exactly once');
    assert.equal(copies.size, expected.size, 'Galaxy holds datasets of files never dropped');
    const folders = new Map<string, number>();
    for (const f of emu.model.folders.values()) {
      const key = `${f.libraryId}:${emu.model.folderPath(f)}`;
      folders.set(key, (folders.get(key) ?? 0) + 1);
    }
    assert.deepEqual([...folders].filter(([, n]) => n > 1), [], 'a folder was created twice');
    for (const r of runs) {
      const log = `${r.stdout()}${r.stderr()}`;
      assert.equal(log.includes(emu.adminKey), false);
      assert.equal(log.includes(PGPASSWORD), false);
    }
    const sent = new Map<string, number>();
    for (const job of emu.model.jobs.values()) for (const item of job.items) sent.set(item.fullPath, (sent.get(item.fullPath) ?? 0) + 1);
    const adopted = runs.filter((r) => r.stdout().includes('"event":"ledger.adopted"')).length;
    t.diagnostic(`replica runs: ${runs.length}; runs that took files over: ${adopted}; files in more than one upload job: ${[...sent.values()].filter((n) => n > 1).length}; Galaxy requests: ${emu.requests.length}`);
  });
});
