#!/usr/bin/env node
/**
 * The production install the Docker image does, checked in CI: a clean directory with only
 * package.json, package-lock.json and dist/src compiled by tsconfig.build.json (the image's
 * build stage), then `npm ci --omit=dev` (the image's deps stage). The installed CLI must then
 * answer --version, pass `check` against the emulator, import a file with `scan`, and run as a
 * daemon that `health --ready` finds ready and SIGTERM stops with exit 0. A runtime
 * dependency left in devDependencies fails here.
 *
 * Usage: node dist/scripts/check-production-install.js   (after npm run build)
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../emulator/server.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'galaxy-importd-prod-'));
const app = path.join(work, 'app');
const importDir = path.join(work, 'import');
const stateDir = path.join(work, 'state');
mkdirSync(app);
mkdirSync(path.join(importDir, 'run1'), { recursive: true });

function step(what: string): void {
  process.stdout.write(`== ${what}\n`);
}
function fail(message: string): never {
  process.stderr.write(`check-production-install: ${message}\n`);
  process.exit(1);
}

const emu = await startEmulator({ libraryImportDir: importDir });
try {
  step(`clean copy in ${app}`);
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(repo, f), path.join(app, f));
  execFileSync(path.join(repo, 'node_modules', '.bin', 'tsc'), ['-p', path.join(repo, 'tsconfig.build.json'), '--outDir', path.join(app, 'dist')], { stdio: 'inherit' });

  step('npm ci --omit=dev');
  execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, stdio: 'inherit' });
  for (const dev of ['typescript', 'eslint', path.join('@types', 'node')]) {
    if (existsSync(path.join(app, 'node_modules', dev))) fail(`${dev} was installed by npm ci --omit=dev`);
  }

  const cli = path.join(app, 'dist', 'src', 'cli', 'main.js');
  const env = { PATH: process.env.PATH ?? '', GALAXY_API_KEY: emu.adminKey };
  // Asynchronous: the emulator answers from this process's event loop.
  const run = (...args: string[]): Promise<{ status: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, out }));
    });

  step('galaxy-importd --version');
  const version = await run('--version');
  const expected = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  if (version.status !== 0 || version.out.trim() !== expected) fail(`--version answered ${version.status}: ${version.out}`);
  process.stdout.write(version.out);

  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as net.AddressInfo;
      s.close(() => resolve(p));
    });
  });
  const configFile = path.join(work, 'galaxy-importd.ini');
  writeFileSync(
    configFile,
    `[galaxy]\nurl = ${emu.url}\n\n[import]\ndir = ${importDir}\nsettle_seconds = 1\nrescan_minutes = 0\n\n[state]\ndir = ${stateDir}\n\n[http]\nlisten = 127.0.0.1:${port}\n`,
  );

  step('galaxy-importd check');
  const check = await run('--config', configFile, 'check');
  process.stdout.write(check.out);
  if (check.status !== 0) fail(`check exited ${check.status}`);

  step('galaxy-importd scan');
  writeFileSync(path.join(importDir, 'run1', 'a.bed'), 'chr1\t1\t100\n');
  const scan = await run('--config', configFile, 'scan');
  if (scan.status !== 0) fail(`scan exited ${scan.status}:\n${scan.out}`);
  const copies = emu.model.tree().filter((d) => d.name === 'a.bed' && d.state === 'ok').length;
  if (copies !== 1) fail(`a.bed is ok in Galaxy ${copies} times, expected once:\n${scan.out}`);

  step('galaxy-importd run, health --ready, SIGTERM');
  const daemon = spawn(process.execPath, [cli, '--config', configFile, 'run'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let log = '';
  daemon.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<number | null>((resolve) => daemon.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  let ready = await run('--config', configFile, 'health', '--ready');
  while (ready.status !== 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    ready = await run('--config', configFile, 'health', '--ready');
  }
  if (ready.status !== 0) {
    daemon.kill('SIGKILL');
    fail(`health --ready never answered 0 (last: ${ready.status} ${ready.out})\n${log}`);
  }
  daemon.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) fail(`the daemon exited ${code} on SIGTERM\n${log}`);
  step('production install OK');
} finally {
  await emu.close();
  rmSync(work, { recursive: true, force: true });
}
