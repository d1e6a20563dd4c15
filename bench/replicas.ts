#!/usr/bin/env node
/**
 * Replicas: files per second with 1, 2 and 3 replicas sharing one import directory through a
 * PostgreSQL ledger, against an emulator that answers at once (jobs ok immediately). The files
 * are in the import directory before the replicas start; the figure is files over the time
 * from the first upload request to the last dataset ok in Galaxy.
 *
 * PostgreSQL: see bench/postgres.ts.
 *
 * Usage: node dist/bench/replicas.js [--files 3000]
 * Writes bench/RESULTS.md section replicas.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/server.js';
import type { BenchDaemon } from './daemon.js';
import { benchIni, startBenchDaemon, writeFiles } from './daemon.js';
import { benchPostgres } from './postgres.js';
import { cpuMs } from './proc.js';
import { machine, recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { files: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' }, 'timeout-seconds': { type: 'string', default: '300' } } });
const runs = Number(values.runs);
const files = Number(values.files);
const timeoutMs = Number(values['timeout-seconds']) * 1000;
const postgres = benchPostgres();

interface Result {
  replicas: number;
  ok: number;
  filesPerSecond: number;
  totalS: number;
  requests: number;
  perReplica: number[];
  cpuMsPerFile: number;
}

/** `replicas` 0: one daemon on the embedded SQLite ledger, the baseline of what sharing costs. */
async function measure(replicas: number): Promise<Result> {
  const shared = replicas > 0;
  const db = shared ? await postgres.createDatabase(`bench_${replicas}`) : null;
  const root = mkdtempSync(path.join(os.tmpdir(), 'importd-replicas-'));
  const importDir = path.join(root, 'import');
  writeFiles(importDir, files, 30, (i) => `replicas ${i}\n`);
  const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
  const started = Date.now();
  let first = Infinity;
  const count = Math.max(1, replicas);
  const sentBy = new Array<number>(count).fill(0);
  const daemons: BenchDaemon[] = [];
  for (let n = 0; n < count; n++) {
    const dir = path.join(root, `replica-${n + 1}`);
    mkdirSync(dir);
    const d = startBenchDaemon({
      root: dir,
      apiKey: emu.adminKey,
      env: { PGPASSWORD: postgres.password },
      ini: benchIni(emu.url, importDir, path.join(dir, 'state'), db ? { state: { ledger: 'postgresql', postgresql_url: db.url, replica_name: `replica-${n + 1}` } } : {}),
    });
    d.onLine((l) => {
      if (l.event !== 'upload.submitted') return;
      first = Math.min(first, l.time);
      sentBy[n] = (sentBy[n] ?? 0) + 1;
    });
    daemons.push(d);
  }
  const okCount = (): number => emu.model.tree().filter((d) => d.state === 'ok').length;
  let ok = 0;
  let done = 0;
  let cpu = 0;
  const deadline = started + timeoutMs;
  while (Date.now() < deadline) {
    ok = okCount();
    if (ok >= files) {
      done = Date.now();
      cpu = daemons.reduce((sum, d) => sum + cpuMs(d.pid), 0);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (done === 0) done = Date.now();
  const requests = emu.model.jobs.size;
  for (const d of daemons) await d.stop();
  await emu.close();
  rmSync(root, { recursive: true, force: true });
  if (db) await postgres.dropDatabase(db.name);
  const span = Math.max(1, done - first) / 1000;
  return { replicas, ok, filesPerSecond: ok / span, totalS: (done - started) / 1000, requests, perReplica: sentBy, cpuMsPerFile: cpu / Math.max(1, ok) };
}

/** Each configuration `runs` times: on two shared cores one run's figure varies a lot. */
const results: Result[][] = [];
try {
  for (const n of [0, 1, 2, 3]) {
    const mine: Result[] = [];
    for (let k = 0; k < runs; k++) {
      process.stdout.write(`${n === 0 ? 'one daemon on SQLite' : `${n} replica(s)`}, ${files} files, run ${k + 1} … `);
      const r = await measure(n);
      mine.push(r);
      process.stdout.write(`${r.filesPerSecond.toFixed(0)} files/s, ${r.ok}/${files} ok after ${r.totalS.toFixed(1)} s, sent per replica ${r.perReplica.join(' / ')}\n`);
    }
    results.push(mine);
  }
} finally {
  postgres.stop();
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};
recordFigures('replicas', { files, runs, results });
writeSection('replicas', [
  `### Several replicas on one import directory, ${files.toLocaleString('en')} files`,
  '',
  `\`node dist/bench/replicas.js --files ${files} --runs ${runs}\` (${machine()}): the files are in 30 directories before the replicas start; all replicas share one PostgreSQL ledger (a local server, fsync off) and one emulator that answers at once; each replica as in the throughput bench (\`rate_per_second = 0\`, \`concurrency = 4\`, \`batch_size = 100\`, \`settle_seconds = 1\`). Files per second from the first upload request to the last dataset ok in Galaxy, the median of ${runs} runs with the lowest and highest; CPU per file is all replicas' CPU time over the files (median); files sent by each replica from the median run.`,
  '',
  '| replicas | files per second (median, range) | all ok after start | upload requests | files sent by each replica | CPU per file |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.map((rs) => {
    const fps = rs.map((r) => r.filesPerSecond);
    const mid = rs.find((r) => r.filesPerSecond === median(fps)) ?? rs[0];
    if (!mid) return '';
    return `| ${mid.replicas === 0 ? '1, SQLite ledger (no sharing)' : mid.replicas} | ${median(fps).toFixed(0)} (${Math.min(...fps).toFixed(0)}–${Math.max(...fps).toFixed(0)}) | ${median(rs.map((r) => r.totalS)).toFixed(1)} s | ${mid.requests.toLocaleString('en')} | ${mid.perReplica.map((n) => n.toLocaleString('en')).join(' / ')} | ${median(rs.map((r) => r.cpuMsPerFile)).toFixed(2)} ms |`;
  }),
  '',
  'On this 2-core machine the replicas, the emulator and PostgreSQL share two cores, so more replicas cannot add CPU: the figure shows what coordination costs (claims, write-behind batches, the commit before each request), not how the work scales across hosts.',
]);
