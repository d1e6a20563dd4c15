import path from 'node:path';
import type { Stats } from 'node:fs';
import type { Clock, Timer } from '../clock.js';
import { unref } from '../clock.js';
import type { Emit } from '../observe/events.js';
import type { EntryKind } from './walk.js';
import { walk } from './walk.js';
import type { TreeWatcher, WatchOptions } from './watcher.js';

/**
 * discovery: the walk at start, the watcher, and the rescans (timer and SIGHUP), handing
 * every path they find to admission. One walk runs at a time; a rescan asked for meanwhile
 * joins it.
 */

export interface DiscoveryTarget {
  walked(relPath: string, kind: EntryKind, initial: boolean, seen?: string): Promise<void> | undefined;
  consider(relPath: string, initial: boolean, kind?: EntryKind | null, seenLstat?: Stats, walked?: boolean): Promise<void>;
  gone(relPath: string): void;
  skipDir(relPath: string): boolean;
  ignored(relPath: string, stats: Stats | undefined): boolean;
  /** Files recorded as waiting for their turn (the window was full), since the start. */
  readonly deferred: number;
}

export interface DiscoveryDeps {
  importDir: string;
  admit: DiscoveryTarget;
  /** Makes the watcher (watch/watcher.ts's createTreeWatcher, or a fake). */
  watch(options: Omit<WatchOptions, 'poll' | 'intervalMs'>): TreeWatcher;
  rescanMinutes: number;
  clock: Clock;
  emit: Emit;
  /** Called when a walk ends (idle). */
  walked?: () => void;
}

/** Files looked at concurrently by a walk: 100,000 files must not queue 100,000 stats. */
const WALK_WIDTH = 64;

export class Discovery {
  readonly #d: DiscoveryDeps;
  #watcher: TreeWatcher | null = null;
  #walking: Promise<void> | null = null;
  #rescanTimer: Timer | null = null;
  /** Files the watcher just found done, for the walk of their directory (emptied as the walk goes). */
  readonly #knownDone = new Map<string, string>();
  #closed = false;

  constructor(deps: DiscoveryDeps) {
    this.#d = deps;
  }

  /** A walk is running. */
  get walking(): Promise<void> | null {
    return this.#walking;
  }

  /** Watch (with `watch`), walk the tree, then (with `watch`) rescan every rescan_minutes. */
  async start(watch: boolean): Promise<void> {
    if (watch) this.#watcher = this.#d.watch(this.#watchOptions());
    await this.walk(true);
    if (watch && this.#d.rescanMinutes > 0 && !this.#closed) {
      this.#rescanTimer = unref(this.#d.clock.setInterval(() => void this.walk(false), this.#d.rescanMinutes * 60_000));
    }
  }

  /** Walk the whole tree (at start, a rescan). */
  walk(initial: boolean): Promise<void> {
    this.#walking ??= this.#walk(initial).finally(() => {
      this.#knownDone.clear();
      this.#walking = null;
      this.#d.walked?.();
    });
    return this.#walking;
  }

  /** The file needs no more watching (uploaded). */
  unwatch(relPath: string): void {
    this.#watcher?.unwatch(relPath);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#d.clock.clearInterval(this.#rescanTimer);
    await this.#watcher?.close();
  }

  async #walk(initial: boolean): Promise<void> {
    const started = this.#d.clock.now();
    const deferredBefore = this.#d.admit.deferred;
    const pending = new Set<Promise<void>>();
    const watcher = this.#watcher;
    const result = await walk(this.#d.importDir, {
      onEntry: (relPath, kind) => {
        const seen = this.#knownDone.get(relPath);
        if (seen !== undefined) this.#knownDone.delete(relPath);
        const looking = this.#d.admit.walked(relPath, kind, initial, seen);
        if (!looking) return undefined;
        const p = looking.finally(() => pending.delete(p));
        pending.add(p);
        return pending.size >= WALK_WIDTH ? Promise.race(pending) : undefined;
      },
      ...(watcher ? { onDir: (relDir: string) => watcher.addDir(relDir) } : {}),
      onError: (relPath, err) => this.#d.emit({ type: 'watch.error', file: relPath, err: err.code ?? err.message }),
      skipDir: (relPath) => this.#d.admit.skipDir(relPath),
    }, this.#d.clock);
    await Promise.all(pending);
    this.#d.emit({ type: 'daemon.walk', initial, files: result.files, dirs: result.dirs, waiting: this.#d.admit.deferred - deferredBefore, duration_ms: this.#d.clock.now() - started });
  }

  /** A directory created or moved in: watch it (and what is below it), then look at its files (a backlog: they settle in groups, settle.ts). */
  async #walkSub(relDir: string): Promise<void> {
    if (this.#d.admit.skipDir(relDir)) return;
    const watcher = this.#watcher;
    await walk(path.join(this.#d.importDir, relDir), {
      onEntry: (p) => void this.#d.admit.consider(`${relDir}/${p}`, false, null, undefined, true),
      onError: () => undefined,
      skipDir: (p) => this.#d.admit.skipDir(`${relDir}/${p}`),
      ...(watcher ? { onDir: (p: string) => watcher.addDir(p === '' ? relDir : `${relDir}/${p}`) } : {}),
    }, this.#d.clock);
  }

  #watchOptions(): Omit<WatchOptions, 'poll' | 'intervalMs'> {
    return {
      clock: this.#d.clock,
      ignored: (relPath, stats) => {
        const ignored = this.#d.admit.ignored(relPath, stats);
        // The walk lists this directory next: it can skip the same look-up (100,000 of them at start).
        if (ignored && stats?.isFile() && this.#walking !== null) this.#knownDone.set(relPath, `${stats.size}:${stats.mtimeMs}`);
        return ignored;
      },
      onFile: (relPath, event, stats) => {
        if (event === 'unlink') this.#d.admit.gone(relPath);
        else void this.#d.admit.consider(relPath, false, null, stats);
      },
      onDir: (relPath, event) => {
        if (event === 'addDir') void this.#walkSub(relPath);
        else void this.#watcher?.removeDir(relPath);
      },
      onError: (err) => this.#d.emit({ type: 'watch.error', err: err.message, code: (err as NodeJS.ErrnoException).code }),
    };
  }
}
