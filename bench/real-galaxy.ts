#!/usr/bin/env node
/**
 * Into a real Galaxy: N small files in D subdirectories of library_import_dir, until every
 * dataset is ok, four ways in one run (the same Galaxy, the same files, each into a library of
 * its own):
 *   - galaxy-importd's `scan` (at its defaults, and at the other batch_size / concurrency
 *     values given with --sweep);
 *   - one fetch request per file, the way scripts/api/example_watch_folder.py works;
 *   - the seed's upload-dir (the legacy upload_directory) once per subdirectory;
 *   - one-job, Galaxy's floor: one fetch request holding all N files, a target per
 *     subdirectory (one Galaxy job), sent by the daemon's own submit code (fetchSubmitter) with
 *     the items the daemon sends at its defaults (name, file_type, dbkey, link_data_only, and
 *     the checksum's hashes and info), after the library and folders are made.
 * For each: files per second, HTTP requests (counted by a proxy in front of Galaxy), Galaxy jobs
 * created, CPU seconds of Galaxy's process tree (the web process and the job processes it
 * reaped), and the importer's own CPU.
 *
 *   scripts/real-galaxy.sh start /tmp/g > /tmp/g.env; set -a; . /tmp/g.env; set +a
 *   node dist/bench/real-galaxy.js --files 1000 --dirs 10 [--sweep 50x4,100x4,20x2] [--skip defaults,one-job,per-file,upload-dir] [--rounds 2] [--section NAME]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { OPTIONS } from '../src/config/options.js';
import type { OptionSpec } from '../src/config/options.js';
import { GalaxyClient, routeOf } from '../src/galaxy/client.js';
import { galaxyTime } from '../src/galaxy/folder-pages.js';
import type { CHECKSUMS } from '../src/pipeline/checksum.js';
import { checksumFile } from '../src/pipeline/checksum.js';
import { fetchSubmitter } from '../src/pipeline/submit.js';
import { TERMINAL_JOB } from '../src/pipeline/datasets.js';
import type { ReadyFile } from '../src/pipeline/files.js';
import { galaxyCpuSeconds, reapedChildrenCpuSeconds } from './proc.js';
import { startCountingProxy } from './proxy.js';
import { recordFigures, writeSection } from './results.js';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' }, dirs: { type: 'string', default: '10' }, sweep: { type: 'string', default: '' }, skip: { type: 'string', default: '' },
    // The section of bench/RESULTS.md written (default real-galaxy-FILES): another shape of the same number of files keeps its own.
    section: { type: 'string' },
    // One way, run as a child process so that its CPU is measured alike for all three.
    way: { type: 'string' }, tag: { type: 'string', default: '' }, via: { type: 'string', default: '' },
    // One fetch request per file costs a Galaxy job per file (about 12 CPU seconds each here): fewer files for that way.
    'per-file-files': { type: 'string' },
    // Rounds of galaxy-importd's defaults and the one-job way, alternating (A B, B A, …): a fetch job's own time varies by 10–20 % between runs.
    rounds: { type: 'string', default: '1' },
  },
});
const FILES = Number(values.files);
const DIRS = Number(values.dirs);
const env = process.env;
const galaxyUrl = env.GALAXY_IMPORTD_TEST_GALAXY_URL ?? '';
const key = env.GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY ?? '';
const importDir = env.GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR ?? '';
const galaxyDir = env.GALAXY_IMPORTD_TEST_GALAXY_DIR ?? '';
if (!galaxyUrl || !key || !importDir) {
  console.error('bench/real-galaxy: start a Galaxy with scripts/real-galaxy.sh start DIR and export the variables it prints');
  process.exit(2);
}
const here = fileURLToPath(import.meta.url);
const cli = path.resolve(path.dirname(here), '..', 'src', 'cli', 'main.js');

/** A counting proxy in front of Galaxy: every way's requests go through it. */
const child = values.way !== undefined;
const proxy = child ? null : await startCountingProxy(galaxyUrl);
const proxyUrl = proxy?.url ?? values.via ?? '';
const requestsSoFar = (): number => proxy?.seen.length ?? 0;

/** A request of a way, through the counting proxy; `uncounted`: the bench's own, straight to Galaxy. */
async function api<T>(method: string, p: string, body?: unknown, uncounted = false): Promise<T> {
  const res = await fetch(`${uncounted ? galaxyUrl : proxyUrl}${p}`, {
    method,
    headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** `[upload] KEY`'s default: the one-job way sends what the daemon sends at its defaults. */
const uploadDefault = (key: string): string => String((OPTIONS as readonly OptionSpec[]).find((o) => o.section === 'upload' && o.key === key)?.default);
/** Requests that create the library, its folders or a history; the rest are the import's own. */
const SETUP_ROUTES = new Set(['POST /api/libraries', 'POST /api/folders/{id}', 'POST /api/histories']);

/** CPU seconds of a process and the children it reaped; `children`: only those. */
const jobsCount = async (): Promise<number> => (await api<unknown[]>('GET', '/api/jobs?limit=100000&user_details=false')).length;
/** The last `n` jobs Galaxy made, oldest first: when each was made and last updated, in seconds after `t0`. */
async function jobTimes(n: number, t0: number): Promise<[number, number][]> {
  if (n <= 0) return [];
  const jobs = await api<{ create_time: string; update_time: string }[]>('GET', `/api/jobs?limit=${n}&order_by=create_time&user_details=false`, undefined, true);
  return jobs.map((j): [number, number] => [(galaxyTime(j.create_time) - t0) / 1000, (galaxyTime(j.update_time) - t0) / 1000]).sort((a, b) => a[0] - b[0]);
}

function writeFiles(prefix: string): string[] {
  const rels: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const rel = `${prefix}-d${i % DIRS}/f${String(i).padStart(5, '0')}.txt`;
    mkdirSync(path.join(importDir, path.dirname(rel)), { recursive: true });
    writeFileSync(path.join(importDir, rel), `file ${i} of ${prefix}\n`);
    rels.push(rel);
  }
  return rels;
}

interface Row {
  way: string;
  files: number;
  seconds: number;
  filesPerSecond: number;
  requests: number;
  /** The requests by route (ids left out), most first. */
  routes: Record<string, number>;
  /** Requests that look up or create the library, its folders and the history: the rest is the import's. */
  setupRequests: number;
  jobs: number;
  /** Galaxy's jobs of the way, in the order made: seconds after the way began that each was created and last updated (ended). */
  jobTimes: [number, number][];
  galaxyCpu: number;
  importerCpu: number;
  ok: number;
}

async function okIn(libraryId: string): Promise<number> {
  const contents = await api<{ id: string; type: string }[]>('GET', `/api/libraries/${libraryId}/contents`);
  let ok = 0;
  for (const f of contents.filter((c) => c.type === 'folder')) {
    const page = await api<{ folder_contents: { type: string; state: string }[] }>('GET', `/api/folders/${f.id}/contents?limit=100000`);
    ok += page.folder_contents.filter((x) => x.type === 'file' && x.state === 'ok').length;
  }
  return ok;
}

/** Runs one way in a child process (this script with --way); its CPU is what the child and its own children used. */
async function measure(way: string, args: string[], files = FILES): Promise<Row> {
  // Each way starts with an empty import directory: scan would take the earlier ways' files too.
  for (const n of readdirSync(importDir)) rmSync(path.join(importDir, n), { recursive: true, force: true });
  const j0 = await jobsCount();
  const r0 = requestsSoFar();
  const c0 = galaxyCpuSeconds(galaxyDir);
  const own0 = reapedChildrenCpuSeconds();
  const t0 = Date.now();
  let out = '';
  const code = await new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, [here, '--files', String(files), '--dirs', String(DIRS), '--via', proxyUrl, ...args], { env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${way}: exited ${code}`);
  const seconds = (Date.now() - t0) / 1000;
  const importerCpu = reapedChildrenCpuSeconds() - own0;
  const libraryId = out.trim().split('\n').at(-1) ?? '';
  const seen = proxy?.seen.slice(r0) ?? [];
  const routes: Record<string, number> = {};
  for (const r of seen) {
    const k = `${r.split(' ')[0] ?? ''} ${routeOf(r.slice(r.indexOf(' ') + 1))}`;
    routes[k] = (routes[k] ?? 0) + 1;
  }
  const sorted = Object.fromEntries(Object.entries(routes).sort((a, b) => b[1] - a[1]));
  const setupRequests = Object.entries(routes).filter(([k]) => SETUP_ROUTES.has(k)).reduce((n, [, c]) => n + c, 0);
  const galaxyCpu = galaxyCpuSeconds(galaxyDir) - c0;
  const row: Row = { way, files, seconds, filesPerSecond: files / seconds, requests: seen.length, routes: sorted, setupRequests, jobs: 0, jobTimes: [], galaxyCpu, importerCpu, ok: 0 };
  row.jobs = (await jobsCount()) - j0;
  row.jobTimes = await jobTimes(row.jobs, t0);
  row.ok = await okIn(libraryId);
  console.log(JSON.stringify(row));
  return row;
}

async function waitAllOk(libraryId: string): Promise<void> {
  for (;;) {
    if ((await okIn(libraryId)) >= FILES) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** galaxy-importd scan, as an admin runs it; its CPU from /proc once it has exited (reaped by us). */
async function daemonWay(batch: number, concurrency: number, tag: string): Promise<string> {
  const root = path.join(os.tmpdir(), `bench-real-${tag}-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  const library = `bench ${tag} ${Date.now()}`;
  writeFiles(tag);
  const config = path.join(root, 'galaxy-importd.ini');
  writeFileSync(config, `[galaxy]\nurl = ${proxyUrl}\n[import]\ndir = ${importDir}\nsettle_seconds = 1\nrescan_minutes = 0\n[library]\nname = ${library}\n[upload]\nbatch_size = ${batch}\nconcurrency = ${concurrency}\n[state]\ndir = ${root}/state\n[http]\nlisten =\n`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [cli, '--config', config, 'scan'], { env: { PATH: env.PATH ?? '', GALAXY_API_KEY: key }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`scan exited ${code}`);
  rmSync(root, { recursive: true, force: true });
  // The bench's look-up of the library scan made, not counted as scan's.
  const libs = await api<{ id: string; name: string }[]>('GET', '/api/libraries?deleted=false', undefined, true);
  return libs.find((l) => l.name === library)?.id ?? '';
}

async function newLibrary(name: string): Promise<{ id: string; root: string }> {
  const lib = await api<{ id: string; root_folder_id: string }>('POST', '/api/libraries', { name });
  return { id: lib.id, root: lib.root_folder_id };
}

/** A folder per subdirectory `PREFIX-dN` under `root`, by subdirectory; the ids F-prefixed. */
async function newFolders(root: string, prefix: string): Promise<Map<string, string>> {
  const folders = new Map<string, string>();
  for (let d = 0; d < DIRS; d++) folders.set(`${prefix}-d${d}`, (await api<{ id: string }>('POST', `/api/folders/${root}`, { name: `${prefix}-d${d}` })).id);
  return folders;
}

/** example_watch_folder.py's way: one fetch request, so one job, per file, into the folder of its directory. */
async function perFileWay(): Promise<string> {
  const rels = writeFiles('perfile');
  {
    const lib = await newLibrary(`bench per-file ${Date.now()}`);
    const history = await api<{ id: string }>('POST', '/api/histories', { name: 'bench per-file' });
    const folders = await newFolders(lib.root, 'perfile');
    for (const rel of rels) {
      const folder = folders.get(path.dirname(rel)) ?? '';
      await api('POST', '/api/tools/fetch', {
        history_id: history.id,
        targets: [{ destination: { type: 'library_folder', library_folder_id: folder.slice(1) }, items: [{ src: 'server_dir', server_dir: rel, name: path.basename(rel), ext: 'auto', dbkey: '?', link_data_only: false }] }],
      });
    }
    await waitAllOk(lib.id);
    return lib.id;
  }
}

/**
 * Galaxy's floor: one fetch request, so one job, holding all the files, a target per subdirectory,
 * sent by the daemon's own submit code with the items it sends at its defaults ([upload]
 * file_type, dbkey, link_data_only, and the checksum's hashes and info); then, looking at the job
 * every 2 s, until it ends, and at the folders until every dataset is ok.
 */
async function oneJobWay(): Promise<string> {
  const rels = writeFiles('onejob');
  const lib = await newLibrary(`bench one-job ${Date.now()}`);
  const history = await api<{ id: string }>('POST', '/api/histories', { name: 'bench one-job' });
  const folders = await newFolders(lib.root, 'onejob');
  const checksum = uploadDefault('checksum');
  const route = { library: '', folder: [], fileType: uploadDefault('file_type'), dbkey: uploadDefault('dbkey'), tags: [], link: uploadDefault('link_data_only') === 'true', access: null, notify: [] };
  const byDir = new Map<string, ReadyFile[]>();
  for (const rel of rels) {
    const sum = checksum === 'none' ? null : await checksumFile(path.join(importDir, rel), checksum as keyof typeof CHECKSUMS);
    let files = byDir.get(path.dirname(rel));
    if (!files) byDir.set(path.dirname(rel), (files = []));
    files.push({ path: rel, size: sum?.size ?? 0, mtimeMs: 0, readyAt: Date.now(), checksum: sum && { hashFunction: sum.hashFunction, hex: sum.hex } });
  }
  const parts = [...byDir].map(([dir, files]) => ({ files, route: { ...route, folder: [dir] }, target: { libraryId: lib.id, folderId: folders.get(dir) ?? '' } }));
  const client = new GalaxyClient({ url: proxyUrl, apiKey: key, clock: systemClock });
  try {
    const sent = await fetchSubmitter(client).send(parts, history.id);
    if (sent.kind !== 'job') throw new Error('one-job: the fetch request named no job');
    // The job's state every 2 s (one request), not every folder's: the floor's cheapest wait.
    let state: string;
    while (!TERMINAL_JOB.has((state = (await client.showJob(sent.jobId)).state))) await new Promise((r) => setTimeout(r, 2000));
    if (state !== 'ok') throw new Error(`one-job: the job is ${state}`);
    await waitAllOk(lib.id);
  } finally {
    await client.close();
  }
  return lib.id;
}

/** The seed's library_upload_from_import_dir.py once per subdirectory (upload1, the legacy path). */
async function uploadDirWay(): Promise<string> {
  writeFiles('seed');
  {
    const lib = await newLibrary(`bench upload-dir ${Date.now()}`);
    for (let d = 0; d < DIRS; d++) {
      const folder = (await api<{ id: string }[]>('POST', `/api/libraries/${lib.id}/contents`, { folder_id: lib.root, name: `seed-d${d}`, description: '', create_type: 'folder' }))[0]?.id ?? '';
      await api('POST', `/api/libraries/${lib.id}/contents`, { folder_id: folder, file_type: 'auto', server_dir: `seed-d${d}`, dbkey: '?', upload_option: 'upload_directory', create_type: 'file' });
    }
    await waitAllOk(lib.id);
    return lib.id;
  }
}

if (child) {
  const [b, c] = values.tag.split('x').map(Number) as [number, number];
  const ways: Record<string, () => Promise<string>> = { daemon: () => daemonWay(b, c, `d${values.tag}-${Date.now() % 100000}`), 'per-file': perFileWay, 'upload-dir': uploadDirWay, 'one-job': oneJobWay };
  const id = await (ways[values.way ?? ''] ?? uploadDirWay)();
  process.stdout.write(`${id}\n`);
  process.exit(0);
}

/**
 * One fetch of one small file into a library of its own, until it is ok, before any way is
 * measured: a Galaxy just started builds its worker at its first job (12–15 s on the production
 * shape's Celery), which would fall on whichever way goes first.
 */
async function warmUp(): Promise<void> {
  mkdirSync(path.join(importDir, 'warm-up'), { recursive: true });
  writeFileSync(path.join(importDir, 'warm-up', `w${Date.now()}.txt`), 'warm-up\n');
  const lib = await newLibrary(`bench warm-up ${Date.now()}`);
  const history = await api<{ id: string }>('POST', '/api/histories', { name: 'bench warm-up' });
  const rel = path.join('warm-up', readdirSync(path.join(importDir, 'warm-up')).sort().at(-1) ?? '');
  const { jobs } = await api<{ jobs: { id: string }[] }>('POST', '/api/tools/fetch', {
    history_id: history.id,
    targets: [{ destination: { type: 'library_folder', library_folder_id: lib.root.slice(1) }, items: [{ src: 'server_dir', server_dir: rel, name: path.basename(rel), ext: 'auto', dbkey: '?' }] }],
  });
  const job = jobs[0]?.id ?? '';
  while (!TERMINAL_JOB.has((await api<{ state: string }>('GET', `/api/jobs/${job}`)).state)) await new Promise((r) => setTimeout(r, 1000));
}

const skip = new Set(values.skip.split(',').filter(Boolean));
await warmUp();
const rows: Row[] = [];
const [batchDefault, concurrencyDefault] = [Number(uploadDefault('batch_size')), Number(uploadDefault('concurrency'))];
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error(`bench/real-galaxy: --rounds ${values.rounds}: give a whole number of at least 1`);
  process.exit(2);
}
const ourRuns: Row[] = [];
const oneJobRuns: Row[] = [];
const round = (r: number): string => (ROUNDS > 1 ? `, round ${r + 1}` : '');
for (let r = 0; r < ROUNDS; r++) {
  const ours = async () => (skip.has('defaults') ? 0 : ourRuns.push(await measure(`galaxy-importd scan, defaults (batch_size ${batchDefault}, concurrency ${concurrencyDefault}, rate_per_second ${uploadDefault('rate_per_second')})${round(r)}`, ['--way', 'daemon', '--tag', `${batchDefault}x${concurrencyDefault}`])));
  const one = async () => (skip.has('one-job') ? 0 : oneJobRuns.push(await measure(`one fetch request of all the files, a target per folder (one job: Galaxy's floor)${round(r)}`, ['--way', 'one-job'])));
  for (const way of r % 2 === 0 ? [ours, one] : [one, ours]) await way();
}
rows.push(...ourRuns);
for (const v of values.sweep.split(',').filter(Boolean)) {
  const [b, c] = v.split('x').map(Number) as [number, number];
  rows.push(await measure(`galaxy-importd scan, batch_size ${b}, concurrency ${c}`, ['--way', 'daemon', '--tag', `${b}x${c}`]));
}
rows.push(...oneJobRuns);
const perFile = Number(values['per-file-files'] ?? FILES);
if (!skip.has('per-file')) rows.push(await measure('one fetch request per file (example_watch_folder.py)', ['--way', 'per-file'], perFile));
if (!skip.has('upload-dir')) rows.push(await measure("the seed's upload-dir, once per subdirectory", ['--way', 'upload-dir']));
await proxy?.close();

/** Requests per file beyond the set-up (creating the library, folders and history). */
const importPerFile = (r: Row): number => (r.requests - r.setupRequests) / r.files;
/** The runs of a way taken together (their sums): one row however many rounds. */
const together = (runs: Row[]): Row | null => (runs.length === 0 ? null : runs.reduce((a, b) => ({
  ...a, files: a.files + b.files, seconds: a.seconds + b.seconds, requests: a.requests + b.requests, setupRequests: a.setupRequests + b.setupRequests, galaxyCpu: a.galaxyCpu + b.galaxyCpu,
})));
const ours = together(ourRuns);
const oneJob = together(oneJobRuns);
const goalLines: string[] = [];
if (oneJob && ours) {
  const met = (v: number, limit: number): string => (v <= limit ? 'met' : '**not met**');
  const [time, cpu, req] = [ours.seconds / oneJob.seconds, ours.galaxyCpu / ours.files / (oneJob.galaxyCpu / oneJob.files), importPerFile(ours)];
  const over = ROUNDS > 1 ? ` (the sums of ${ROUNDS} rounds each, run alternately)` : '';
  goalLines.push('', `Issue 29's goals, galaxy-importd at its defaults against the one-job way of this run${over}: wall time ${time.toFixed(2)}× (${ours.seconds.toFixed(0)} s against ${oneJob.seconds.toFixed(0)} s; goal ≤ 1.25×: ${met(time, 1.25)}), Galaxy CPU per file ${cpu.toFixed(2)}× (${(ours.galaxyCpu / ours.files).toFixed(3)} s against ${(oneJob.galaxyCpu / oneJob.files).toFixed(3)} s; goal ≤ 1.25×: ${met(cpu, 1.25)}), requests beyond the set-up ${ours.requests - ours.setupRequests}, ${req.toFixed(3)} per file (goal ≤ 0.02: ${met(req, 0.02)}).`);
}
const version = (await (await fetch(`${galaxyUrl}/api/version`)).json()) as { version_major: string; version_minor?: string };
const section = values.section ?? `real-galaxy-${FILES}`;
const cmd = `node dist/bench/real-galaxy.js --files ${FILES} --dirs ${DIRS}${values.sweep ? ` --sweep ${values.sweep}` : ''}${values['per-file-files'] ? ` --per-file-files ${perFile}` : ''}${values.skip ? ` --skip ${values.skip}` : ''}${ROUNDS > 1 ? ` --rounds ${ROUNDS}` : ''}${values.section ? ` --section ${section}` : ''}`;
writeSection(section, [
  `### Into a real Galaxy ${version.version_major}${version.version_minor ? `.${version.version_minor}` : ''}: ${FILES} small files in ${DIRS} subdirectories, until every dataset is ok`,
  '',
  `\`${cmd}\` (Galaxy from scripts/real-galaxy.sh${env.GALAXY_IMPORTD_TEST_GALAXY_SHAPE === 'production' ? ' --production: PostgreSQL, Celery, two job handlers, nginx in front; Galaxy CPU is its whole process tree, not PostgreSQL\'s, RabbitMQ\'s or nginx\'s' : ': SQLite, the local job runner in the web process'}; all on this machine; one small fetch job first, unmeasured, so that no way pays for Galaxy's first job)`,
  '',
  '| way | files | seconds | files/s | requests | of which set-up | others per file | Galaxy jobs | Galaxy CPU s | Galaxy CPU s per file | importer CPU s | datasets ok |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.way} | ${r.files} | ${r.seconds.toFixed(0)} | ${r.filesPerSecond.toFixed(2)} | ${r.requests} | ${r.setupRequests} | ${importPerFile(r).toFixed(3)} | ${r.jobs} | ${r.galaxyCpu.toFixed(0)} | ${(r.galaxyCpu / r.files).toFixed(2)} | ${r.importerCpu.toFixed(1)} | ${r.ok} |`),
  '',
  `Set-up: ${[...SETUP_ROUTES].join(', ')} (the library, its folders, a history). The requests by route (ids left out; the seed's and the per-file ways poll every folder every 2 s until all are ok; the one-job way looks at its job every 2 s, then at the folders):`,
  '',
  ...rows.map((r) => `- ${r.way}: ${Object.entries(r.routes).map(([k, n]) => `${n} \`${k}\``).join(', ')}`),
  '',
  "Galaxy's jobs, each made → last updated (its end), in seconds after the way began (Galaxy's own `create_time` and `update_time`):",
  '',
  ...rows.map((r) => `- ${r.way}: ${r.jobTimes.length > 12 ? `${r.jobTimes.length} jobs, the first made at ${r.jobTimes[0]?.[0].toFixed(0)} s, the last ended at ${Math.max(...r.jobTimes.map((j) => j[1])).toFixed(0)} s` : r.jobTimes.map(([a, b]) => `${a.toFixed(0)} → ${b.toFixed(0)}`).join(', ')}`),
  ...goalLines,
]);
recordFigures(section, { rows });
