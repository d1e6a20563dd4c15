#!/usr/bin/env node
/**
 * Soak: steady arrivals for N minutes; the daemon's RSS and open file descriptors sampled
 * over time. A leak shows as a trend: the RSS slope over the second half is reported in MB
 * per hour, with the fd count's range.
 *
 * Usage: npm run soak -- --minutes 30 [--rate 5]
 * Writes its figures to bench/RESULTS.md (section soak).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/server.js';
import { benchIni, startBenchDaemon } from './daemon.js';
import { cpuMs, openFds, procStatus, slope } from './proc.js';
import { recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, rate: { type: 'string', default: '5' }, 'sample-seconds': { type: 'string', default: '30' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const sampleSeconds = Number(values['sample-seconds']);
if (!(minutes > 0) || !(rate > 0)) {
  process.stderr.write('soak: --minutes and --rate must be positive numbers\n');
  process.exit(2);
}

const root = mkdtempSync(path.join(os.tmpdir(), 'importd-soak-'));
const importDir = path.join(root, 'import');
const stateDir = path.join(root, 'state');
mkdirSync(importDir);
const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 10, jobRunMs: 20 });
// The emulator keeps a record of every request; a soak would make that its own leak.
const trim = setInterval(() => emu.resetStats(), 60_000);
const daemon = startBenchDaemon({ root, ini: benchIni(emu.url, importDir, stateDir, { batchSize: 20 }), apiKey: emu.adminKey });
let ok = 0;
daemon.onLine((l) => {
  if (l.event === 'upload.ok') ok++;
});
await daemon.ready;

interface Sample {
  minute: number;
  rssMb: number;
  fds: number;
  cpuPct: number;
  dropped: number;
  ok: number;
}
const samples: Sample[] = [];
const started = Date.now();
let dropped = 0;
let lastCpu = cpuMs(daemon.pid);
let lastAt = Date.now();
const sample = (): void => {
  const now = Date.now();
  const cpu = cpuMs(daemon.pid);
  samples.push({ minute: (now - started) / 60_000, rssMb: procStatus(daemon.pid, 'VmRSS'), fds: openFds(daemon.pid), cpuPct: ((cpu - lastCpu) / (now - lastAt)) * 100, dropped, ok });
  lastCpu = cpu;
  lastAt = now;
  const s = samples[samples.length - 1];
  if (s) process.stdout.write(`${s.minute.toFixed(1)} min: RSS ${s.rssMb.toFixed(1)} MB, ${s.fds} fds, CPU ${s.cpuPct.toFixed(1)} %, ${s.dropped} dropped, ${s.ok} ok\n`);
};
const sampler = setInterval(sample, sampleSeconds * 1000);
const end = started + minutes * 60_000;
const interval = 1000 / rate;
while (Date.now() < end) {
  const dir = path.join(importDir, `run${String(Math.floor(dropped / 500)).padStart(3, '0')}`);
  if (dropped % 500 === 0) mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `f${dropped}.txt`), `soak ${dropped}\n`);
  dropped++;
  await new Promise((r) => setTimeout(r, interval));
}
sample();
clearInterval(sampler);
clearInterval(trim);
const code = await daemon.stop();
await emu.close();
rmSync(root, { recursive: true, force: true });

const second = samples.filter((s) => s.minute >= minutes / 2);
const rssSlope = slope(second.map((s) => s.minute / 60), second.map((s) => s.rssMb));
const fdsAll = samples.map((s) => s.fds);
const perMinute = samples.filter((s, i) => i === samples.length - 1 || Math.floor(s.minute) !== Math.floor(samples[i + 1]?.minute ?? -1));
const last = samples[samples.length - 1];
recordFigures('soak', { minutes, rate, dropped, rssSlopeMbPerHour: rssSlope, fdsMin: Math.min(...fdsAll), fdsMax: Math.max(...fdsAll) });
writeSection('soak', [
  `### Soak: ${minutes} min of steady arrivals at ${rate} files/s`,
  '',
  `\`npm run soak -- --minutes ${minutes} --rate ${rate}\``,
  '',
  `${dropped.toLocaleString('en')} files dropped into ${Math.ceil(dropped / 500)} directories, ${(last?.ok ?? 0).toLocaleString('en')} ok at the end (the rest still settling); the daemon exited ${code} on SIGTERM.`,
  `RSS slope over the second half: **${rssSlope.toFixed(2)} MB/hour**; open file descriptors between ${Math.min(...fdsAll)} and ${Math.max(...fdsAll)}.`,
  '',
  '| minute | RSS | open fds | CPU | files dropped | ok |',
  '| --- | --- | --- | --- | --- | --- |',
  ...perMinute.map((s) => `| ${s.minute.toFixed(0)} | ${s.rssMb.toFixed(1)} MB | ${s.fds} | ${s.cpuPct.toFixed(1)} % | ${s.dropped.toLocaleString('en')} | ${s.ok.toLocaleString('en')} |`),
]);
process.stdout.write(`RSS slope (second half): ${rssSlope.toFixed(2)} MB/hour; fds ${Math.min(...fdsAll)}..${Math.max(...fdsAll)}\n`);
