#!/usr/bin/env node
/**
 * Live latency: files written at a steady rate into 10 directories; for each file, the time
 * from the end of its last write to its upload request (the `upload.submitted` line, logged
 * just before the request is sent). galaxy-importd and plain chokidar wait a 1 s settle
 * window by design, so their delay beyond it is reported separately; the
 * example_watch_folder.py algorithm has no settle window (it also uploads files still being
 * written). Each system runs in its own process against its own emulator, answering at once.
 *
 * Usage: node dist/bench/latency.js [--rate 10] [--seconds 30] [--only galaxy-importd,bare]
 * [--cli DIST/src/cli/main.js] [--before DIST/src/cli/main.js --before-label REV]
 * (--only: those systems, printed, not recorded; --cli: another build of galaxy-importd, such as
 * the one before a change; --before: that build measured too, right after this one, as a row of
 * the section)
 * Writes bench/RESULTS.md section latency-RATE.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/server.js';
import { atRate } from './pace.js';
import { cpuMs, quantile } from './proc.js';
import { recordFigures, writeSection } from './results.js';
import type { System } from './systems.js';
import { LABEL, SYSTEMS, startSystem } from './systems.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '10' }, seconds: { type: 'string', default: '30' }, only: { type: 'string' }, cli: { type: 'string' }, before: { type: 'string' }, 'before-label': { type: 'string', default: 'before' }, 'checksum-none-too': { type: 'boolean', default: false } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const SETTLE_MS: Record<System, number> = { 'galaxy-importd': 1000, poll: 0, chokidar: 1000, bare: 0 };

interface Result {
  system: System;
  /** Set on the row of the build before (--before): its label. */
  before?: string;
  /** Set on the row of this build with another [upload] checksum (--checksum-none-too). */
  checksum?: string;
  files: number;
  submitted: number;
  p50: number;
  p95: number;
  p99: number;
  beyond95: number;
  cpuMsPerFile: number;
  /** CPU per file of the second half of the files (the process's CPU from the middle of the writing to the end): the JIT has warmed up by then in a long run. */
  cpuMsPerFileLater: number;
  /** Requests the emulator answered per file, after ready, and of them job looks (by id or listing). */
  requestsPerFile: number;
  jobLooksPerFile: number;
}

async function measure(system: System, cli = values.cli, checksum?: string): Promise<Result> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'importd-latency-'));
  const importDir = path.join(root, 'import');
  for (let d = 0; d < 10; d++) mkdirSync(path.join(importDir, `run${d}`), { recursive: true });
  const emu = await startEmulator({ libraryImportDir: importDir, allowPathPaste: true, jobQueuedMs: 0, jobRunMs: 0 });
  const sys = startSystem(system, { root, importDir, stateDir: path.join(root, 'state'), emu, ...(cli !== undefined ? { cli: path.resolve(cli) } : {}), ...(checksum !== undefined ? { checksum } : {}) });
  const written = new Map<string, number>();
  const latencies = new Map<string, number>();
  sys.onSubmitted((file, time) => {
    const w = written.get(file);
    if (w !== undefined && !latencies.has(file)) latencies.set(file, time - w);
  });
  await sys.ready;
  const cpu0 = cpuMs(sys.pid);
  const r0 = emu.requests.length;
  const total = Math.round(rate * seconds);
  let cpuHalf = cpu0;
  await atRate(rate, total, (i) => {
    if (i === Math.floor(total / 2)) cpuHalf = cpuMs(sys.pid);
    const rel = `run${i % 10}/f${i}.txt`;
    writeFileSync(path.join(importDir, rel), `latency ${i}\n`);
    written.set(rel, Date.now());
  });
  const deadline = Date.now() + 30_000;
  while (latencies.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const cpuEnd = cpuMs(sys.pid);
  const cpu = cpuEnd - cpu0;
  const requests = emu.requests.slice(r0);
  const jobLooks = requests.filter((r) => r.method === 'GET' && r.url.startsWith('/api/jobs')).length;
  await sys.stop();
  await emu.close();
  rmSync(root, { recursive: true, force: true });
  const all = [...latencies.values()];
  const settle = SETTLE_MS[system];
  return {
    system,
    files: total,
    submitted: all.length,
    p50: quantile(all, 0.5),
    p95: quantile(all, 0.95),
    p99: quantile(all, 0.99),
    beyond95: quantile(all.map((l) => l - settle), 0.95),
    cpuMsPerFile: cpu / total,
    cpuMsPerFileLater: (cpuEnd - cpuHalf) / (total - Math.floor(total / 2)),
    requestsPerFile: requests.length / total,
    jobLooksPerFile: jobLooks / total,
  };
}

const results: Result[] = [];
// The floor: one request per file as each arrives, with nothing else (baselines.ts, bare).
const systems = [...SYSTEMS, 'bare' as const];
// --only a,b: a probe of some systems, printed and not recorded (the section compares them all).
const only = values.only?.split(',');
for (const s of only ? systems.filter((x) => only.includes(x)) : systems) {
  process.stdout.write(`${LABEL[s]} at ${rate} files/s for ${seconds} s … `);
  const r = await measure(s);
  results.push(r);
  process.stdout.write(`p50 ${r.p50} ms, p95 ${r.p95} ms, p99 ${r.p99} ms; ${r.submitted}/${r.files}\n`);
  if (only) process.stdout.write(`  p95 beyond the settle window ${r.beyond95} ms; CPU per file ${r.cpuMsPerFile.toFixed(2)} ms, second half ${r.cpuMsPerFileLater.toFixed(2)} ms; requests per file ${r.requestsPerFile.toFixed(2)} (job looks ${r.jobLooksPerFile.toFixed(2)})\n`);
  if (s === 'galaxy-importd' && values.before !== undefined) {
    const label = values['before-label'];
    process.stdout.write(`galaxy-importd ${label} at ${rate} files/s for ${seconds} s … `);
    const b = { ...(await measure(s, values.before)), before: label };
    results.push(b);
    process.stdout.write(`p50 ${b.p50} ms, p95 ${b.p95} ms, p99 ${b.p99} ms; CPU per file ${b.cpuMsPerFile.toFixed(2)} ms\n`);
  }
  if (s === 'galaxy-importd' && values['checksum-none-too']) {
    process.stdout.write(`galaxy-importd with checksum = none at ${rate} files/s for ${seconds} s … `);
    const n = { ...(await measure(s, values.cli, 'none')), checksum: 'none' };
    results.push(n);
    process.stdout.write(`p50 ${n.p50} ms, p95 ${n.p95} ms, p99 ${n.p99} ms; CPU per file ${n.cpuMsPerFile.toFixed(2)} ms\n`);
  }
}
if (only) process.exit(0);
recordFigures(`latency-${rate}`, { rate, seconds, results });
const ours = results[0];
const name = (r: Result): string => (r.before !== undefined ? `galaxy-importd, the build before (${r.before})` : r.checksum !== undefined ? `galaxy-importd, [upload] checksum = ${r.checksum}` : LABEL[r.system]);
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
writeSection(`latency-${rate}`, [
  `### Live latency at ${rate} new files per second`,
  '',
  `\`node dist/bench/latency.js --rate ${rate} --seconds ${seconds}${values.before !== undefined ? ` --before ${values.before} --before-label ${values['before-label']}` : ''}${values['checksum-none-too'] ? ' --checksum-none-too' : ''}\`: ${Math.round(rate * seconds)} files written into 10 directories; time from the end of each file's write to its upload request. galaxy-importd and plain chokidar wait for 1 s without change (the settle window, \`settle_seconds = 1\`); the example_watch_folder.py algorithm lists every 10 s and has none; the floor sends one request per file at its first inotify event, with nothing else (no settling, ledger or log), so its CPU per file is what one request per file costs on this machine at this rate. CPU per file is the process's CPU from \`daemon.ready\` to the last upload over the files; the second half's, from the middle of the writing on, leaves out most of the JIT's warming up (V8 compiles the live path's code as it gets hot: at 10 files a second that takes minutes, so a run of \`--seconds 120\` shows the steady state).`,
  '',
  '| system | p50 | p95 | p99 | p95 beyond the settle window | CPU per file | of the second half of the files | requests per file (of them job looks) | uploads seen |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...results.map((r) => `| ${name(r)} | ${r.p50} ms | ${r.p95} ms | ${r.p99} ms | ${r.beyond95} ms | ${r.cpuMsPerFile.toFixed(2)} ms | ${r.cpuMsPerFileLater.toFixed(2)} ms | ${r.requestsPerFile.toFixed(2)} (${r.jobLooksPerFile.toFixed(2)}) | ${r.submitted} / ${r.files} |`),
  '',
  ours ? `galaxy-importd's p95 as a ratio: ${results.slice(1).map((r) => `${ratio(ours.p95, r.p95)} that of the ${name(r)}`).join(', ')}; CPU per file ${results.slice(1).map((r) => `${ratio(ours.cpuMsPerFile, r.cpuMsPerFile)} that of the ${name(r)}`).join(', ')}.` : '',
]);
