import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { Emulator, EmulatorOptions } from '../emulator/server.js';
import { startEmulator } from '../emulator/server.js';

/** The checkout's root (tests run from dist/test/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built CLI, as an admin would run it. */
export const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/** A temporary directory removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'importd-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write `rel` below `dir` (its directories made), with its own path as content unless given. */
export function put(dir: string, rel: string, content = `${rel}\n`): void {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), content);
}

/** An emulator on a loopback port, closed when the test ends. */
export async function emulator(t: TestContext, opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(opts);
  t.after(() => emu.close());
  return emu;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI as a child process with exactly this environment (plus PATH). */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; uid?: number; gid?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? os.tmpdir(),
      env: { PATH: process.env.PATH ?? '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Answer {
  status: number;
  json: unknown;
  text: string;
  headers: Headers;
}

/** One raw request to a Galaxy (the emulator or a real one): `key` in x-api-key (null: none), the answer's JSON when it is JSON. */
export async function request(baseUrl: string, method: string, urlPath: string, opts: { body?: unknown; key: string | null; rawBody?: string; timeoutMs?: number }): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['x-api-key'] = opts.key;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${urlPath}`, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** A raw request to the emulator, for tests of the emulator itself. */
export function call(emu: Emulator, method: string, urlPath: string, opts: { body?: unknown; key?: string | null; rawBody?: string } = {}): Promise<Answer> {
  return request(emu.url, method, urlPath, { ...opts, key: opts.key === undefined ? emu.adminKey : opts.key });
}

/** BED lines, as the seed's 2.bed and 3.bed. */
export function bedLines(n: number, seed: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`chr${(i % 22) + 1}\t${seed + i * 100}\t${seed + i * 100 + 50}\tregion${i}\t${i % 1000}\t${i % 2 ? '-' : '+'}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The session of seed/galaxy-admin-api.md through `api` (the built CLI's api commands): list,
 * create a library, show it and its contents, create a folder in its root, upload the `bed`
 * subdirectory as bed/hg19. Each step's output, and the ids read from them.
 */
export async function seedSession(api: (...args: string[]) => Promise<string>, librariesUrl: string, name: string) {
  const listedFirst = await api('display', librariesUrl);
  const created = await api('create-library', librariesUrl, name, 'API Test Library');
  const libId = /^ {2}id: ([0-9a-f]{16})$/m.exec(created)?.[1] ?? '';
  const listed = await api('display', librariesUrl);
  const shown = await api('display', `${librariesUrl}/${libId}`);
  const contentsUrl = `${librariesUrl}/${libId}/contents`;
  const contents = await api('display', contentsUrl);
  const rootId = /^ {2}id: (F[0-9a-f]{16})$/m.exec(contents)?.[1] ?? '';
  const folder = await api('create-folder', contentsUrl, rootId, 'api_test_folder1', 'API Test Folder 1');
  const folderId = /^ {2}id: (F[0-9a-f]{16})$/m.exec(folder)?.[1] ?? '';
  const upload = await api('upload-dir', contentsUrl, folderId, 'bed', 'bed', 'hg19');
  return { listedFirst, created, libId, listed, shown, contentsUrl, contents, rootId, folder, folderId, upload };
}

/** Poll every `everyMs` until `check` returns a value other than undefined, or fail after `ms`. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, ms = 10_000, what = 'condition', everyMs = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A TCP port free on the loopback now (for a server a test starts in another process). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start the built CLI and keep it running (the daemon), with its output collected. */
export function spawnCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Why the built CLI cannot run as another user (uid 65534) here, or null when it can:
 * every directory above the checkout and above the node binary must be searchable by
 * others, and the node binary executable by them.
 */
export function whyNobodyCannotRun(): string | null {
  const checkout = path.resolve(path.dirname(CLI), '..', '..', '..');
  const blocked = (p: string): string | null => {
    for (let dir = p; ; dir = path.dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return dir;
      if (dir === path.dirname(dir)) return null;
    }
  };
  const dir = blocked(checkout) ?? blocked(path.dirname(process.execPath));
  if (dir !== null) return `${dir} is not searchable by other users, so the CLI cannot run as uid 65534`;
  if ((statSync(process.execPath).mode & 0o001) === 0) return `${process.execPath} is not executable by other users`;
  return null;
}

const DEFAULT_PORTS: Record<string, number> = { 'postgresql:': 5432, 'postgres:': 5432, 'http:': 80, 'https:': 443 };

/**
 * A TCP proxy on the loopback in front of a server (PostgreSQL, Galaxy): `down()` cuts every
 * connection and refuses new ones (the server is unreachable, as in an outage or a network cut),
 * `up()` listens again on the same port. `url(u)` is u with the proxy's host and port.
 */
export interface Proxy {
  url(target: string): string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = net.createServer((client) => {
      const upstream = net.connect(Number(t.port || DEFAULT_PORTS[t.protocol] || 0), t.hostname);
      sockets.add(client);
      sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const so of sockets) so.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    url(target) {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    down,
    up: listen,
    close: down,
  };
}
