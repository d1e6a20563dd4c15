#!/usr/bin/env node
/**
 * Where the CPU of the live path goes: files written at a steady rate into 10 directories
 * while `galaxy-importd run` runs under `--cpu-prof`, until every file is ok. The profile's
 * functions with the most CPU of their own, and the process's CPU per file. `--cli` runs
 * another build (for example the release before a change, built in another checkout), so that
 * before and after are measured in the same run.
 *
 * Usage: node dist/bench/profile.js [--rate 50] [--seconds 20] [--top 15] [--cli DIST/src/cli/main.js --label before] [--keep FILE.cpuprofile]
 * Writes bench/RESULTS.md section profile-LABEL.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/server.js';
import { benchIni, startBenchDaemon } from './daemon.js';
import { atRate } from './pace.js';
import { cpuMs } from './proc.js';
import { recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '50' }, seconds: { type: 'string', default: '20' }, top: { type: 'string', default: '15' }, cli: { type: 'string' }, label: { type: 'string', default: 'now' }, keep: { type: 'string' } } });
const [rate, seconds, top, label] = [Number(values.rate), Number(values.seconds), Number(values.top), values.label];

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name, file, line), in ms, most first. */
function selfTimes(profile: CpuProfile): { name: string; ms: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    if (!f) return;
    const where = f.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '').replace(/^file:\/\//, '');
    const name = `${f.functionName || '(anonymous)'}${where ? ` ${where}:${f.lineNumber + 1}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...self].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

const root = mkdtempSync(path.join(os.tmpdir(), 'importd-profile-'));
const importDir = path.join(root, 'import');
const profDir = path.join(root, 'prof');
for (let d = 0; d < 10; d++) mkdirSync(path.join(importDir, `live${d}`), { recursive: true });
const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
const d = startBenchDaemon({ root, ini: benchIni(emu.url, importDir, path.join(root, 'state')), apiKey: emu.adminKey, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], ...(values.cli ? { cli: path.resolve(values.cli) } : {}) });
let ok = 0;
d.onLine((l) => void (l.event === 'upload.ok' && ok++));
await d.ready;
const files = rate * seconds;
const cpuAtReady = cpuMs(d.pid);
const started = Date.now();
await atRate(rate, files, (i) => writeFileSync(path.join(importDir, `live${i % 10}`, `f${i}.txt`), `live ${i}\n`));
while (ok < files && Date.now() - started < seconds * 1000 + 60_000) await new Promise((r) => setTimeout(r, 100));
const cpuPerFile = (cpuMs(d.pid) - cpuAtReady) / Math.max(1, ok);
await d.stop();
await emu.close();
const profileFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
const times = profileFile ? selfTimes(JSON.parse(readFileSync(path.join(profDir, profileFile), 'utf8')) as CpuProfile) : [];
if (profileFile && values.keep) copyFileSync(path.join(profDir, profileFile), values.keep);
rmSync(root, { recursive: true, force: true });
const busy = times.filter((t) => !t.name.startsWith('(idle)')).reduce((n, t) => n + t.ms, 0);
const shown = times.filter((t) => !t.name.startsWith('(idle)')).slice(0, top);
process.stdout.write(`${label}: ${ok}/${files} ok, ${cpuPerFile.toFixed(2)} ms CPU per file after ready\n`);
for (const t of shown) process.stdout.write(`${t.ms.toFixed(0).padStart(6)} ms ${((100 * t.ms) / busy).toFixed(1).padStart(5)} %  ${t.name}\n`);
recordFigures(`profile-${label}`, { rate, seconds, files, ok, cpuMsPerFile: cpuPerFile, top: shown });
writeSection(`profile-${label}`, [
  `### Where the live path's CPU goes (${label})`,
  '',
  `\`node dist/bench/profile.js --rate ${rate} --seconds ${seconds}${values.cli ? ` --cli ${values.cli}` : ''} --label ${label}\`: ${files} files written at ${rate} a second into 10 directories while the daemon runs under \`--cpu-prof\` (emulator answering at once), until every file is ok. ${ok} ok; the process's CPU after \`daemon.ready\`: **${cpuPerFile.toFixed(2)} ms per file** (the profile adds a little). The functions with the most CPU of their own, of ${busy.toFixed(0)} ms busy in the whole profile (start-up included):`,
  '',
  '| self time | share | function |',
  '| --- | --- | --- |',
  ...shown.map((t) => `| ${t.ms.toFixed(0)} ms | ${((100 * t.ms) / busy).toFixed(1)} % | \`${t.name.replaceAll('|', '\\|')}\` |`),
]);
