#!/usr/bin/env node
/**
 * Start-up benchmark: an import directory of N files in D directories, every
 * file already uploaded (the ledger says ok, as after earlier runs) or all new.
 * The daemon runs as `galaxy-importd run` in a child process, the emulator in
 * this one. Measured on the child: time from spawn to its `daemon.ready`
 * line, RSS at ready and its peak (VmHWM), CPU time to ready, inotify watches
 * held, and CPU use over an idle period after ready. With --mode new, also `galaxy-importd scan`
 * on the same tree (a fresh ledger and emulator): its time to exit and its peak RSS.
 *
 * Usage: node dist/bench/startup.js [--files 100000] [--dirs 1000] [--mode done|new] [--idle-seconds 10] [--before OTHER/dist/src/cli/main.js --before-label NAME]
 * Writes its figures to bench/RESULTS.md between the startup markers.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { SqliteLedger } from '../src/ledger/sqlite.js';
import { startEmulator } from '../emulator/server.js';
import { benchIni, startBenchDaemon } from './daemon.js';
import { cpuMs, inotifyWatches, procStatus } from './proc.js';
import { recordFigures, writeSection } from './results.js';
import type { System } from './systems.js';
import { LABEL, startSystem } from './systems.js';

interface Measured {
  readyS: number;
  uploadedS: number | null;
  cpuReadyS: number;
  rssReadyMb: number;
  rssIdleMb: number;
  peakMb: number;
  watches: number;
  idleCpuPct: number;
}

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '100000' },
    dirs: { type: 'string', default: '1000' },
    mode: { type: 'string', default: 'done' },
    'idle-seconds': { type: 'string', default: '10' },
    /** Another build's CLI (dist/src/cli/main.js of a checkout), measured on the same tree in the same run. */
    before: { type: 'string' },
    'before-label': { type: 'string' },
  },
});
const files = Number(values.files);
const dirs = Number(values.dirs);
const mode = values.mode === 'new' ? 'new' : 'done';
const idleSeconds = Number(values['idle-seconds']);

const root = mkdtempSync(path.join(os.tmpdir(), 'importd-bench-'));
const importDir = path.join(root, 'import');
const stateDir = path.join(root, 'state');
try {
  const perDir = Math.ceil(files / dirs);
  let made = 0;
  for (let d = 0; d < dirs && made < files; d++) {
    const dir = path.join(importDir, `run${String(Math.floor(d / 100)).padStart(2, '0')}`, `lane${String(d % 100).padStart(2, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < perDir && made < files; i++, made++) writeFileSync(path.join(dir, `f${i}.txt`), `${d}/${i}\n`);
  }
  if (mode === 'done') {
    const ledger = new SqliteLedger(stateDir, systemClock);
    ledger.setMeta('created_at', new Date().toISOString());
    ledger.setMeta('first_start_done', new Date().toISOString());
    ledger.transaction(() => {
      const walkDir = (rel: string): void => {
        for (const e of readdirSync(path.join(importDir, rel), { withFileTypes: true })) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walkDir(r);
          else {
            const st = statSync(path.join(importDir, r));
            ledger.put({ path: r, size: st.size, mtimeMs: st.mtimeMs, state: 'ok', attempts: 1, lastError: null, libraryId: 'l', folderId: 'F', datasetId: r, jobId: 'j', historyId: 'h', submittedAt: 1, checksum: null, verified: false, updatedAt: Date.now() });
          }
        }
      };
      walkDir('');
    });
    ledger.close();
  }
  // The ledger as the tree's earlier runs left it (mode done), copied for each daemon measured.
  const ledgerSeed = path.join(root, 'ledger-seed');
  if (mode === 'done') cpSync(stateDir, ledgerSeed, { recursive: true });
  let emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
  /** One daemon (this build, or `cli`'s) on the tree, with a fresh state directory and emulator. */
  const measure = async (cli?: string): Promise<Measured> => {
    rmSync(stateDir, { recursive: true, force: true });
    if (mode === 'done') cpSync(ledgerSeed, stateDir, { recursive: true });
    await emu.close();
    emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
    const started = Date.now();
    const daemon = startBenchDaemon({ root, ini: benchIni(emu.url, importDir, stateDir, { rescanMinutes: 10 }), apiKey: emu.adminKey, ...(cli ? { cli } : {}) });
    const pid = daemon.pid;
    await daemon.ready;
    const readyMs = Date.now() - started;
    const rssReady = procStatus(pid, 'VmRSS');
    const cpuReady = cpuMs(pid);
    const watches = inotifyWatches(pid);
    let uploadedMs: number | null = null;
    if (mode === 'new') {
      while (emu.model.tree().filter((d) => d.state === 'ok').length < files) await new Promise((r) => setTimeout(r, 200));
      uploadedMs = Date.now() - started;
    }
    const cpuIdleStart = cpuMs(pid);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleCpuPct = ((cpuMs(pid) - cpuIdleStart) / (idleSeconds * 1000)) * 100;
    const rssIdle = procStatus(pid, 'VmRSS');
    const peak = procStatus(pid, 'VmHWM');
    await daemon.stop();
    return {
      readyS: readyMs / 1000, uploadedS: uploadedMs === null ? null : uploadedMs / 1000, cpuReadyS: cpuReady / 1000,
      rssReadyMb: rssReady, rssIdleMb: rssIdle, peakMb: peak, watches, idleCpuPct,
    };
  };
  const now = await measure();
  const before = values.before ? await measure(path.resolve(values.before)) : null;

  /** `scan` on the tree (mode new): one pass, every file uploaded, then its exit; VmHWM read until then. */
  const measureScan = async (): Promise<{ seconds: number; peakMb: number; code: number | null }> => {
    rmSync(stateDir, { recursive: true, force: true });
    await emu.close();
    emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
    const started = Date.now();
    const scan = startBenchDaemon({ root, ini: benchIni(emu.url, importDir, stateDir), apiKey: emu.adminKey, command: 'scan' });
    let peakMb = 0;
    const sample = setInterval(() => {
      try {
        const hwm = procStatus(scan.pid, 'VmHWM');
        if (!Number.isNaN(hwm)) peakMb = Math.max(peakMb, hwm); // a process that has exited has no Vm lines
      } catch {
        // it has just been reaped
      }
    }, 20);
    const code = await scan.exited;
    clearInterval(sample);
    return { seconds: (Date.now() - started) / 1000, peakMb, code };
  };
  const scan = mode === 'new' ? await measureScan() : null;

  // The baselines on the same tree, uploads off: how long until each has taken in the tree
  // (chokidar's 'ready', the first complete listing), and what that costs.
  const base: { system: System; readyS: number; cpuS: number; rssMb: number; peakMb: number }[] = [];
  for (const system of ['chokidar', 'poll'] as const) {
    const t0 = Date.now();
    const b = startSystem(system, { root, importDir, stateDir, emu, upload: false });
    await b.ready;
    base.push({ system, readyS: (Date.now() - t0) / 1000, cpuS: cpuMs(b.pid) / 1000, rssMb: procStatus(b.pid, 'VmRSS'), peakMb: procStatus(b.pid, 'VmHWM') });
    await b.stop();
  }
  await emu.close();

  const row = { files, dirs, mode, ...now };
  console.log(JSON.stringify({ ...row, baselines: base, before, scan }));
  recordFigures(`startup-${mode}-${files}`, { ...row, baselines: base, ...(before ? { before: { build: values['before-label'], ...before } } : {}), ...(scan ? { scan } : {}) });
  writeSection(`startup-${mode}-${files}`, [
    `### Start-up, ${files.toLocaleString('en')} files in ${dirs.toLocaleString('en')} directories, ${mode === 'done' ? 'all already uploaded' : 'all new'}`,
    '',
    `\`node dist/bench/startup.js --files ${files} --dirs ${dirs} --mode ${mode} --idle-seconds ${idleSeconds}\``,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| time to \`daemon.ready\` | ${row.readyS.toFixed(2)} s |`,
    ...(row.uploadedS === null ? [] : [`| time until every file is ok in Galaxy (emulator answering at once) | ${row.uploadedS.toFixed(2)} s |`]),
    `| CPU time to ready | ${row.cpuReadyS.toFixed(2)} s |`,
    `| RSS at ready | ${row.rssReadyMb.toFixed(0)} MB |`,
    `| RSS after ${idleSeconds} s idle | ${row.rssIdleMb.toFixed(0)} MB |`,
    `| peak RSS (VmHWM) | ${row.peakMb.toFixed(0)} MB |`,
    `| inotify watches held | ${row.watches.toLocaleString('en')} |`,
    `| CPU while idle (${idleSeconds} s) | ${row.idleCpuPct.toFixed(2)} % of one core |`,
    ...(scan ? [`| \`galaxy-importd scan\` on the same tree (fresh ledger): until it exits, peak RSS | ${scan.seconds.toFixed(2)} s, ${scan.peakMb.toFixed(0)} MB${scan.code === 0 ? '' : ` (exit ${scan.code})`} |`] : []),
    '',
    `Baselines on the same tree (uploads off): time until each has taken in the tree, and its cost; galaxy-importd's figure as a ratio.`,
    '',
    '| baseline | ready after | CPU to ready | RSS at ready | peak RSS | galaxy-importd: time, peak RSS |',
    '| --- | --- | --- | --- | --- | --- |',
    ...base.map((b) => `| ${LABEL[b.system]} | ${b.readyS.toFixed(2)} s | ${b.cpuS.toFixed(2)} s | ${b.rssMb.toFixed(0)} MB | ${b.peakMb.toFixed(0)} MB | ${(row.readyS / b.readyS).toFixed(2)}×, ${(row.peakMb / b.peakMb).toFixed(2)}× |`),
    ...(before ? [
      '',
      `The same tree, the same run, by galaxy-importd before this change (${values['before-label'] ?? values.before}); this build's figure as a ratio of it:`,
      '',
      '| figure | before | now | now / before |',
      '| --- | --- | --- | --- |',
      `| time to \`daemon.ready\` | ${before.readyS.toFixed(2)} s | ${row.readyS.toFixed(2)} s | ${(row.readyS / before.readyS).toFixed(2)}× |`,
      ...(before.uploadedS !== null && row.uploadedS !== null ? [`| time until every file is ok | ${before.uploadedS.toFixed(2)} s | ${row.uploadedS.toFixed(2)} s | ${(row.uploadedS / before.uploadedS).toFixed(2)}× |`] : []),
      `| CPU time to ready | ${before.cpuReadyS.toFixed(2)} s | ${row.cpuReadyS.toFixed(2)} s | ${(row.cpuReadyS / before.cpuReadyS).toFixed(2)}× |`,
      `| peak RSS (VmHWM) | ${before.peakMb.toFixed(0)} MB | ${row.peakMb.toFixed(0)} MB | ${(row.peakMb / before.peakMb).toFixed(2)}× |`,
    ] : []),
  ]);
} finally {
  rmSync(root, { recursive: true, force: true });
}
