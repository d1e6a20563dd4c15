#!/usr/bin/env node
/**
 * Confirmation in a large folder (issue 13): `--batches` batches of `--batch` files, one after
 * the other, into a folder that already holds `--datasets` datasets, with a ledger that is not
 * new. For each batch: the folder-listing requests and the items they asked for, the daemon's
 * CPU and the time from its files' writing to their last upload.ok; the first tenth of the
 * batches against the last. Baseline, in the same run: one whole listing of the folder, which
 * is what each batch's confirmation read before (500 items a page).
 *
 * With --galaxy, the same into a real Galaxy (scripts/real-galaxy.sh start DIR, its variables
 * exported): the folder is filled by galaxy-importd's own `scan` first, and every request goes
 * through a counting proxy; per batch also Galaxy's CPU (its web process and the job processes it
 * reaped). Baseline: one whole listing of that folder from the real Galaxy.
 *
 * Usage: node dist/bench/large-folder.js [--datasets 50000] [--batches 200] [--batch 10] [--galaxy]
 * Writes bench/RESULTS.md section large-folder (with --galaxy: large-folder-galaxy).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { GalaxyClient } from '../src/galaxy/client.js';
import { startEmulator } from '../emulator/server.js';
import { benchIni, startBenchDaemon } from './daemon.js';
import { cpuMs, galaxyCpuSeconds } from './proc.js';
import { startCountingProxy } from './proxy.js';
import { recordFigures, writeSection } from './results.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '50000' }, batches: { type: 'string', default: '200' }, batch: { type: 'string', default: '10' }, galaxy: { type: 'boolean', default: false } } });
const [datasets, batches, batch] = [Number(values.datasets), Number(values.batches), Number(values.batch)];

/** Where the batches go: the Galaxy (or its proxy), the folder, and what has been asked of it so far. */
interface Setup {
  url: string;
  apiKey: string;
  importDir: string;
  dir: string;
  ini: string;
  folderId: () => string;
  requests: () => string[];
  baseline: { items: number; requests: number; ms: number };
  galaxyCpuMs?: () => number;
  seedSeconds?: number;
  version?: string;
  close: () => Promise<void>;
}

const root = mkdtempSync(path.join(os.tmpdir(), 'importd-large-folder-'));

/** One whole listing of the folder, from this process: what each batch read before issue 13. */
async function wholeListing(url: string, apiKey: string, folderId: string, requests: () => string[]): Promise<Setup['baseline']> {
  const client = new GalaxyClient({ url, apiKey, clock: systemClock });
  const [t0, seen] = [performance.now(), requests().length];
  const whole = await client.folderContents(folderId);
  const baseline = { items: whole.length, requests: requests().length - seen, ms: performance.now() - t0 };
  await client.close();
  return baseline;
}

async function onEmulator(): Promise<Setup> {
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
  const requests = (): string[] => emu.requests.map((r) => r.url);
  return { url: emu.url, apiKey: emu.adminKey, importDir, dir: 'big', ini, folderId: () => folderId, requests, baseline: await wholeListing(emu.url, emu.adminKey, folderId, requests), close: () => emu.close() };
}

/** A real Galaxy: the folder filled with `datasets` files by galaxy-importd's scan, through a counting proxy. */
async function onGalaxy(): Promise<Setup> {
  const env = process.env;
  const [galaxyUrl, apiKey, importDir, galaxyDir] = [env.GALAXY_IMPORTD_TEST_GALAXY_URL ?? '', env.GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY ?? '', env.GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR ?? '', env.GALAXY_IMPORTD_TEST_GALAXY_DIR ?? ''];
  if (!galaxyUrl || !apiKey || !importDir) {
    console.error('bench/large-folder --galaxy: start a Galaxy with scripts/real-galaxy.sh start DIR and export the variables it prints');
    process.exit(2);
  }
  const proxy = await startCountingProxy(galaxyUrl);
  const stamp = Date.now();
  const dir = `big-${stamp}`;
  const library = `bench large folder ${stamp}`;
  mkdirSync(path.join(importDir, dir), { recursive: true });
  for (let i = 0; i < datasets; i++) writeFileSync(path.join(importDir, dir, `seed${String(i).padStart(6, '0')}.txt`), `seed ${i}\n`);
  const ini = benchIni(proxy.url, importDir, path.join(root, 'state'), { batchSize: batch })
    .replace('settle_seconds = 1', 'settle_seconds = 0.2')
    .replace('[upload]', `[library]\nname = ${library}\n[upload]`);
  // The seed goes in as an admin would send it, at the defaults (batch_size 100).
  const seedIni = ini.replace(`batch_size = ${batch}`, 'batch_size = 100');
  writeFileSync(path.join(root, 'seed.ini'), seedIni);
  const t0 = performance.now();
  process.stdout.write(`seeding ${datasets} datasets into ${library} with scan … `);
  const code = await new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, [cli, '--config', path.join(root, 'seed.ini'), 'scan'], { env: { PATH: env.PATH ?? '', GALAXY_API_KEY: apiKey }, stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('close', resolve);
  });
  if (code !== 0) throw new Error(`the seeding scan exited ${code}`);
  const seedSeconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${seedSeconds.toFixed(0)} s\n`);
  const get = async <T>(p: string): Promise<T> => (await (await fetch(`${galaxyUrl}${p}`, { headers: { 'x-api-key': apiKey } })).json()) as T;
  const lib = (await get<{ id: string; name: string }[]>('/api/libraries?deleted=false')).find((l) => l.name === library);
  const folder = (await get<{ id: string; name: string; type: string }[]>(`/api/libraries/${lib?.id ?? ''}/contents`)).find((c) => c.type === 'folder' && c.name === `/${dir}`);
  if (!folder) throw new Error(`no folder /${dir} in ${library}`);
  const version = await get<{ version_major: string; version_minor?: string }>('/api/version');
  const requests = (): string[] => proxy.seen;
  return {
    url: proxy.url, apiKey, importDir, dir, ini,
    folderId: () => folder.id,
    requests,
    baseline: await wholeListing(proxy.url, apiKey, folder.id, requests),
    galaxyCpuMs: () => galaxyCpuSeconds(galaxyDir) * 1000,
    seedSeconds,
    version: `${version.version_major}${version.version_minor ? `.${version.version_minor}` : ''}`,
    close: async () => {
      await proxy.close();
      rmSync(path.join(importDir, dir), { recursive: true, force: true });
    },
  };
}

const setup = values.galaxy ? await onGalaxy() : await onEmulator();
const folderId = setup.folderId();
const d = startBenchDaemon({ root, ini: setup.ini, apiKey: setup.apiKey });
await d.ready;
let waiting = new Set<string>();
let done: () => void = () => undefined;
d.onLine((l) => {
  if (l.event === 'upload.ok' && typeof l.file === 'string' && waiting.delete(l.file) && waiting.size === 0) done();
});

interface Batch { requests: number; items: number; cpuMs: number; ms: number; galaxyCpuMs: number }
const per: Batch[] = [];
for (let b = 0; b < batches; b++) {
  const names = Array.from({ length: batch }, (_, i) => `${setup.dir}/b${b}-${i}.txt`);
  const finished = new Promise<void>((resolve) => (done = resolve));
  waiting = new Set(names);
  const [seen, cpu0, g0, t0] = [setup.requests().length, cpuMs(d.pid), setup.galaxyCpuMs?.() ?? 0, performance.now()];
  for (const n of names) writeFileSync(path.join(setup.importDir, n), `${n}\n`);
  await finished;
  const listings = setup.requests().slice(seen).filter((u) => u.includes(`/api/folders/${folderId}/contents`));
  const items = listings.reduce((n, u) => n + Number(/limit=(\d+)/.exec(u)?.[1] ?? 10), 0);
  per.push({ requests: listings.length, items, cpuMs: cpuMs(d.pid) - cpu0, ms: performance.now() - t0, galaxyCpuMs: (setup.galaxyCpuMs?.() ?? 0) - g0 });
  if ((b + 1) % Math.max(1, Math.floor(batches / 4)) === 0) process.stdout.write(`${b + 1}/${batches} batches\n`);
}
await d.stop();
await setup.close();
rmSync(root, { recursive: true, force: true });

const tenth = Math.max(1, Math.floor(batches / 10));
const mean = (xs: Batch[], k: keyof Batch): number => xs.reduce((n, x) => n + x[k], 0) / xs.length;
const [first, last] = [per.slice(0, tenth), per.slice(-tenth)];
const galaxyCol = (xs: Batch[]): string => (values.galaxy ? ` ${(mean(xs, 'galaxyCpuMs') / 1000).toFixed(2)} s |` : '');
const row = (label: string, xs: Batch[]): string => `| ${label} | ${mean(xs, 'requests').toFixed(2)} | ${mean(xs, 'items').toFixed(0)} | ${mean(xs, 'cpuMs').toFixed(1)} ms |${galaxyCol(xs)} ${mean(xs, 'ms').toFixed(0)} ms |`;
const summary = (xs: Batch[]): Record<string, number> => ({ requests: mean(xs, 'requests'), items: mean(xs, 'items'), cpuMs: mean(xs, 'cpuMs'), galaxyCpuMs: mean(xs, 'galaxyCpuMs'), ms: mean(xs, 'ms') });
const { baseline } = setup;
const figures = { datasets, batches, batch, baseline, first: summary(first), last: summary(last), ...(setup.seedSeconds !== undefined ? { seedSeconds: setup.seedSeconds } : {}) };
const section = values.galaxy ? 'large-folder-galaxy' : 'large-folder';
recordFigures(section, figures);
process.stdout.write(`${JSON.stringify(figures)}\n`);
const where = values.galaxy
  ? `a real Galaxy ${setup.version ?? ''} (scripts/real-galaxy.sh: SQLite, the local job runner; all on this machine), through a counting proxy; the folder was filled by galaxy-importd's \`scan\` at \`batch_size = 100\` in ${(setup.seedSeconds ?? 0).toFixed(0)} s`
  : 'emulator answering at once';
writeSection(section, [
  `### Confirmation in a folder of ${datasets.toLocaleString('en')} datasets${values.galaxy ? ', on a real Galaxy' : ''}`,
  '',
  `\`node dist/bench/large-folder.js --datasets ${datasets} --batches ${batches} --batch ${batch}${values.galaxy ? ' --galaxy' : ''}\`: ${batches} batches of ${batch} files, one after the other, into a folder that already holds ${datasets.toLocaleString('en')} datasets (${where}; ledger not new, \`settle_seconds = 0.2\`). Per batch: requests listing the folder, the items they asked for (\`limit\`), the daemon's CPU,${values.galaxy ? " Galaxy's CPU," : ''} and the time from writing the files to the last \`upload.ok\`.`,
  '',
  `| batches | folder listings per batch | items asked per batch | CPU per batch |${values.galaxy ? " Galaxy's CPU per batch |" : ''} time per batch |`,
  `| --- | --- | --- | --- |${values.galaxy ? ' --- |' : ''} --- |`,
  row(`first ${tenth}`, first),
  row(`last ${tenth}`, last),
  '',
  `Baseline, same run: one whole listing of the folder, what each batch's confirmation read before (issue 13): ${baseline.requests} requests, ${baseline.items.toLocaleString('en')} items, ${baseline.ms.toFixed(0)} ms from this process. Ratio of items read per batch, last batches to the baseline: ${(mean(last, 'items') / baseline.items).toFixed(4)}.`,
]);
