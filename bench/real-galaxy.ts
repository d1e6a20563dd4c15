#!/usr/bin/env node
/**
 * Into a real Galaxy: N small files in D subdirectories of library_import_dir, until every
 * dataset is ok, three ways in one run (the same Galaxy, the same files, each into a library of
 * its own):
 *   - galaxy-importd's `scan` (at its defaults, and at the other batch_size / concurrency
 *     values given with --sweep);
 *   - one fetch request per file, the way scripts/api/example_watch_folder.py works;
 *   - the seed's upload-dir (the legacy upload_directory) once per subdirectory.
 * For each: files per second, HTTP requests (counted by a proxy in front of Galaxy), Galaxy jobs
 * created, CPU seconds of Galaxy's process tree (the web process and the job processes it
 * reaped), and the importer's own CPU.
 *
 *   scripts/real-galaxy.sh start /tmp/g > /tmp/g.env; set -a; . /tmp/g.env; set +a
 *   node dist/bench/real-galaxy.js --files 1000 --dirs 10 [--sweep 50x4,100x4,20x2] [--section NAME]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OPTIONS } from '../src/config/options.js';
import type { OptionSpec } from '../src/config/options.js';
import { cpuMs } from './proc.js';
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

async function api<T>(method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${proxyUrl}${p}`, {
    method,
    headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** CPU seconds of a process and the children it reaped; `children`: only those. */
const cpuOf = (pid: number | string, children = false): number => (cpuMs(pid, { reaped: true }) - (children ? cpuMs(pid) : 0)) / 1000;
const galaxyPid = readFileSync(path.join(galaxyDir, 'galaxy.pid'), 'utf8').trim();
const jobsCount = async (): Promise<number> => (await api<unknown[]>('GET', '/api/jobs?limit=100000&user_details=false')).length;

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
  jobs: number;
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
  const r0 = requestsSoFar();
  const j0 = await jobsCount();
  const c0 = cpuOf(galaxyPid);
  const own0 = cpuOf('self', true);
  const t0 = Date.now();
  let out = '';
  const code = await new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, [here, '--files', String(files), '--dirs', String(DIRS), '--via', proxyUrl, ...args], { env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${way}: exited ${code}`);
  const seconds = (Date.now() - t0) / 1000;
  const importerCpu = cpuOf('self', true) - own0;
  const libraryId = out.trim().split('\n').at(-1) ?? '';
  const row: Row = { way, files, seconds, filesPerSecond: files / seconds, requests: requestsSoFar() - r0, jobs: 0, galaxyCpu: cpuOf(galaxyPid) - c0, importerCpu, ok: 0 };
  row.jobs = (await jobsCount()) - j0;
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
  const libs = await api<{ id: string; name: string }[]>('GET', '/api/libraries?deleted=false');
  return libs.find((l) => l.name === library)?.id ?? '';
}

async function newLibrary(name: string): Promise<{ id: string; root: string }> {
  const lib = await api<{ id: string; root_folder_id: string }>('POST', '/api/libraries', { name });
  return { id: lib.id, root: lib.root_folder_id };
}

/** example_watch_folder.py's way: one fetch request, so one job, per file, into the folder of its directory. */
async function perFileWay(): Promise<string> {
  const rels = writeFiles('perfile');
  {
    const lib = await newLibrary(`bench per-file ${Date.now()}`);
    const history = await api<{ id: string }>('POST', '/api/histories', { name: 'bench per-file' });
    const folders = new Map<string, string>();
    for (let d = 0; d < DIRS; d++) folders.set(`perfile-d${d}`, (await api<{ id: string }>('POST', `/api/folders/${lib.root}`, { name: `perfile-d${d}` })).id);
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
  const id = values.way === 'daemon' ? await daemonWay(b, c, `d${values.tag}-${Date.now() % 100000}`) : values.way === 'per-file' ? await perFileWay() : await uploadDirWay();
  process.stdout.write(`${id}\n`);
  process.exit(0);
}

const skip = new Set(values.skip.split(',').filter(Boolean));
const rows: Row[] = [];
const defaultOf = (key: string): number => Number((OPTIONS as readonly OptionSpec[]).find((o) => o.section === 'upload' && o.key === key)?.default);
const [batchDefault, concurrencyDefault] = [defaultOf('batch_size'), defaultOf('concurrency')];
rows.push(await measure(`galaxy-importd scan, defaults (batch_size ${batchDefault}, concurrency ${concurrencyDefault})`, ['--way', 'daemon', '--tag', `${batchDefault}x${concurrencyDefault}`]));
for (const v of values.sweep.split(',').filter(Boolean)) {
  const [b, c] = v.split('x').map(Number) as [number, number];
  rows.push(await measure(`galaxy-importd scan, batch_size ${b}, concurrency ${c}`, ['--way', 'daemon', '--tag', `${b}x${c}`]));
}
const perFile = Number(values['per-file-files'] ?? FILES);
if (!skip.has('per-file')) rows.push(await measure('one fetch request per file (example_watch_folder.py)', ['--way', 'per-file'], perFile));
if (!skip.has('upload-dir')) rows.push(await measure("the seed's upload-dir, once per subdirectory", ['--way', 'upload-dir']));
await proxy?.close();

const version = (await (await fetch(`${galaxyUrl}/api/version`)).json()) as { version_major: string; version_minor?: string };
const section = values.section ?? `real-galaxy-${FILES}`;
const cmd = `node dist/bench/real-galaxy.js --files ${FILES} --dirs ${DIRS}${values.sweep ? ` --sweep ${values.sweep}` : ''}${values['per-file-files'] ? ` --per-file-files ${perFile}` : ''}${values.skip ? ` --skip ${values.skip}` : ''}${values.section ? ` --section ${section}` : ''}`;
writeSection(section, [
  `### Into a real Galaxy ${version.version_major}${version.version_minor ? `.${version.version_minor}` : ''}: ${FILES} small files in ${DIRS} subdirectories, until every dataset is ok`,
  '',
  `\`${cmd}\` (Galaxy from scripts/real-galaxy.sh: SQLite, the local job runner in the web process; all on this machine)`,
  '',
  '| way | files | seconds | files/s | requests | Galaxy jobs | Galaxy CPU s | Galaxy CPU s per file | importer CPU s | datasets ok |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.way} | ${r.files} | ${r.seconds.toFixed(0)} | ${r.filesPerSecond.toFixed(2)} | ${r.requests} | ${r.jobs} | ${r.galaxyCpu.toFixed(0)} | ${(r.galaxyCpu / r.files).toFixed(2)} | ${r.importerCpu.toFixed(1)} | ${r.ok} |`),
]);
recordFigures(section, { rows });
