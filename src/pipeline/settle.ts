import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Clock, Timer } from '../clock.js';
import { systemClock } from '../clock.js';

/**
 * Settling: a file is ready when its size and modification time have not
 * changed across two looks `settleMs` apart, or, with a ready marker, once the
 * marker exists in its directory. Every candidate is checked here, including
 * files found at start (chokidar's awaitWriteFinish skips those, and compares
 * size only). Memory is one small entry per file still settling.
 */

export interface Fingerprint {
  size: number;
  mtimeMs: number;
}

/**
 * When a file still changing is called slow (file.unsettled, once): after ten settle windows, and
 * never before ten minutes, so a large file copied over a slow link at a short settle_seconds is
 * not reported while it is merely big.
 */
export function slowWriterMs(settleSeconds: number): number {
  return Math.max(10 * settleSeconds * 1000, 600_000);
}

/** Size and mtime of a path below `root`, or null when it is gone or not a regular file. */
export async function statFile(root: string, relPath: string): Promise<Fingerprint | null> {
  const st = await fsp.stat(path.join(root, relPath)).catch(() => null);
  return st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : null;
}

export interface SettleDeps {
  settleMs: number;
  readyMarker: string | null;
  /** Current size and mtime of a relative path, or null when it is gone or not a regular file. */
  stat(relPath: string): Promise<Fingerprint | null>;
  /** Whether the ready marker exists in the directory (relative, '' for the top). */
  markerExists(relDir: string): Promise<boolean>;
  onReady(relPath: string, fp: Fingerprint): void;
  onGone(relPath: string): void;
  /** The file is settled as far as it can be and now waits for its directory's ready marker. */
  onWaiting?(relPath: string): void;
  /** Called once when a file is still changing after `slowMs` (a writer that never finishes). */
  onSlow?(relPath: string, changingForMs: number): void;
  slowMs?: number;
  clock?: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
}

interface Entry {
  fp: Fingerprint;
  since: number;
  firstSeen: number;
  warned: boolean;
  timer: Timer | null;
  checking: boolean;
  again: boolean;
}

const dirOf = (relPath: string): string => {
  const i = relPath.lastIndexOf('/');
  return i < 0 ? '' : relPath.slice(0, i);
};

export class Settler {
  readonly #deps: SettleDeps;
  readonly #clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  readonly #pending = new Map<string, Entry>();
  /** Pending files that wait for nothing but their directory's ready marker. */
  readonly #waiting = new Set<string>();
  #closed = false;

  constructor(deps: SettleDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Of `size`, the files that only wait for their directory's ready marker (no timer runs for them). */
  get waitingForMarker(): number {
    return this.#waiting.size;
  }

  has(relPath: string): boolean {
    return this.#pending.has(relPath);
  }

  /**
   * A hint that the file exists or changed: (re)start watching it settle. `seen`: its size and
   * mtime as just stat'ed (the walk's), which counts as the first look, so that a backlog of
   * 100,000 files is looked at again after settle_seconds, not at once (without a ready marker,
   * whose first look also asks for the marker).
   */
  touch(relPath: string, seen?: Fingerprint): void {
    if (this.#closed) return;
    const entry = this.#pending.get(relPath);
    if (entry) {
      if (entry.checking) entry.again = true;
      else this.#schedule(relPath, entry, 0);
      return;
    }
    const now = this.#clock.now();
    const known = seen !== undefined && this.#deps.readyMarker === null;
    const fresh: Entry = { fp: known ? { size: seen.size, mtimeMs: seen.mtimeMs } : { size: -1, mtimeMs: -1 }, since: now, firstSeen: now, warned: false, timer: null, checking: false, again: false };
    this.#pending.set(relPath, fresh);
    this.#schedule(relPath, fresh, known ? this.#deps.settleMs : 0);
  }

  /** The file went away (unlink): stop tracking it. Returns whether it was pending. */
  forget(relPath: string): boolean {
    const entry = this.#pending.get(relPath);
    if (!entry) return false;
    this.#clock.clearTimeout(entry.timer);
    this.#pending.delete(relPath);
    this.#waiting.delete(relPath);
    return true;
  }

  /** The ready marker appeared in a directory: look at its pending files now. */
  markerAppeared(relDir: string): void {
    for (const [p, entry] of this.#pending) if (dirOf(p) === relDir) this.#schedule(p, entry, 0);
  }

  #schedule(relPath: string, entry: Entry, delayMs: number): void {
    this.#waiting.delete(relPath);
    this.#clock.clearTimeout(entry.timer);
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = null;
      void this.#check(relPath, entry);
    }, delayMs);
  }

  async #check(relPath: string, entry: Entry): Promise<void> {
    if (this.#closed || this.#pending.get(relPath) !== entry) return;
    entry.checking = true;
    entry.again = false;
    let fp: Fingerprint | null;
    let marker = false;
    try {
      fp = await this.#deps.stat(relPath);
      if (fp && this.#deps.readyMarker !== null) marker = await this.#deps.markerExists(dirOf(relPath));
    } finally {
      entry.checking = false;
    }
    if (this.#closed || this.#pending.get(relPath) !== entry) return;
    if (fp === null) {
      this.#pending.delete(relPath);
      this.#deps.onGone(relPath);
      return;
    }
    const now = this.#clock.now();
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
      if (!marker) {
        // markerAppeared() or a later touch() looks again
        this.#waiting.add(relPath);
        this.#deps.onWaiting?.(relPath);
        return;
      }
      if (!entry.again) {
        this.#pending.delete(relPath);
        this.#deps.onReady(relPath, fp);
        return;
      }
    } else if (!changed && !entry.again && now - entry.since >= this.#deps.settleMs) {
      this.#pending.delete(relPath);
      this.#deps.onReady(relPath, fp);
      return;
    }
    this.#schedule(relPath, entry, entry.again ? 0 : Math.max(50, entry.since + this.#deps.settleMs - now));
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#pending.values()) this.#clock.clearTimeout(entry.timer);
    this.#pending.clear();
    this.#waiting.clear();
  }
}
