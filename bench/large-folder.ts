#!/usr/bin/env node
/**
 * Confirmation in a large folder (issue 13): `--batches` batches of `--batch` files, one after
 * the other, into a folder that already holds `--datasets` datasets, with a ledger that is not
 * new. For each batch: the folder-listing requests and the items they asked for, the daemon's
 * CPU and the time from its files' writing to their last upload.ok; the first tenth of the
 * batches against the last. Baseline, in the same run: one whole listing of the folder, which
 * is what each batch's confirmation read before (500 items a page).
 *
 * Usage: node dist/bench/large-folder.js [--datasets 50000] [--batches 200] [--batch 10]
 * Writes bench/RESULTS.md section large-folder.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GalaxyClient } from '../src/galaxy/client.js';
import { startEmulator } from '../test/emulator/server.js';
import { benchIni, startBenchDaemon } from './daemon.js';
import { cpuMs } from './proc.js';
import { recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '50000' }, batches: { type: 'string', default: '200' }, batch: { type: 'string', default: '10' } } });
const [datasets, batches, batch] = [Number(values.datasets), Number(values.batches), Number(values.batch)];

const root = mkdtempSync(path.join(os.tmpdir(), 'importd-large-folder-'));
const importDir = path.join(root, 'import');
mkdirSync(path.join(importDir, 'warm'), { recursive: true });
mkdirSync(path.join(importDir, 'big'));
const emu = await startEmulator({ libraryImportDir: importDir, jobQueuedMs: 0, jobRunMs: 0 });
const ini = benchIni(emu.url, importDir, path.join(root, 'state'), { batchSize: batch }).replace('settle_seconds = 1', 'settle_seconds = 0.2');

// A ledger that is not new: a new one (a lost ledger) looks at each folder whole before sending.
writeFileSync(path.join(importDir, 'warm', 'a.txt'), 'warm\n');
const warm = startBenchDaemon({ root, ini, apiKey: emu.adminKey });
await new Promise<void>((resolve) => warm.onLine((l) => void (l.event === 'upload.ok' && resolve())));
await warm.stop();

const folderId = emu.model.seedFolder('Imports', ['big'], datasets);
const client = new GalaxyClient({ url: emu.url, apiKey: emu.adminKey });
const wholeStart = performance.now();
const seenBefore = emu.requests.length;
const whole = await client.folderContents(folderId);
const baseline = { items: whole.length, requests: emu.requests.length - seenBefore, ms: performance.now() - wholeStart };
await client.close();

const d = startBenchDaemon({ root, ini, apiKey: emu.adminKey });
await d.ready;
let waiting = new Set<string>();
let done: () => void = () => undefined;
d.onLine((l) => {
  if (l.event === 'upload.ok' && typeof l.file === 'string' && waiting.delete(l.file) && waiting.size === 0) done();
});

interface Batch { requests: number; items: number; cpuMs: number; ms: number }
const per: Batch[] = [];
for (let b = 0; b < batches; b++) {
  const names = Array.from({ length: batch }, (_, i) => `big/b${b}-${i}.txt`);
  const finished = new Promise<void>((resolve) => (done = resolve));
  waiting = new Set(names);
  const [seen, cpu0, t0] = [emu.requests.length, cpuMs(d.pid), performance.now()];
  for (const n of names) writeFileSync(path.join(importDir, n), `${n}\n`);
  await finished;
  const listings = emu.requests.slice(seen).filter((r) => r.url.startsWith(`/api/folders/${folderId}/contents`));
  const items = listings.reduce((n, r) => n + Number(/limit=(\d+)/.exec(r.url)?.[1] ?? 10), 0);
  per.push({ requests: listings.length, items, cpuMs: cpuMs(d.pid) - cpu0, ms: performance.now() - t0 });
  if ((b + 1) % 50 === 0) process.stdout.write(`${b + 1}/${batches} batches\n`);
}
await d.stop();
await emu.close();
rmSync(root, { recursive: true, force: true });

const tenth = Math.max(1, Math.floor(batches / 10));
const mean = (xs: Batch[], k: keyof Batch): number => xs.reduce((n, x) => n + x[k], 0) / xs.length;
const [first, last] = [per.slice(0, tenth), per.slice(-tenth)];
const row = (label: string, xs: Batch[]): string => `| ${label} | ${mean(xs, 'requests').toFixed(2)} | ${mean(xs, 'items').toFixed(0)} | ${mean(xs, 'cpuMs').toFixed(1)} ms | ${mean(xs, 'ms').toFixed(0)} ms |`;
const figures = { datasets, batches, batch, baseline, first: { requests: mean(first, 'requests'), items: mean(first, 'items'), cpuMs: mean(first, 'cpuMs') }, last: { requests: mean(last, 'requests'), items: mean(last, 'items'), cpuMs: mean(last, 'cpuMs') } };
recordFigures('large-folder', figures);
process.stdout.write(`${JSON.stringify(figures)}\n`);
writeSection('large-folder', [
  `### Confirmation in a folder of ${datasets.toLocaleString('en')} datasets`,
  '',
  `\`node dist/bench/large-folder.js --datasets ${datasets} --batches ${batches} --batch ${batch}\`: ${batches} batches of ${batch} files, one after the other, into a folder that already holds ${datasets.toLocaleString('en')} datasets (emulator answering at once, ledger not new, \`settle_seconds = 0.2\`). Per batch: requests listing the folder, the items they asked for (\`limit\`), the daemon's CPU, and the time from writing the files to the last \`upload.ok\`.`,
  '',
  '| batches | folder listings per batch | items asked per batch | CPU per batch | time per batch |',
  '| --- | --- | --- | --- | --- |',
  row(`first ${tenth}`, first),
  row(`last ${tenth}`, last),
  '',
  `Baseline, same run: one whole listing of the folder, what each batch's confirmation read before (issue 13): ${baseline.requests} requests, ${baseline.items.toLocaleString('en')} items, ${baseline.ms.toFixed(0)} ms from this process. Ratio of items read per batch, last batches to the baseline: ${(mean(last, 'items') / baseline.items).toFixed(4)}.`,
]);
