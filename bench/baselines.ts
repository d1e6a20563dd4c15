#!/usr/bin/env node
/**
 * The baselines the benchmarks compare galaxy-importd with, each run as its own process so
 * that its CPU and memory are its own:
 *
 *   poll      the algorithm of Galaxy's scripts/api/example_watch_folder.py: list the
 *             directory every 10 s and upload each file found with one
 *             POST /api/libraries/{id}/contents (upload_option upload_paths), no stability
 *             check; the script moves each file out after its upload, here it is remembered.
 *   chokidar  plain chokidar watching the whole tree (awaitWriteFinish with the same 1 s
 *             stability threshold as the daemon's settle window), one upload per 'add'.
 *   bare      the least an uploader of live files can do: fs.watch (inotify) on each
 *             subdirectory there at start, and one upload request per new file name at its
 *             first event; no settling, no ledger, no log. Its CPU per file is this machine's
 *             floor for one request per file at that rate.
 *
 * Usage: node dist/bench/baselines.js poll|chokidar|bare DIR GALAXY_URL [--no-upload]
 * The key comes from $GALAXY_API_KEY. Prints JSON lines: {"event":"ready"} once the first
 * listing (or chokidar's initial scan) is done, {"event":"submitted","file":…} per upload.
 */
import { readdirSync, watch as fsWatch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { watch } from 'chokidar';

const [mode, dir, url, flag] = process.argv.slice(2);
if ((mode !== 'poll' && mode !== 'chokidar' && mode !== 'bare') || !dir || !url) {
  process.stderr.write('usage: baselines.js poll|chokidar|bare DIR GALAXY_URL [--no-upload]\n');
  process.exit(2);
}
const upload = flag !== '--no-upload';
const key = process.env.GALAXY_API_KEY ?? '';
const say = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...line, time: Date.now() })}\n`);

async function api(method: string, apiPath: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${url}${apiPath}`, { method, headers: { 'x-api-key': key, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(json)}`);
  return json;
}

let library: { id: string; root: string } | null = null;
async function target(): Promise<{ id: string; root: string }> {
  if (library) return library;
  const lib = (await api('POST', '/api/libraries', { name: `baseline ${mode}` })) as { id: string; root_folder_id: string };
  library = { id: lib.id, root: lib.root_folder_id };
  return library;
}

async function send(full: string): Promise<void> {
  say({ event: 'submitted', file: path.relative(dir ?? '', full) });
  if (!upload) return;
  const t = await target();
  await api('POST', `/api/libraries/${t.id}/contents`, { folder_id: t.root, file_type: 'auto', dbkey: '', upload_option: 'upload_paths', filesystem_paths: full, create_type: 'file' });
}

async function list(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const full = path.join(d, e.name);
    if (e.isDirectory()) out.push(...(await list(full)));
    else if (e.isFile()) out.push(full);
  }
  return out;
}

if (mode === 'poll') {
  const seen = new Set<string>();
  let first = true;
  for (;;) {
    for (const full of await list(dir)) {
      if (seen.has(full)) continue;
      seen.add(full);
      // The script uploads one file at a time, waiting for each answer.
      if (!first || upload) await send(full).catch((err: unknown) => say({ event: 'error', file: full, reason: String(err) }));
    }
    if (first) say({ event: 'ready', files: seen.size });
    first = false;
    await new Promise((r) => setTimeout(r, 10_000));
  }
} else if (mode === 'bare') {
  const seen = new Set<string>();
  for (const sub of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    const d = path.join(dir, sub.name);
    fsWatch(d, (_event, name) => {
      if (name === null || seen.has(`${d}/${name}`)) return;
      seen.add(`${d}/${name}`);
      void send(path.join(d, name)).catch((err: unknown) => say({ event: 'error', file: name, reason: String(err) }));
    });
  }
  say({ event: 'ready' });
} else {
  const watcher = watch(dir, { ignoreInitial: !upload, awaitWriteFinish: { stabilityThreshold: 1000, pollInterval: 100 } });
  watcher.on('add', (full) => void send(full).catch((err: unknown) => say({ event: 'error', file: full, reason: String(err) })));
  watcher.on('ready', () => say({ event: 'ready' }));
}
