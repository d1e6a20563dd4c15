#!/usr/bin/env node
/**
 * `npm run demo`: act 1 runs the seed session of seed/galaxy-admin-api.md for
 * real through the built `galaxy-importd api` commands against the bundled
 * Galaxy emulator; act 2 runs the daemon on the same emulator, drops files
 * into two subdirectories (one upload meets an injected 503 and is retried),
 * shows them flow, prints the libraries and stops the daemon with SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../emulator/server.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const importDir = mkdtempSync(path.join(os.tmpdir(), 'galaxy-importd-demo-'));
mkdirSync(path.join(importDir, 'bed'));
const bed = (n: number, start: number): string =>
  Array.from({ length: n }, (_, i) => `chr${(i % 22) + 1}\t${start + i * 100}\t${start + i * 100 + 50}\tregion${i}\t${i}\t${i % 2 ? '-' : '+'}`).join('\n') + '\n';
writeFileSync(path.join(importDir, 'bed', '2.bed'), bed(68, 1000));
writeFileSync(path.join(importDir, 'bed', '3.bed'), bed(40, 5000));

// Act 2's config and ledger, beside the import directory; removed at the end or on Ctrl-C.
const configFile = path.join(importDir, '..', `${path.basename(importDir)}.ini`);
const stateDir = `${importDir}-state`;

const emu = await startEmulator({ libraryImportDir: importDir });
const children = new Set<ChildProcess>();
const cleanup = async (): Promise<void> => {
  for (const c of children) c.kill('SIGTERM');
  await emu.close();
  for (const p of [importDir, stateDir, configFile]) rmSync(p, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

function api(...args: string[]): Promise<string> {
  process.stdout.write(`\n% galaxy-importd api ${args.map((a) => (/[\s']/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'api', ...args], {
      env: { ...process.env, GALAXY_API_KEY: emu.adminKey },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`galaxy-importd exited ${code}`))));
  });
}

const id = (text: string, re: RegExp): string => {
  const m = re.exec(text);
  if (!m?.[1]) throw new Error(`no id in:\n${text}`);
  return m[1];
};

interface LogLine {
  event?: string;
  file?: string;
  reason?: string;
  folder?: string;
  library?: string;
  duration_ms?: number;
  [k: string]: unknown;
}

/** Act 2: the daemon, on the same emulator, with files dropped while it runs. */
async function daemonAct(): Promise<void> {
  process.stdout.write('\n== Act 2: galaxy-importd run ==\n');
  writeFileSync(configFile, [
    '[galaxy]', `url = ${emu.url}`,
    '[import]', `dir = ${importDir}`, 'settle_seconds = 1',
    '[upload]', 'rate_per_second = 5', 'batch_size = 10',
    '[state]', `dir = ${stateDir}`,
    '[http]', 'listen =',
    '[folder:bed]', 'library = API Test Library', 'folder = /api_test_folder1', 'file_type = bed', 'dbkey = hg19',
    '',
  ].join('\n'));
  process.stdout.write(`config: ${configFile}\n[folder:bed] sends bed/ to "API Test Library" /api_test_folder1 as bed/hg19; other subdirectories go to library "Imports".\n`);
  // One fault to show a retry: Galaxy's proxy answers the first upload of reads/ with a 503 page.
  emu.addFaults({ method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'status', status: 503, retryAfter: 1 } });
  const child = spawn(process.execPath, [cli, '--config', configFile, 'run'], {
    env: { ...process.env, GALAXY_API_KEY: emu.adminKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const wanted = ['bed/4.bed', 'bed/5.bed', 'reads/sample1.fastq', 'reads/sample2.fastq'];
  const ok = new Set<string>();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  let allOk!: () => void;
  const done = new Promise<void>((r) => (allOk = r));
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as LogLine;
      const say = (text: string): void => void process.stdout.write(`  ${(l.event ?? '').padEnd(17)} ${text}\n`);
      switch (l.event) {
        case 'daemon.ready': say('start-up walk done; watching'); ready(); break;
        case 'file.ready': say(`${l.file ?? ''} settled (size and mtime unchanged for 1 s)`); break;
        case 'upload.submitted': say(`${l.file ?? ''} → ${l.library ?? ''} ${l.folder ?? ''}`); break;
        case 'upload.retry': say(`${l.file ?? ''}: ${String(l.reason)}; retrying`); break;
        case 'upload.ok':
          say(`${l.file ?? ''} is ok in Galaxy (dataset ${String(l.dataset_id)}, ${l.duration_ms ?? 0} ms after it settled)`);
          ok.add(l.file ?? '');
          if (wanted.every((w) => ok.has(w))) allOk();
          break;
        case 'library.created':
        case 'folder.created': say(`${l.library ?? l.folder ?? ''}`); break;
        case 'upload.failed': say(`${l.file ?? ''}: ${String(l.reason)}`); break;
        default: break;
      }
    }
  });
  await isReady;
  process.stdout.write('\nDropping files into bed/ and reads/ (reads/ written slowly, in chunks):\n');
  writeFileSync(path.join(importDir, 'bed', '4.bed'), bed(12, 9000));
  writeFileSync(path.join(importDir, 'bed', '5.bed'), bed(7, 12000));
  mkdirSync(path.join(importDir, 'reads'), { recursive: true });
  for (const name of ['sample1.fastq', 'sample2.fastq']) {
    const file = path.join(importDir, 'reads', name);
    for (let i = 0; i < 4; i++) {
      appendFileSync(file, `@read${i}\nACGTACGTAC\n+\nIIIIIIIIII\n`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('the daemon did not finish within 60 s')), 60_000))]);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  children.delete(child);
  process.stdout.write(`\nSIGTERM: the daemon drained and exited with status ${code}.\n\nThe libraries now:\n`);
  for (const d of emu.model.tree().sort((a, b) => `${a.library}${a.folder}${a.name}`.localeCompare(`${b.library}${b.folder}${b.name}`))) {
    process.stdout.write(`  ${d.library} ${d.folder === '/' ? '' : d.folder}/${d.name}  [${d.state}, ${d.size} bytes]\n`);
  }
}

try {
  process.stdout.write('== Act 1: the seed session, with galaxy-importd api ==\n');
  process.stdout.write(`Galaxy emulator on ${emu.url}, library_import_dir = ${importDir}\n`);
  process.stdout.write('The key comes from $GALAXY_API_KEY, never from the command line.\n');
  const libraries = `${emu.url}/api/libraries`;
  await api('display', libraries);
  const lib = id(await api('create-library', libraries, 'api_test', 'API Test Library'), /^ {2}id: (\S+)$/m);
  await api('display', libraries);
  await api('display', `${libraries}/${lib}`);
  const contents = `${libraries}/${lib}/contents`;
  const root = id(await api('display', contents), /^ {2}id: (F\S+)$/m);
  const folder = id(await api('create-folder', contents, root, 'api_test_folder1', 'API Test Folder 1'), /^ {2}id: (F\S+)$/m);
  const first = id(await api('upload-dir', contents, folder, 'bed', 'bed', 'hg19'), /^ {2}id: (\S+)$/m);
  // The upload job runs asynchronously, as in Galaxy: wait for the dataset to be ok.
  for (let i = 0; i < 100 && emu.model.tree().some((d) => d.state !== 'ok'); i++) await new Promise((r) => setTimeout(r, 50));
  await api('display', contents);
  await api('display', `${contents}/${first}`);
  await daemonAct();
  process.stdout.write('\nDone. `galaxy-importd --help` lists every command; README.md says how to run it for real.\n');
} finally {
  await cleanup();
}
