/**
 * The fault and restart suite (issue 5): files dropped into many directories while the
 * emulator injects 503 pages, connection resets, delays, accepted-then-502 answers and
 * failing jobs, while the daemon (the built CLI) is kill -9'ed and restarted at random, and
 * the emulator itself is restarted once with its state kept. At the end every file is ok in
 * Galaxy exactly once, or failed with the reason the suite expected; none is missing.
 *
 * `npm run test:stress` runs it (2,000 files in 20 directories, 5 kills by default);
 * STRESS_FILES, STRESS_DIRS, STRESS_KILLS and STRESS_SEED change that. It is not part of
 * `npm test`; .ci/run runs it on every change.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { seededRandom } from '../../emulator/faults.js';
import type { JobFault } from '../../emulator/model.js';
import { startEmulator } from '../../emulator/server.js';
import { addFaults } from './faults.js';
import type { RunningCli } from '../helpers.js';
import { runCli, spawnCli, tempDir } from '../helpers.js';
import { systemClock } from '../../src/clock.js';
import { FILE_STATES } from '../../src/ledger/ledger.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { ini } from '../integration/harness.js';

const FILES = Number(process.env.STRESS_FILES ?? 2000);
const DIRS = Number(process.env.STRESS_DIRS ?? 20);
const KILLS = Number(process.env.STRESS_KILLS ?? 5);
const SEED = Number(process.env.STRESS_SEED ?? 42);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Which files the emulator's jobs fail, and how the suite expects the ledger to say so. */
const JOB_ERROR = /^bad-/;
const DATASET_ERROR = /^dserr-/;

function nameOf(i: number): string {
  if (i % 97 === 13) return `bad-${i}.txt`;
  if (i % 89 === 7) return `dserr-${i}.txt`;
  return `f${i}.txt`;
}

/** Given at start, so that jobs resumed from the state file after a restart fail too. */
const JOB_FAULTS: JobFault[] = [
  { match: '(^|/)bad-', outcome: 'job-error', message: 'stress: this job fails' },
  { match: '(^|/)dserr-', outcome: 'dataset-error', message: 'stress: this dataset fails' },
];

interface Status {
  states: Record<string, number>;
  failed?: { file: string; reason: string | null; attempts: number }[];
}

describe('fault and restart suite', () => {
  it(`${FILES} files in ${DIRS} directories through faults, ${KILLS} kill -9s and a Galaxy restart: each ok exactly once or failed as expected`, { timeout: 15 * 60_000 }, async (t) => {
    const random = seededRandom(SEED);
    const root = tempDir(t, 'importd-stress-');
    const importDir = path.join(root, 'import');
    const stateDir = path.join(root, 'state');
    const stateFile = path.join(root, 'galaxy-state.json');
    mkdirSync(importDir);
    let emu = await startEmulator({ libraryImportDir: importDir, stateFile, jobQueuedMs: 20, jobRunMs: 40, seed: SEED, jobFaults: JOB_FAULTS });
    t.after(() => emu.close());
    const port = emu.port;
    const key = emu.adminKey;
    addFaults(emu);

    const configFile = path.join(root, 'galaxy-importd.ini');
    writeFileSync(configFile, ini({
      galaxy: { url: emu.url, timeout_seconds: 10 },
      import: { dir: importDir, settle_seconds: 1, rescan_minutes: 0 },
      upload: { rate_per_second: 0, concurrency: 4, batch_size: 20, max_attempts: 12, backoff_max_seconds: 2, job_timeout_minutes: 5 },
      state: { dir: stateDir },
      http: { listen: '' },
    }));
    const env = { GALAXY_API_KEY: key };

    const runs: RunningCli[] = [];
    let daemon = spawnCli(['--config', configFile, 'run'], env);
    runs.push(daemon);
    t.after(() => {
      for (const r of runs) r.child.kill('SIGKILL');
    });

    // Drop the files in waves, a little at a time, as instruments do.
    const expected = new Map<string, 'ok' | 'job-error' | 'dataset-error'>();
    const dropping = (async () => {
      const waves = 40;
      for (let w = 0; w < waves; w++) {
        for (let i = Math.floor((w * FILES) / waves); i < Math.floor(((w + 1) * FILES) / waves); i++) {
          const dir = `run${String(i % DIRS).padStart(2, '0')}`;
          mkdirSync(path.join(importDir, dir), { recursive: true });
          const name = nameOf(i);
          writeFileSync(path.join(importDir, dir, name), `${dir}/${name}\n${'x'.repeat(i % 200)}\n`);
          expected.set(`${dir}/${name}`, JOB_ERROR.test(name) ? 'job-error' : DATASET_ERROR.test(name) ? 'dataset-error' : 'ok');
        }
        await sleep(250);
      }
    })();

    // kill -9 the daemon at random moments, restarting it at once; restart Galaxy once.
    const chaos = (async () => {
      const galaxyRestartAfter = Math.floor(random() * KILLS);
      for (let k = 0; k < KILLS; k++) {
        await sleep(1500 + random() * 3000);
        daemon.child.kill('SIGKILL');
        const gone = await daemon.exited;
        assert.equal(gone.signal, 'SIGKILL');
        if (k === galaxyRestartAfter) {
          await emu.close();
          await sleep(500);
          emu = await startEmulator({ port, libraryImportDir: importDir, stateFile, jobQueuedMs: 20, jobRunMs: 40, seed: SEED + 1, jobFaults: JOB_FAULTS });
          addFaults(emu);
        }
        daemon = spawnCli(['--config', configFile, 'run'], env);
        runs.push(daemon);
      }
    })();
    await Promise.all([dropping, chaos]);

    // Wait until every file has reached ok or failed in the ledger.
    const status = async (): Promise<Status> => {
      const r = await runCli(['--config', configFile, 'status', '--json', '--failed'], { env });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Status;
    };
    const deadline = Date.now() + 8 * 60_000;
    let last: Status = await status();
    while ((last.states.ok ?? 0) + (last.states.failed ?? 0) < FILES) {
      assert.ok(Date.now() < deadline, `not settled after 8 min: ${JSON.stringify(last.states)}\n${daemon.stderr().slice(-2000)}`);
      await sleep(1000);
      last = await status();
    }
    daemon.child.kill('SIGTERM');
    const end = await daemon.exited;
    assert.equal(end.code, 0, `the last daemon exited ${end.code} on SIGTERM: ${daemon.stderr().slice(-2000)}`);

    // STRESS_LOG_DIR=DIR keeps every daemon run's log lines there, for a failure's diagnosis.
    const logDir = process.env.STRESS_LOG_DIR;
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      for (const [n, r] of runs.entries()) writeFileSync(path.join(logDir, `daemon-${n}.log`), `${r.stdout()}${r.stderr()}`);
      writeFileSync(path.join(logDir, 'galaxy-requests.json'), JSON.stringify(emu.requests));
      writeFileSync(path.join(logDir, 'galaxy-datasets.json'), JSON.stringify(emu.model.tree()));
      const code = (n: number | null): string | null => (n === null ? null : emu.model.codec.encode(n));
      writeFileSync(path.join(logDir, 'galaxy-jobs.json'), JSON.stringify([...emu.model.jobs.values()].map((j) => ({ id: code(j.id), history: code(j.historyId), state: j.state, created: j.createTime, items: j.items.map((i) => i.fullPath.slice(importDir.length + 1)) }))));
    }

    // The ledger (the SQLite file itself): every file is there, ok or failed as expected, with the expected reasons.
    assert.equal(expected.size, FILES);
    const ledger = new SqliteLedger(stateDir, systemClock);
    const records = new Map(ledger.inState(...FILE_STATES).map((r) => [r.path, r]));
    ledger.close();
    assert.deepEqual([...records.keys()].filter((p) => !expected.has(p)), [], 'the ledger holds files never dropped');
    const wrong = [...expected].filter(([file, outcome]) => records.get(file)?.state !== (outcome === 'ok' ? 'ok' : 'failed'));
    assert.deepEqual(wrong.map(([file, outcome]) => ({ file, outcome, record: records.get(file) })), [], 'files not in the state expected');
    const failed = new Map([...records.values()].filter((r) => r.state === 'failed').map((r) => [r.path, r.lastError ?? '']));
    for (const [file, outcome] of expected) {
      if (outcome === 'ok') continue;
      const reason = failed.get(file);
      assert.ok(reason !== undefined, `${file} should have failed (${outcome})`);
      if (outcome === 'job-error') assert.match(reason, /Galaxy job \S+ ended error: stress: this job fails/, file);
      else assert.match(reason, /ended error: stress: this dataset fails|left an error dataset: stress: this dataset fails/, file);
    }

    // Galaxy: each good file is one ok dataset in its folder; no failed file has an ok dataset.
    const okCopies = new Map<string, number>();
    for (const d of emu.model.tree()) {
      if (d.state !== 'ok') continue;
      assert.equal(d.library, 'Imports');
      const file = `${d.folder.replace(/^\//, '')}/${d.name}`;
      okCopies.set(file, (okCopies.get(file) ?? 0) + 1);
    }
    for (const [file, outcome] of expected) {
      assert.equal(okCopies.get(file) ?? 0, outcome === 'ok' ? 1 : 0, `${file} is ok in Galaxy ${okCopies.get(file) ?? 0} times`);
    }
    assert.equal([...okCopies.keys()].filter((f) => !expected.has(f)).length, 0, 'Galaxy has ok datasets of files never dropped');

    // No run printed the key.
    for (const r of runs) assert.equal(`${r.stdout()}${r.stderr()}`.includes(key), false);
    t.diagnostic(`daemon runs: ${runs.length}; Galaxy requests after its restart: ${emu.requests.length}; failed as expected: ${failed.size}`);
  });
});
