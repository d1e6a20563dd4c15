#!/usr/bin/env node
/**
 * Start-up benchmark: an import directory of N files in D directories, every
 * file already uploaded (the ledger says ok, as after earlier runs) or all new.
 * The daemon runs as `galaxy-importd run` in a child process, the emulator in
 * this one. Measured on the child: time from spawn to its `daemon.ready`
 * line, RSS at ready and its peak (VmHWM), CPU time to ready, inotify watches
 * held, and CPU use over an idle period after ready.
 *
 * Usage: node dist/bench/startup.js [--files 100000] [--dirs 1000] [--mode done|new] [--idle-seconds 10]
 * Writes its figures to bench/RESULTS.md between the startup markers.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SqliteLedger } from '../src/ledger/sqlite.js';
import { startEmulator } from '../test/emulator/server.js';
import { writeSection } from './results.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '..', 'src', 'cli', 'main.js');
const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '100000' },
    dirs: { type: 'string', default: '1000' },
    mode: { type: 'string', default: 'done' },
    'idle-seconds': { type: 'string', default: '10' },
  },
});
const files = Number(values.files);
const dirs = Number(values.dirs);
const mode = values.mode === 'new' ? 'new' : 'done';
const idleSeconds = Number(values['idle-seconds']);

function procStatus(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (!readlinkSync(`/proc/${pid}/fd/${fd}`).includes('inotify')) continue;
      n += (readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').match(/^inotify wd:/gm) ?? []).length;
    } catch {
      // the fd closed meanwhile
    }
  }
  return n;
}

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
    const ledger = new SqliteLedger(stateDir);
    ledger.setMeta('created_at', new Date().toISOString());
    ledger.setMeta('first_start_done', new Date().toISOString());
    ledger.transaction(() => {
      const walkDir = (rel: string): void => {
        for (const e of readdirSync(path.join(importDir, rel), { withFileTypes: true })) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walkDir(r);
          else {
            const st = statSync(path.join(importDir, r));
            ledger.put({ path: r, size: st.size, mtimeMs: st.mtimeMs, state: 'ok', attempts: 1, lastError: null, libraryId: 'l', folderId: 'F', datasetId: r, jobId: 'j', historyId: 'h', submittedAt: 1, updatedAt: Date.now() });
          }
        }
      };
      walkDir('');
    });
    ledger.close();
  }
  const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
  const config = path.join(root, 'galaxy-importd.ini');
  writeFileSync(config, `[galaxy]\nurl = ${emu.url}\n[import]\ndir = ${importDir}\nsettle_seconds = 1\n[upload]\nrate_per_second = 0\nbatch_size = 100\nconcurrency = 4\n[state]\ndir = ${stateDir}\n[http]\nlisten =\n[log]\nlevel = info\n`);
  const started = Date.now();
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), cli, '--config', config, 'run'], { env: { PATH: process.env.PATH ?? '', GALAXY_API_KEY: emu.adminKey, }, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = child.pid ?? 0;
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('"daemon.ready"')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`daemon exited ${code}: ${out.slice(-2000)}`)));
  });
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
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
  await emu.close();

  const row = {
    files,
    dirs,
    mode,
    readyS: readyMs / 1000,
    uploadedS: uploadedMs === null ? null : uploadedMs / 1000,
    cpuReadyS: cpuReady / 1000,
    rssReadyMb: rssReady,
    rssIdleMb: rssIdle,
    peakMb: peak,
    watches,
    idleCpuPct,
  };
  console.log(JSON.stringify(row));
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
  ]);
} finally {
  rmSync(root, { recursive: true, force: true });
}
