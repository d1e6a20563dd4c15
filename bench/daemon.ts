/** The daemon as the benchmarks run it: `galaxy-importd run` in a child process, its log lines parsed. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
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
  /** Resolves with the exit code when the process has ended (a `scan` ends by itself). */
  exited: Promise<number | null>;
}

/**
 * Write the config (sections as INI text) and start the daemon on it. Its log goes to a file
 * in `root` (as to journald, a writer that keeps up), read back every 25 ms: a pipe to this
 * process, busy being the emulator, would fill and block the daemon's log writes, and the
 * benchmark would measure the pipe.
 */
/** $GALAXY_IMPORTD_BENCH_CHECKSUM: the daemon's [upload] checksum in a run (default: its own default), to measure what checksums cost. */
const CHECKSUM = process.env.GALAXY_IMPORTD_BENCH_CHECKSUM;

export function startBenchDaemon(opts: { root: string; ini: string; apiKey: string; env?: Record<string, string>; cli?: string; nodeArgs?: string[]; command?: 'run' | 'scan' }): BenchDaemon {
  const config = path.join(opts.root, 'galaxy-importd.ini');
  writeFileSync(config, opts.ini);
  const logFile = path.join(opts.root, `daemon-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const out = openSync(logFile, 'w');
  const nodeArgs = opts.nodeArgs ?? process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, opts.cli ?? cli, '--config', config, opts.command ?? 'run'], {
    env: { PATH: process.env.PATH ?? '', GALAXY_API_KEY: opts.apiKey, ...opts.env },
    stdio: ['ignore', out, 'inherit'],
  });
  closeSync(out);
  const listeners: ((line: BenchLine) => void)[] = [];
  const input = openSync(logFile, 'r');
  const chunk = Buffer.alloc(1 << 20);
  const decoder = new StringDecoder('utf8');
  let offset = 0;
  let buffer = '';
  let tail = '';
  let onReady = (): void => undefined;
  const read = (): void => {
    for (let n; (n = readSync(input, chunk, 0, chunk.length, offset)) > 0; offset += n) {
      buffer += decoder.write(chunk.subarray(0, n));
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        tail = text;
        if (text.includes('"event":"daemon.ready"')) onReady();
        // Lines are parsed only for a benchmark that reads them.
        if (listeners.length === 0 || !text.includes('"event"')) continue;
        const raw = JSON.parse(text) as Record<string, unknown>;
        const line: BenchLine = { ...raw, time: Date.parse(String(raw.time)) };
        for (const fn of listeners) fn(line);
      }
    }
  };
  const reader = setInterval(read, 25);
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => {
    clearInterval(reader);
    read();
    closeSync(input);
    resolve(code);
  }));
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    void closed.then((code) => reject(new Error(`the daemon exited ${code}: ${tail}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    pid: child.pid ?? 0,
    ready,
    onLine: (fn) => void listeners.push(fn),
    exited: closed,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return closed;
    },
  };
}

/** INI text for a benchmark daemon: throttling off, settle 1 s, no HTTP server, no rescans unless asked. */
export function benchIni(url: string, importDir: string, stateDir: string, o: { rescanMinutes?: number; batchSize?: number; state?: Record<string, string>; checksum?: string } = {}): string {
  const state = Object.entries(o.state ?? {}).map(([k, v]) => `${k} = ${v}\n`).join('');
  const checksum = o.checksum ?? CHECKSUM;
  return `[galaxy]\nurl = ${url}\n[import]\ndir = ${importDir}\nsettle_seconds = 1\nrescan_minutes = ${o.rescanMinutes ?? 0}\n[upload]\nrate_per_second = 0\nbatch_size = ${o.batchSize ?? 100}\nconcurrency = 4\n${checksum !== undefined ? `checksum = ${checksum}\n` : ''}[state]\ndir = ${stateDir}\n${state}[http]\nlisten =\n[log]\nlevel = info\n`;
}

/** `count` small files spread over `dirs` directories (run00, run01, …) of the import directory. */
export function writeFiles(importDir: string, count: number, dirs: number, text: (i: number) => string): void {
  for (let i = 0; i < count; i++) {
    const dir = path.join(importDir, `run${String(i % dirs).padStart(2, '0')}`);
    if (i < dirs) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.txt`), text(i));
  }
}
