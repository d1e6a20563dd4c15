/** galaxy-importd and the baselines behind one interface, each in its own process. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Emulator } from '../emulator/server.js';
import type { BenchLine } from './daemon.js';
import { benchIni, startBenchDaemon } from './daemon.js';

export type System = 'galaxy-importd' | 'poll' | 'chokidar' | 'bare';
export const SYSTEMS: System[] = ['galaxy-importd', 'poll', 'chokidar'];
export const LABEL: Record<System, string> = {
  'galaxy-importd': 'galaxy-importd',
  poll: 'example_watch_folder.py algorithm',
  chokidar: 'plain chokidar',
  bare: 'one bare request per file (the floor)',
};

export interface Running {
  pid: number;
  ready: Promise<void>;
  /** A file's upload request is about to be sent: `file` relative to the import directory. */
  onSubmitted: (fn: (file: string, time: number) => void) => void;
  stop: () => Promise<void>;
}

const baselines = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'baselines.js');

export function startSystem(system: System, o: { root: string; importDir: string; stateDir: string; emu: Emulator; upload?: boolean; cli?: string; checksum?: string }): Running {
  if (system === 'galaxy-importd') {
    const ini = benchIni(o.emu.url, o.importDir, o.stateDir, o.checksum !== undefined ? { checksum: o.checksum } : {});
    const d = startBenchDaemon({ root: o.root, ini, apiKey: o.emu.adminKey, ...(o.cli !== undefined ? { cli: o.cli } : {}) });
    return {
      pid: d.pid,
      ready: d.ready,
      onSubmitted: (fn) => d.onLine((l) => {
        if (l.event === 'upload.submitted' && l.file) fn(l.file, l.time);
      }),
      stop: async () => void (await d.stop()),
    };
  }
  const child = spawn(process.execPath, [baselines, system, o.importDir, o.emu.url, ...(o.upload === false ? ['--no-upload'] : [])], {
    env: { PATH: process.env.PATH ?? '', GALAXY_API_KEY: o.emu.adminKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listeners: ((l: BenchLine) => void)[] = [];
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const l = JSON.parse(buffer.slice(0, nl)) as BenchLine;
      buffer = buffer.slice(nl + 1);
      for (const fn of listeners) fn(l);
    }
  });
  const ready = new Promise<void>((resolve, reject) => {
    listeners.push((l) => {
      if (l.event === 'ready') resolve();
    });
    child.on('exit', (code) => reject(new Error(`baseline ${system} exited ${code}`)));
  });
  ready.catch(() => undefined);
  return {
    pid: child.pid ?? 0,
    ready,
    onSubmitted: (fn) => void listeners.push((l) => {
      if (l.event === 'submitted' && l.file) fn(l.file, l.time);
    }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}
