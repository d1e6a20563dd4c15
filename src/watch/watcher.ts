import type { FSWatcher as NodeWatcher, Stats } from 'node:fs';
import { watch as watchDir } from 'node:fs';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { watch } from 'chokidar';

export interface WatchOptions {
  poll: boolean;
  /** Polling interval, when polling. */
  intervalMs: number;
  /** Leave this file out (and hold no watch on it). */
  ignored(relPath: string, stats: Stats | undefined): boolean;
  onFile(relPath: string, event: 'add' | 'change' | 'unlink'): void;
  onDir(relPath: string, event: 'addDir' | 'unlinkDir'): void;
  onError(err: Error): void;
}

export interface TreeWatcher {
  /** Watch one directory's own entries; resolves once the watch is in place. */
  addDir(relDir: string): Promise<void>;
  /** Stop watching a directory and everything below it (it was deleted). */
  removeDir(relDir: string): Promise<void>;
  /** Stop watching one file (it is done). */
  unwatch(relPath: string): void;
  /** Directories watched. */
  readonly size: number;
  close(): Promise<void>;
}

/**
 * chokidar behind a narrow interface, one watcher per directory (`depth: 0`).
 * A watcher over the whole tree stats every file when it starts and holds the
 * garbage of 100,000 stats at once (≈400 MB measured, bench/RESULTS.md);
 * per-directory watchers started one after another keep that to one
 * directory's worth, and files the ledger holds as done hold no watch.
 * Live events are hints: the walk and the settler decide what they mean.
 */
export function createTreeWatcher(root: string, opts: WatchOptions): TreeWatcher {
  const watchers = new Map<string, FSWatcher>();
  // chokidar learns of a new file by listing its directory again, at most once a second per
  // directory (and stats every entry of it). inotify already names the file: this watch on the
  // same directory (the same inotify watch, shared by libuv) passes the name on at once.
  const hints = new Map<string, NodeWatcher>();
  const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');
  const within = (relDir: string, p: string): boolean => relDir === '' || p === relDir || p.startsWith(`${relDir}/`);

  const addDir = async (relDir: string): Promise<void> => {
    if (watchers.has(relDir)) return;
    const abs = relDir === '' ? root : path.join(root, relDir);
    const w = watch(abs, {
      depth: 0,
      ignoreInitial: true,
      persistent: true,
      followSymlinks: false,
      usePolling: opts.poll,
      interval: opts.intervalMs,
      binaryInterval: opts.intervalMs,
      atomic: false,
      ignored: (p: string, stats?: Stats) => {
        if (p === abs) return false;
        // Subdirectories get watchers of their own.
        if (stats?.isDirectory()) return false;
        return opts.ignored(rel(p), stats);
      },
    });
    watchers.set(relDir, w);
    w.on('add', (p) => opts.onFile(rel(p), 'add'));
    w.on('change', (p) => opts.onFile(rel(p), 'change'));
    w.on('unlink', (p) => opts.onFile(rel(p), 'unlink'));
    w.on('addDir', (p) => {
      if (p !== abs) opts.onDir(rel(p), 'addDir');
    });
    w.on('unlinkDir', (p) => opts.onDir(rel(p), 'unlinkDir'));
    // Without an 'error' listener an EventEmitter throws and the daemon dies (chokidar 5 reports ENOSPC and EACCES here).
    w.on('error', (err) => opts.onError(err instanceof Error ? err : new Error(String(err))));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    if (!opts.poll && watchers.get(relDir) === w) {
      try {
        const hint = watchDir(abs, { persistent: false }, (_type, name) => {
          if (typeof name === 'string' && name !== '' && !name.includes('/')) opts.onFile(rel(path.join(abs, name)), 'change');
        });
        hint.on('error', () => hint.close()); // the directory went away; chokidar reports it
        hints.set(relDir, hint);
      } catch {
        // chokidar's own watch stands; only the early hint is lost
      }
    }
  };
  const closeHint = (relDir: string): void => {
    hints.get(relDir)?.close();
    hints.delete(relDir);
  };

  return {
    addDir,
    async removeDir(relDir) {
      const gone = [...watchers.keys()].filter((d) => within(relDir, d));
      for (const d of gone) {
        const w = watchers.get(d);
        watchers.delete(d);
        closeHint(d);
        await w?.close();
      }
    },
    unwatch(relPath) {
      const i = relPath.lastIndexOf('/');
      watchers.get(i < 0 ? '' : relPath.slice(0, i))?.unwatch(path.join(root, relPath));
    },
    get size() {
      return watchers.size;
    },
    async close() {
      const all = [...watchers.values()];
      watchers.clear();
      for (const d of [...hints.keys()]) closeHint(d);
      await Promise.all(all.map((w) => w.close()));
    },
  };
}
