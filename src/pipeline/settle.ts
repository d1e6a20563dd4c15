import { statSync } from 'node:fs';
import path from 'node:path';
import type { Clock, Timer } from '../clock.js';
import { unref } from '../clock.js';
import type { Provided } from './manifest-book.js';
import type { HashFunction } from './manifests.js';
import { gridPoint } from './grid.js';
import { relDirOf } from '../paths.js';
import { ArrivalRate } from './arrival-rate.js';
import { DueHeap } from './due-heap.js';

/**
 * Settling: a file is ready when its size and modification time have not
 * changed across two looks `settleMs` apart, or, with a ready marker, once the
 * marker exists in its directory. Every candidate is checked here, including
 * files found at start (chokidar's awaitWriteFinish skips those, and compares
 * size only). Memory is one small entry per file still settling.
 *
 * The looks are due times in one heap under one timer, taken in turns of at most
 * `LOOKS_PER_TURN` synchronous stats: a backlog of 20,000 files found in one walk is
 * looked at again in a few turns, without 20,000 timers, promises and thread-pool stats
 * alive at once (which made most of the garbage of a large backlog).
 */

/** A settled file, on its way to Galaxy. */
export interface ReadyFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** When the file became ready (for the ready → ok latency). */
  readyAt: number;
  /** Its checksum, taken once it settled ([upload] checksum); Galaxy verifies it in the job. */
  checksum?: { hashFunction: HashFunction; hex: string } | null;
  /** A provider's checksum list's digest of it (lists.ts): checked before it went, sent with it for Galaxy to check too. */
  provided?: Provided;
}

export interface Fingerprint {
  size: number;
  mtimeMs: number;
}

/** Stats taken in one turn of the event loop before the settler lets other work run. */
export const LOOKS_PER_TURN = 500;

/** A backlog's files (found by a walk, or let in by the window) due within this long (at most half the settle window) of their group's first are
 * ready together, never sooner than their own time: a walk slowed by a busy machine hands them on in lumps that start a burst (ready.ts). */
export const BACKLOG_GROUP_MS = 500;

/**
 * When a file still changing is called slow (file.unsettled, once): after ten settle windows, and
 * never before ten minutes, so a large file copied over a slow link at a short settle_seconds is
 * not reported while it is merely big.
 */
export function slowWriterMs(settleSeconds: number): number {
  return Math.max(10 * settleSeconds * 1000, 600_000);
}

/** Size and mtime of a path below `root`, or null when it is gone or not a regular file: a synchronous look, a few microseconds on a local file system. */
export function statFileSync(root: string, relPath: string): Fingerprint | null {
  let st;
  try {
    st = statSync(path.join(root, relPath), { throwIfNoEntry: false });
  } catch {
    return null; // ENOTDIR, EACCES on a directory above, a name that opens nothing
  }
  return st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : null;
}

export interface SettleDeps {
  settleMs: number;
  readyMarker: string | null;
  /** Current size and mtime of a relative path, or null when it is gone or not a regular file. */
  stat(relPath: string): Fingerprint | null;
  /** Whether the ready marker exists in the directory (relative, '' for the top). */
  markerExists(relDir: string): boolean;
  onReady(relPath: string, fp: Fingerprint): void;
  onGone(relPath: string): void;
  /** The file is settled as far as it can be and now waits for its directory's ready marker. */
  onWaiting?(relPath: string): void;
  /** Called once when a file is still changing after `slowMs` (a writer that never finishes). */
  onSlow?(relPath: string, changingForMs: number): void;
  slowMs?: number;
  /**
   * Ready looks on a grid of `ms` (unset: none) while fewer than `belowRate` files a second
   * begin to settle: files that become ready within one step are then ready together (grid.ts).
   * The rate is counted over the last one or two steps, so a burst leaves the grid within its
   * first step (its first `belowRate * ms / 1000` files).
   */
  grid?: { ms: number; belowRate: number };
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout' | 'setImmediate' | 'clearImmediate'>;
}

interface Entry {
  fp: Fingerprint;
  since: number;
  firstSeen: number;
  warned: boolean;
  /** The heap item that is this entry's next look; older items of the entry are stale. */
  seq: number;
}

export class Settler {
  readonly #deps: SettleDeps;
  readonly #clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout' | 'setImmediate' | 'clearImmediate'>;
  readonly #pending = new Map<string, Entry>();
  readonly #due = new DueHeap();
  /** Pending files that wait for nothing but their directory's ready marker (no look is due for them). */
  readonly #waiting = new Set<string>();
  #seq = 0;
  #timer: Timer | null = null;
  #timerAt = Infinity;
  /** Set while looks due now wait for the next turn. */
  #immediate: Timer | null = null;
  #held = false;
  #closed = false;
  /** Files that began to settle lately, counted over the grid's step. */
  readonly #arrivals: ArrivalRate;
  /** The first ready look of the current group of backlog files (BACKLOG_GROUP_MS). */
  #groupAt = -Infinity;

  constructor(deps: SettleDeps) {
    this.#deps = deps;
    this.#clock = deps.clock;
    this.#arrivals = new ArrivalRate(deps.grid?.ms ?? 1000);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Of `size`, the files that only wait for their directory's ready marker. */
  get waitingForMarker(): number {
    return this.#waiting.size;
  }

  has(relPath: string): boolean {
    return this.#pending.has(relPath);
  }

  /**
   * No looks until `task` settles or `maxMs` pass (the first walk: it has the event loop to
   * itself, so that daemon.ready comes when the tree is listed, not when the backlog's first
   * window is in Galaxy). Looks that fall due meanwhile are taken after it.
   */
  hold(task: Promise<unknown>, maxMs: number): void {
    this.#held = true;
    let timer: Timer | null = null;
    const release = (): void => {
      this.#clock.clearTimeout(timer);
      if (!this.#held) return;
      this.#held = false;
      this.#arm();
    };
    timer = unref(this.#clock.setTimeout(release, maxMs));
    void task.then(release, release);
  }

  /**
   * A hint that the file exists or changed: (re)start watching it settle. `seen`: its size and
   * mtime as stat'ed at `seenAt` (default now; the walk's stat, or a row of the ledger), which
   * counts as the first look, so that a backlog of 100,000 files is looked at again after
   * settle_seconds, not at once (without a ready marker, whose first look also asks for the marker).
   * `backlog`: found by a walk or let in by the window, it is looked at with its group (BACKLOG_GROUP_MS). */
  touch(relPath: string, seen?: Fingerprint, seenAt?: number, backlog = false): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    const entry = this.#pending.get(relPath);
    if (entry) {
      this.#schedule(relPath, entry, now);
      return;
    }
    const known = seen !== undefined && this.#deps.readyMarker === null;
    const since = known ? Math.min(now, seenAt ?? now) : now;
    const fresh: Entry = { fp: known ? { size: seen.size, mtimeMs: seen.mtimeMs } : { size: -1, mtimeMs: -1 }, since, firstSeen: since, warned: false, seq: 0 };
    this.#pending.set(relPath, fresh);
    this.#arrivals.arrived(now);
    this.#schedule(relPath, fresh, !known ? now : backlog ? this.#groupLookAt(since + this.#deps.settleMs, now) : this.#readyLookAt(since + this.#deps.settleMs, now));
  }

  /** A backlog file's first look, due `at`: due already, at once (after a group due within BACKLOG_GROUP_MS, in turn);
   * within the BACKLOG_GROUP_MS before its group's time, the group's; else a new group's, BACKLOG_GROUP_MS later. */
  #groupLookAt(at: number, now: number): number {
    const reach = Math.min(BACKLOG_GROUP_MS, this.#deps.settleMs / 2);
    if (at <= now) return this.#groupAt <= now + reach ? Math.max(at, this.#groupAt) : at;
    if (at > this.#groupAt || at < this.#groupAt - reach) this.#groupAt = at + reach;
    return this.#groupAt;
  }

  /** The file went away (unlink): stop tracking it. Returns whether it was pending. */
  forget(relPath: string): boolean {
    if (!this.#pending.delete(relPath)) return false;
    this.#waiting.delete(relPath);
    return true;
  }

  /** The ready marker appeared in a directory: look at its pending files now. */
  markerAppeared(relDir: string): void {
    const now = this.#clock.now();
    for (const [p, entry] of this.#pending) if (relDirOf(p) === relDir) this.#schedule(p, entry, now);
  }

  #schedule(relPath: string, entry: Entry, at: number): void {
    this.#waiting.delete(relPath);
    entry.seq = ++this.#seq;
    this.#due.push({ at, seq: entry.seq, path: relPath });
    this.#arm();
  }

  /** One timer, for the earliest look due. */
  #arm(): void {
    const next = this.#due.peek();
    if (next === undefined || this.#closed || this.#held || this.#immediate !== null) return;
    if (this.#timer !== null && this.#timerAt <= next.at) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = next.at;
    this.#timer = this.#clock.setTimeout(() => this.#run(), Math.max(0, next.at - this.#clock.now()));
  }

  /** The looks due now, up to LOOKS_PER_TURN; the rest at the next turn. */
  #run(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.#closed || this.#held) return;
    const now = this.#clock.now();
    const markers = new Map<string, boolean>();
    let looks = 0;
    for (let d = this.#due.peek(); d !== undefined && d.at <= now && looks < LOOKS_PER_TURN; d = this.#due.peek()) {
      this.#due.pop();
      const entry = this.#pending.get(d.path);
      if (entry === undefined || entry.seq !== d.seq) continue; // stale: forgotten, or looked at again since
      looks++;
      this.#check(d.path, entry, now, markers);
    }
    const next = this.#due.peek();
    if (looks >= LOOKS_PER_TURN && next !== undefined && next.at <= now) {
      // More are due: let I/O and the rest of the pipeline run first.
      this.#immediate = this.#clock.setImmediate(() => {
        this.#immediate = null;
        this.#run();
      });
    } else this.#arm();
  }

  #check(relPath: string, entry: Entry, now: number, markers: Map<string, boolean>): void {
    const fp = this.#deps.stat(relPath);
    if (fp === null) {
      this.#pending.delete(relPath);
      this.#deps.onGone(relPath);
      return;
    }
    const changed = fp.size !== entry.fp.size || fp.mtimeMs !== entry.fp.mtimeMs;
    if (changed) {
      entry.fp = fp;
      entry.since = now;
      const slowMs = this.#deps.slowMs;
      if (slowMs !== undefined && !entry.warned && now - entry.firstSeen >= slowMs) {
        entry.warned = true;
        this.#deps.onSlow?.(relPath, now - entry.firstSeen);
      }
    }
    if (this.#deps.readyMarker !== null) {
      // Declared readiness: the marker, not the clock, says the directory is complete.
      const dir = relDirOf(relPath);
      let marker = markers.get(dir);
      if (marker === undefined) markers.set(dir, (marker = this.#deps.markerExists(dir)));
      if (!marker) {
        // markerAppeared() or a later touch() looks again
        this.#waiting.add(relPath);
        this.#deps.onWaiting?.(relPath);
        return;
      }
      this.#pending.delete(relPath);
      this.#deps.onReady(relPath, fp);
      return;
    }
    if (!changed && now - entry.since >= this.#deps.settleMs) {
      this.#pending.delete(relPath);
      this.#deps.onReady(relPath, fp);
      return;
    }
    this.#schedule(relPath, entry, this.#readyLookAt(Math.max(now + 50, entry.since + this.#deps.settleMs), now));
  }

  /** When a look that can find the file ready is taken: `at`, or the grid's next point at low rates. */
  #readyLookAt(at: number, now: number): number {
    const grid = this.#deps.grid;
    return grid === undefined || this.#arrivals.perSecond(now) >= grid.belowRate ? at : gridPoint(at, grid.ms);
  }

  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#clock.clearImmediate(this.#immediate);
    this.#pending.clear();
    this.#waiting.clear();
    this.#due.clear();
  }
}
