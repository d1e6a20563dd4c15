#!/usr/bin/env node
/**
 * `npm run demo`: the seed session of seed/galaxy-admin-api.md, run for real
 * through the built `galaxy-importd api` commands against the bundled Galaxy
 * emulator, on a temporary library_import_dir holding two BED files.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../test/emulator/server.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const importDir = mkdtempSync(path.join(os.tmpdir(), 'galaxy-importd-demo-'));
mkdirSync(path.join(importDir, 'bed'));
const bed = (n: number, start: number): string =>
  Array.from({ length: n }, (_, i) => `chr${(i % 22) + 1}\t${start + i * 100}\t${start + i * 100 + 50}\tregion${i}\t${i}\t${i % 2 ? '-' : '+'}`).join('\n') + '\n';
writeFileSync(path.join(importDir, 'bed', '2.bed'), bed(68, 1000));
writeFileSync(path.join(importDir, 'bed', '3.bed'), bed(40, 5000));

const emu = await startEmulator({ libraryImportDir: importDir });
const cleanup = async (): Promise<void> => {
  await emu.close();
  rmSync(importDir, { recursive: true, force: true });
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

try {
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
  process.stdout.write('\nThe seed session ran end to end. The daemon (galaxy-importd run) does this continuously.\n');
} finally {
  await cleanup();
}
