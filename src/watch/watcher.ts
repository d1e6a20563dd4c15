import type { FSWatcher as NodeWatcher, Stats } from 'node:fs';
import { lstatSync, watch as watchDir } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import { watch } from 'chokidar';
import type { Clock, Timer } from '../clock.js';
import { breather, unref } from '../clock.js';
import { relDirOf } from '../paths.js';

export interface WatchOptions {
  clock: Pick<Clock, 'now' | 'yieldTurn' | 'setTimeout' | 'clearTimeout'>;
  poll: boolean;
  /** Polling interval, when polling. */
  intervalMs: number;
  /** Leave this file out (and hold no watch on it). */
  ignored(relPath: string, stats: Stats | undefined): boolean;
  /** `stats`: the entry's lstat, when the watcher took one (inotify): the receiver need not take it again. */
  onFile(relPath: string, event: 'add' | 'change' | 'unlink', stats?: Stats): void;
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
 * The tree watcher: one watch per directory, never per file, started one directory after
 * another as the walk goes. With inotify (the default) each directory has an `fs.watch`,
 * whose events name the entry that changed; with `poll` (NFS, CIFS) chokidar polls.
 * Live events are hints: the walk and the settler decide what they mean.
 */
export function createTreeWatcher(root: string, opts: WatchOptions): TreeWatcher {
  return opts.poll ? createPollingWatcher(root, opts) : createInotifyWatcher(root, opts);
}

/** File times and this host's clock may differ by this much (a network file system's server); Galaxy's clocks have their own slack (galaxy/folder-pages.ts). */
const FILE_TIME_SLACK_MS = 2000;

const relOf = (root: string, p: string): string => path.relative(root, p).split(path.sep).join('/');
const within = (relDir: string, p: string): boolean => relDir === '' || p === relDir || p.startsWith(`${relDir}/`);

/**
 * inotify through `fs.watch`, one per directory. chokidar in this mode lists a directory again
 * (a stat per entry) on each of its events, at most once a second, and watches every file it
 * is not told to ignore; an inotify event already names the entry, so one lstat of that entry
 * says what happened. Events are gathered for 20 ms, so a file written in many chunks costs
 * one lstat per 20 ms, not one per write.
 */
function createInotifyWatcher(root: string, opts: WatchOptions): TreeWatcher {
  const watchers = new Map<string, NodeWatcher>();
  const pending = new Set<string>();
  let timer: Timer | null = null;
  let closed = false;

  // A synchronous lstat, as the walk's and the settle looks' stats: a few microseconds on a local
  // file system, where a promise and a thread-pool round trip cost ten times that per event.
  const look = (relPath: string): void => {
    let st: Stats;
    try {
      st = lstatSync(path.join(root, relPath));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return; // unreadable: the walk reports it
      if (watchers.has(relPath)) opts.onDir(relPath, 'unlinkDir');
      else opts.onFile(relPath, 'unlink');
      return;
    }
    if (st.isDirectory()) {
      if (!watchers.has(relPath) && !opts.ignored(relPath, undefined)) opts.onDir(relPath, 'addDir');
      return;
    }
    if (opts.ignored(relPath, st)) return;
    opts.onFile(relPath, 'change', st);
  };

  const flush = (): void => {
    timer = null;
    const paths = [...pending];
    pending.clear();
    for (const p of paths) look(p);
  };

  const removeDir = (relDir: string): void => {
    for (const [d, w] of [...watchers]) {
      if (!within(relDir, d)) continue;
      watchers.delete(d);
      w.close();
    }
  };

  return {
    addDir(relDir) {
      if (closed || watchers.has(relDir)) return Promise.resolve();
      const abs = relDir === '' ? root : path.join(root, relDir);
      let w: NodeWatcher;
      try {
        w = watchDir(abs, { persistent: true }, (_type, name) => {
          if (typeof name !== 'string' || name === '' || closed) return;
          pending.add(relDir === '' ? name : `${relDir}/${name}`);
          timer ??= opts.clock.setTimeout(flush, 20);
        });
      } catch (err) {
        // ENOSPC (out of inotify watches), EACCES, or the directory is already gone.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError(err as Error);
        return Promise.resolve();
      }
      // An error here means the directory went away; its parent's watch reports that.
      w.on('error', () => {
        if (watchers.get(relDir) === w) watchers.delete(relDir);
        w.close();
      });
      watchers.set(relDir, w);
      return Promise.resolve();
    },
    removeDir(relDir) {
      removeDir(relDir);
      return Promise.resolve();
    },
    unwatch() {
      // No file has a watch of its own.
    },
    get size() {
      return watchers.size;
    },
    close() {
      closed = true;
      opts.clock.clearTimeout(timer);
      removeDir('');
      return Promise.resolve();
    },
  };
}

/**
 * chokidar polling (`[import] poll`, for NFS and CIFS, where inotify sees no changes made by
 * other hosts), one watcher per directory (`depth: 0`): a watcher over the whole tree stats
 * every file when it starts and holds the garbage of 100,000 stats at once (≈400 MB measured,
 * bench/RESULTS.md); files the ledger holds as done are not polled.
 */
function createPollingWatcher(root: string, opts: WatchOptions): TreeWatcher {
  const watchers = new Map<string, FSWatcher>();
  /** Each new watch's one look a poll later (below). */
  const looks = new Map<string, Timer>();
  const rel = (p: string): string => relOf(root, p);

  const addDir = async (relDir: string): Promise<void> => {
    if (watchers.has(relDir)) return;
    const began = opts.clock.now();
    const abs = relDir === '' ? root : path.join(root, relDir);
    const w = watch(abs, {
      depth: 0,
      ignoreInitial: true,
      persistent: true,
      followSymlinks: false,
      usePolling: true,
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
    // chokidar polls the directory's own stat against one taken after it listed the directory,
    // and that stat can come late (Node's thread pool busy at start): an entry made in between
    // was seen by neither, until the next rescan. One look a poll later, once the watch is surely
    // comparing, reports what chokidar does not hold and was made since this watch began (what
    // is older, the walk that follows this watch listed).
    looks.set(relDir, unref(opts.clock.setTimeout(() => void lookAgain(relDir, abs, w, began), opts.intervalMs + 100)));
  };

  const lookAgain = async (relDir: string, abs: string, w: FSWatcher, since: number): Promise<void> => {
    looks.delete(relDir);
    if (watchers.get(relDir) !== w) return;
    const held = new Set(w.getWatched()[abs] ?? []);
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      return; // gone, or unreadable: the watcher and the rescans say so
    }
    const breathe = breather(opts.clock);
    for (const e of entries) {
      if (held.has(e.name)) continue;
      // Synchronous, as the walk's: a directory of done files costs a stat each, and no promise.
      const st = lstatSync(path.join(abs, e.name), { throwIfNoEntry: false });
      if (!st || Math.max(st.ctimeMs, st.mtimeMs) < since - FILE_TIME_SLACK_MS || watchers.get(relDir) !== w) continue;
      const entry = relDir === '' ? e.name : `${relDir}/${e.name}`;
      if (st.isDirectory()) opts.onDir(entry, 'addDir');
      else opts.onFile(entry, 'add');
      await breathe();
    }
  };

  return {
    addDir,
    async removeDir(relDir) {
      const gone = [...watchers.keys()].filter((d) => within(relDir, d));
      for (const d of gone) {
        const w = watchers.get(d);
        watchers.delete(d);
        opts.clock.clearTimeout(looks.get(d));
        looks.delete(d);
        await w?.close();
      }
    },
    unwatch(relPath) {
      watchers.get(relDirOf(relPath))?.unwatch(path.join(root, relPath));
    },
    get size() {
      return watchers.size;
    },
    async close() {
      const all = [...watchers.values()];
      watchers.clear();
      for (const t of looks.values()) opts.clock.clearTimeout(t);
      looks.clear();
      await Promise.all(all.map((w) => w.close()));
    },
  };
}
