import type { Stats } from 'node:fs';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { watch } from 'chokidar';

export interface WatchOptions {
  poll: boolean;
  /** Polling interval, when polling. */
  intervalMs: number;
  /** Leave this path out (and, for a file, do not hold a watch on it). */
  ignored(relPath: string, stats: Stats | undefined): boolean;
  onFile(relPath: string, event: 'add' | 'change' | 'unlink'): void;
  onDir(relPath: string, event: 'addDir' | 'unlinkDir'): void;
  onError(err: Error): void;
}

export interface TreeWatcher {
  ready: Promise<void>;
  /** Stop watching one file (it is done). */
  unwatch(relPath: string): void;
  close(): Promise<void>;
}

/**
 * chokidar behind a narrow interface: live events are hints that something
 * under the root changed; the walk and the settler decide what that means.
 * Files the ledger holds as done are ignored, so they cost no watch and no memory.
 */
export function watchTree(root: string, opts: WatchOptions): TreeWatcher {
  const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');
  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    persistent: true,
    followSymlinks: false,
    usePolling: opts.poll,
    interval: opts.intervalMs,
    binaryInterval: opts.intervalMs,
    atomic: false,
    ignored: (p: string, stats?: Stats) => p !== root && opts.ignored(rel(p), stats),
  });
  watcher.on('add', (p) => opts.onFile(rel(p), 'add'));
  watcher.on('change', (p) => opts.onFile(rel(p), 'change'));
  watcher.on('unlink', (p) => opts.onFile(rel(p), 'unlink'));
  watcher.on('addDir', (p) => {
    if (p !== root) opts.onDir(rel(p), 'addDir');
  });
  watcher.on('unlinkDir', (p) => opts.onDir(rel(p), 'unlinkDir'));
  // Without an 'error' listener an EventEmitter throws and the daemon dies (chokidar 5 reports ENOSPC and EACCES here).
  watcher.on('error', (err) => opts.onError(err instanceof Error ? err : new Error(String(err))));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    unwatch: (relPath) => watcher.unwatch(path.join(root, relPath)),
    close: () => watcher.close(),
  };
}
