/** The daemon as the benchmarks run it: `galaxy-importd run` in a child process, its log lines parsed. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

export interface BenchLine {
  event?: string;
  file?: string;
  time: number;
  [key: string]: unknown;
}

export interface BenchDaemon {
  child: ChildProcess;
  pid: number;
  /** Resolves at the daemon.ready line. */
  ready: Promise<void>;
  /** Called for each log line with an event. */
  onLine: (fn: (line: BenchLine) => void) => void;
  /** SIGTERM, then wait for the exit. */
  stop: () => Promise<number | null>;
}

/** Write the config (sections as INI text) and start the daemon on it. */
export function startBenchDaemon(opts: { root: string; ini: string; apiKey: string; env?: Record<string, string>; cli?: string; nodeArgs?: string[] }): BenchDaemon {
  const config = path.join(opts.root, 'galaxy-importd.ini');
  writeFileSync(config, opts.ini);
  const nodeArgs = opts.nodeArgs ?? process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, opts.cli ?? cli, '--config', config, 'run'], {
    env: { PATH: process.env.PATH ?? '', GALAXY_API_KEY: opts.apiKey, ...opts.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listeners: ((line: BenchLine) => void)[] = [];
  let buffer = '';
  let tail = '';
  const ready = new Promise<void>((resolve, reject) => {
    listeners.push((l) => {
      if (l.event === 'daemon.ready') resolve();
    });
    child.on('exit', (code) => reject(new Error(`the daemon exited ${code}: ${tail}`)));
  });
  ready.catch(() => undefined);
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      tail = text;
      if (!text.includes('"event"')) continue;
      const raw = JSON.parse(text) as Record<string, unknown>;
      const line: BenchLine = { ...raw, time: Date.parse(String(raw.time)) };
      for (const fn of listeners) fn(line);
    }
  });
  return {
    child,
    pid: child.pid ?? 0,
    ready,
    onLine: (fn) => void listeners.push(fn),
    stop: () => {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      const done = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
      child.kill('SIGTERM');
      return done;
    },
  };
}

/** INI text for a benchmark daemon: throttling off, settle 1 s, no HTTP server, no rescans unless asked. */
export function benchIni(url: string, importDir: string, stateDir: string, o: { rescanMinutes?: number; batchSize?: number; state?: Record<string, string> } = {}): string {
  const state = Object.entries(o.state ?? {}).map(([k, v]) => `${k} = ${v}\n`).join('');
  return `[galaxy]\nurl = ${url}\n[import]\ndir = ${importDir}\nsettle_seconds = 1\nrescan_minutes = ${o.rescanMinutes ?? 0}\n[upload]\nrate_per_second = 0\nbatch_size = ${o.batchSize ?? 100}\nconcurrency = 4\n[state]\ndir = ${stateDir}\n${state}[http]\nlisten =\n[log]\nlevel = info\n`;
}

/** `count` small files spread over `dirs` directories (run00, run01, …) of the import directory. */
export function writeFiles(importDir: string, count: number, dirs: number, text: (i: number) => string): void {
  for (let i = 0; i < count; i++) {
    const dir = path.join(importDir, `run${String(i % dirs).padStart(2, '0')}`);
    if (i < dirs) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.txt`), text(i));
  }
}
