#!/usr/bin/env node
/**
 * The two production installs, checked in CI on whichever Node runs this script:
 *
 * - `image` (the default): the install the Docker image does. A clean directory with only
 *   package.json, package-lock.json and dist/src compiled by tsconfig.build.json (the image's
 *   build stage), then `npm ci --omit=dev` (the image's deps stage).
 * - `tarball`: the release an admin installs (docs/operations.md, "Install"). `npm pack` (its
 *   prepack builds dist/src), the tarball's files checked (the built code, the example config,
 *   the systemd units and the docs; no tests, sources or source maps), then
 *   `npm install --global` of it into a temporary prefix, better-sqlite3 built from source
 *   against npm's nodedir (which must hold this Node's headers).
 *
 * The installed CLI must then answer --version, pass `check` against the emulator, import a
 * file with `scan`, and run as a daemon that `health --ready` finds ready and SIGTERM stops
 * with exit 0. A runtime dependency left in devDependencies fails here.
 *
 * Usage: node dist/scripts/check-production-install.js [image|tarball]   (after npm run build)
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../emulator/server.js';

const mode = process.argv[2] ?? 'image';
if (mode !== 'image' && mode !== 'tarball') {
  process.stderr.write(`check-production-install: expected \`image\` or \`tarball\`, got \`${mode}\`\n`);
  process.exit(2);
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'galaxy-importd-prod-'));
const app = path.join(work, 'app');
const importDir = path.join(work, 'import');
const stateDir = path.join(work, 'state');
mkdirSync(app);
mkdirSync(path.join(importDir, 'run1'), { recursive: true });
// npm, node-gyp and the installed CLI's `#!/usr/bin/env node` all run this script's Node.
const PATH = [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter);
const started = Date.now();

function step(what: string): void {
  process.stdout.write(`== ${what} (${Math.round((Date.now() - started) / 1000)} s in)\n`);
}
function fail(message: string): never {
  process.stderr.write(`check-production-install: ${message}\n`);
  process.exit(1);
}

const DEV_ONLY = ['typescript', 'eslint', path.join('@types', 'node')];

/** The image's install; the command that runs its CLI. */
function installAsImage(): string[] {
  step(`clean copy in ${app}`);
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(repo, f), path.join(app, f));
  execFileSync(path.join(repo, 'node_modules', '.bin', 'tsc'), ['-p', path.join(repo, 'tsconfig.build.json'), '--outDir', path.join(app, 'dist')], { stdio: 'inherit' });

  step('npm ci --omit=dev');
  execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, stdio: 'inherit', env: { ...process.env, PATH } });
  for (const dev of DEV_ONLY) {
    if (existsSync(path.join(app, 'node_modules', dev))) fail(`${dev} was installed by npm ci --omit=dev`);
  }
  return [process.execPath, path.join(app, 'dist', 'src', 'cli', 'main.js')];
}

const PACKED = ['dist/src/cli/main.js', 'config/galaxy-importd.ini', 'systemd/galaxy-importd.service', 'systemd/galaxy-importd-audit.service', 'systemd/galaxy-importd-audit.timer', 'docs/operations.md', 'docs/configuration.md', 'CHANGELOG.md', 'README.md', 'LICENSE'];
const NOT_PACKED = /^(src|test|bench|emulator|scripts|dist\/(test|bench|emulator|scripts))\/|\.(map|ts)$/;

/** npm's nodedir must hold this Node's headers, or better-sqlite3 is built for another Node. */
function checkNodedir(env: NodeJS.ProcessEnv): void {
  const nodedir = execFileSync('npm', ['config', 'get', 'nodedir'], { env, encoding: 'utf8' }).trim();
  const header = path.join(nodedir, 'include', 'node', 'node_version.h');
  if (nodedir === '' || nodedir === 'undefined' || !existsSync(header)) return;
  const major = /#define NODE_MAJOR_VERSION (\d+)/.exec(readFileSync(header, 'utf8'))?.[1];
  const ours = process.versions.node.split('.')[0];
  if (major !== ours) fail(`npm's nodedir ${nodedir} holds Node ${major ?? '?'}'s headers, but this is Node ${ours}: set npm_config_nodedir to a directory with Node ${ours}'s include/node`);
}

/** npm pack, then npm install --global of the tarball; the command that runs its CLI. */
function installTarball(): string[] {
  const env = { ...process.env, PATH };
  checkNodedir(env);
  step('npm pack');
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as { filename: string; files: { path: string }[] }[];
  const { filename, files } = packed[0] ?? fail('npm pack --json printed no package');
  const paths = files.map((f) => f.path);
  const missing = PACKED.filter((f) => !paths.includes(f));
  if (missing.length > 0) fail(`${filename} lacks ${missing.join(', ')}`);
  const extra = paths.filter((f) => NOT_PACKED.test(f));
  if (extra.length > 0) fail(`${filename} holds what an install does not need: ${extra.join(', ')}`);
  process.stdout.write(`${filename}: ${paths.length} files\n`);

  step('npm install --global (better-sqlite3 built from source)');
  const prefix = path.join(work, 'prefix');
  // npm 11.19's --strict-allow-scripts fails on a prefix without lib/ (ENOENT); /usr/local has one.
  mkdirSync(path.join(prefix, 'lib'), { recursive: true });
  execFileSync('npm', ['install', '--global', '--prefix', prefix, '--allow-scripts=better-sqlite3', '--strict-allow-scripts', '--no-audit', '--no-fund', path.join(work, filename)], { cwd: work, env, stdio: 'inherit' });
  const installed = path.join(prefix, 'lib', 'node_modules', 'galaxy-importd');
  for (const dev of DEV_ONLY) {
    if (existsSync(path.join(installed, 'node_modules', dev))) fail(`${dev} was installed by npm install --global`);
  }
  return [path.join(prefix, 'bin', 'galaxy-importd')];
}

const emu = await startEmulator({ libraryImportDir: importDir });
try {
  const [command = '', ...cli] = mode === 'image' ? installAsImage() : installTarball();
  const env = { PATH, GALAXY_API_KEY: emu.adminKey };
  // Asynchronous: the emulator answers from this process's event loop.
  const run = (...args: string[]): Promise<{ status: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(command, [...cli, ...args], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const daemon = spawn(command, [...cli, '--config', configFile, 'run'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
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
  step(`production install (${mode}) OK on Node ${process.versions.node}`);
} finally {
  await emu.close();
  rmSync(work, { recursive: true, force: true });
}
