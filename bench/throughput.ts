#!/usr/bin/env node
/**
 * Throughput and cost: N new files already in the import directory (100 directories), an
 * emulator that answers at once, throttling off (rate_per_second = 0). Files per second from
 * the first file ready to the last upload request, and the process's CPU time per file (start-up
 * walk included). The baselines run the same way; the example_watch_folder.py algorithm sends
 * one request at a time, plain chokidar one request per file with no limit.
 *
 * Usage: node dist/bench/throughput.js [--files 10000]
 * Writes bench/RESULTS.md section throughput.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator/server.js';
import { writeFiles } from './daemon.js';
import { cpuMs } from './proc.js';
import { recordFigures, writeSection } from './results.js';
import type { System } from './systems.js';
import { LABEL, SYSTEMS, startSystem } from './systems.js';

const { values } = parseArgs({ options: { files: { type: 'string', default: '10000' }, 'timeout-seconds': { type: 'string', default: '300' } } });
const files = Number(values.files);
const timeoutMs = Number(values['timeout-seconds']) * 1000;

interface Result {
  system: System;
  submitted: number;
  filesPerSecond: number;
  cpuMsPerFile: number;
  totalS: number;
}

async function measure(system: System): Promise<Result> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'importd-throughput-'));
  const importDir = path.join(root, 'import');
  writeFiles(importDir, files, 100, (i) => `throughput ${i}\n`);
  const emu = await startEmulator({ libraryImportDir: importDir, allowPathPaste: true, jobQueuedMs: 0, jobRunMs: 0 });
  const started = Date.now();
  const sys = startSystem(system, { root, importDir, stateDir: path.join(root, 'state'), emu });
  let first = Infinity;
  let last = 0;
  const seen = new Set<string>();
  let cpuAtLast = 0;
  sys.onSubmitted((file, time) => {
    if (seen.has(file)) return;
    seen.add(file);
    first = Math.min(first, time);
    last = Math.max(last, time);
    if (seen.size === files) cpuAtLast = cpuMs(sys.pid);
  });
  const deadline = started + timeoutMs;
  while (seen.size < files && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (cpuAtLast === 0) cpuAtLast = cpuMs(sys.pid);
  await sys.stop();
  await emu.close();
  rmSync(root, { recursive: true, force: true });
  const span = Math.max(1, last - first) / 1000;
  return { system, submitted: seen.size, filesPerSecond: seen.size / span, cpuMsPerFile: cpuAtLast / Math.max(1, seen.size), totalS: (last - started) / 1000 };
}

const results: Result[] = [];
for (const s of SYSTEMS) {
  process.stdout.write(`${LABEL[s]}, ${files} files … `);
  const r = await measure(s);
  results.push(r);
  process.stdout.write(`${r.filesPerSecond.toFixed(0)} files/s, ${r.cpuMsPerFile.toFixed(2)} ms CPU per file, ${r.submitted}/${files} in ${r.totalS.toFixed(1)} s\n`);
}
recordFigures('throughput', { files, results });
const ours = results[0];
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
writeSection('throughput', [
  `### Throughput and CPU cost, ${files.toLocaleString('en')} new files`,
  '',
  `\`node dist/bench/throughput.js --files ${files}\`: the files are in 100 directories before the start; the emulator answers at once; galaxy-importd with \`rate_per_second = 0\`, \`concurrency = 4\`, \`batch_size = 100\`, \`settle_seconds = 1\`. Files per second from the first upload request to the last; CPU per file is the process's whole CPU time (start-up included) over the files.`,
  '',
  '| system | files per second | CPU per file | all requested after | requested |',
  '| --- | --- | --- | --- | --- |',
  ...results.map((r) => `| ${LABEL[r.system]} | ${r.filesPerSecond.toFixed(0)} | ${r.cpuMsPerFile.toFixed(2)} ms | ${r.totalS.toFixed(1)} s | ${r.submitted.toLocaleString('en')} / ${files.toLocaleString('en')} |`),
  '',
  ours ? `galaxy-importd as a ratio: ${results.slice(1).map((r) => `${ratio(ours.filesPerSecond, r.filesPerSecond)} the files per second and ${ratio(ours.cpuMsPerFile, r.cpuMsPerFile)} the CPU per file of the ${LABEL[r.system]}`).join('; ')}.` : '',
]);
