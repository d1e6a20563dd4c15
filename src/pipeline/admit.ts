import { accessSync, constants as fsc, existsSync, promises as fsp, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { FileRecord, FileState, Ledger } from '../ledger/ledger.js';
import { DONE_STATES } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { EntryKind } from '../watch/walk.js';
import type { Files, ReadyFile } from './files.js';
import type { Route } from './route.js';
import type { Fingerprint } from './settle.js';
import { Settler } from './settle.js';
import { relDirOf } from '../paths.js';

/**
 * admit: decide what a discovered path is. Name rules, symlinks (never out of the import
 * directory), file type, the ledger (done with the same fingerprint: nothing to do), the
 * first start's backlog and undecodable names are decided here, before settling; readability
 * and the claim (several replicas) once the file has settled. Then it is routed and queued.
 */

/**
 * Name rules: which paths are never imported. Patterns use * and ? and match
 * whole path components, so `.*` also covers hidden directories and rsync's
 * `.name.XXXXXX` temporaries.
 */
export function compileIgnore(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  // One expression for all patterns: a walk tests 100,000 names.
  const re = new RegExp(`^(?:${patterns.map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')).join('|')})$`, 's');
  return (name) => re.test(name);
}

/** Why a relative path is never imported, or null when it may be. */
export function ignoredReason(relPath: string, isIgnored: (name: string) => boolean, readyMarker: string | null): string | null {
  const parts = relPath.split('/');
  const name = parts[parts.length - 1] ?? '';
  if (readyMarker !== null && name === readyMarker) return 'ready marker';
  const hit = parts.find((p) => isIgnored(p));
  return hit === undefined ? null : `name matches [import] ignore (${hit})`;
}

/** A name that is not valid UTF-8 reaches us with U+FFFD in place of its bad bytes, so the name we have opens nothing. */
export const UNDECODABLE = 'the name is not valid UTF-8 (shown with \uFFFD for the bad bytes), so it cannot be opened or given to Galaxy: rename it with UTF-8 characters';

/** Why a symlink is never imported (its target is missing, or outside the import directory), or null when it may be. */
export async function symlinkSkip(full: string, realImportDir: string): Promise<string | null> {
  let real: string;
  try {
    real = await fsp.realpath(full);
  } catch {
    return 'symlink whose target does not exist (or a symlink loop)';
  }
  const inside = path.relative(realImportDir, real);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    return `symlink leaves the import directory (points to ${real}); Galaxy would import it with an admin key, so galaxy-importd refuses it`;
  }
  return null;
}

/** Why this user cannot read a settled file, with what to do, or null when it can. */
export function unreadableReason(full: string): string | null {
  try {
    accessSync(full, fsc.R_OK);
    return null;
  } catch (err) {
    return `not readable by this user (${(err as NodeJS.ErrnoException).code ?? 'error'}): fix its permissions, then run galaxy-importd retry`;
  }
}

/**
 * What a file's stat and its ledger row say before it settles: a directory; skipped (not a
 * regular file, or the first start's backlog with backlog = skip); done (the ledger holds this
 * very version); or a candidate. `changed`: a done version of it was replaced.
 */
export type StatVerdict =
  | { kind: 'directory' }
  | { kind: 'done'; state: FileState }
  | { kind: 'skip'; reason: string; changed: string | null }
  | { kind: 'candidate'; changed: string | null };

export function statVerdict(st: Stats, prev: Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined, skipBacklog: boolean): StatVerdict {
  if (st.isDirectory()) return { kind: 'directory' };
  if (!st.isFile()) return { kind: 'skip', reason: 'not a regular file (FIFO, socket or device)', changed: null };
  if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs && DONE_STATES.has(prev.state)) return { kind: 'done', state: prev.state };
  const changed = prev && DONE_STATES.has(prev.state) && prev.state !== 'skipped' ? `was ${prev.state} with size ${prev.size}` : null;
  if (skipBacklog) return { kind: 'skip', reason: 'present at the very first start and [import] backlog = skip', changed };
  return { kind: 'candidate', changed };
}

/**
 * The window: files held in memory at once, settling, being admitted, queued or on their way to
 * Galaxy (files waiting only for a ready marker are not counted). A file found while it is full
 * is recorded in the ledger as `seen` and nothing more; when the window is half empty, the
 * oldest `seen` rows are taken in. A backlog of any size costs memory for this many files.
 */
export const WINDOW_FILES = 10_000;

/** States whose files the watcher need not report again while their fingerprint holds. */
const DONE_WATCH_STATES: ReadonlySet<FileState> = new Set(['ok', 'skipped']);

export interface AdmitDeps {
  importDir: string;
  /** The import directory with its symlinks resolved. */
  realImportDir: string;
  ignore: readonly string[];
  readyMarker: string | null;
  /** [import] backlog = skip at the very first start. */
  skipBacklog: boolean;
  ledger: Pick<Ledger, 'fingerprint'>;
  files: Pick<Files, 'rejected' | 'has' | 'active' | 'seen' | 'waiting' | 'settling' | 'gone' | 'inState' | 'claim'>;
  /** Settling (settle.ts): how long a file must stay unchanged, when to call it slow. */
  settleMs: number;
  slowMs: number;
  /** The settler's grid at low rates (settle.ts, grid.ts); unset: none. */
  grid?: { ms: number; belowRate: number };
  /** The settler's look (settle.ts, statFileSync). */
  stat: (relPath: string) => Fingerprint | null;
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout' | 'setImmediate' | 'clearImmediate'>;
  route(relPath: string): Route;
  queue(file: ReadyFile, route: Route): void;
  /** A file found live began to settle: its folder can be looked up (or created) meanwhile. */
  prepare?(relPath: string): void;
  emit: Emit;
  /** Called when fewer files are settling or being admitted (idle). */
  shrank?: () => void;
}

export class Admission {
  readonly #d: AdmitDeps;
  readonly #isIgnored: (name: string) => boolean;
  /** Settled files between the settler and the queue (readable? claimed?), so that idle never sees a gap. */
  #admitting = 0;
  #closed = false;
  /** Files recorded as `seen` (the window was full), since the start. */
  #deferred = 0;
  /** `seen` rows may be left to take in. */
  #more = true;

  readonly #settler: Settler;

  constructor(deps: AdmitDeps) {
    this.#d = deps;
    this.#isIgnored = compileIgnore(deps.ignore);
    const marker = deps.readyMarker;
    this.#settler = new Settler({
      settleMs: deps.settleMs, readyMarker: marker, stat: deps.stat, clock: deps.clock, slowMs: deps.slowMs,
      ...(deps.grid ? { grid: deps.grid } : {}),
      markerExists: (relDir) => existsSync(path.join(deps.importDir, relDir, marker ?? '')),
      onSlow: (file, ms) => deps.emit({ type: 'file.unsettled', file, duration_ms: ms, reason: 'still being written; it is imported once it stops changing for settle_seconds' }),
      onGone: (file) => {
        deps.files.gone(file, 'deleted or replaced by a non-file before it settled');
        deps.shrank?.();
      },
      onReady: (relPath, fp) => this.ready(relPath, fp),
      onWaiting: () => deps.shrank?.(),
    });
  }

  /** Files settling or being admitted. */
  get settling(): number {
    return this.#settler.size + this.#admitting;
  }

  /** Of `settling`, the files that wait for nothing but their directory's ready marker. */
  get waitingForMarker(): number {
    return this.#settler.waitingForMarker;
  }

  /** Files recorded as `seen` because the window was full, since the start. */
  get deferred(): number {
    return this.#deferred;
  }

  close(): void {
    this.#closed = true;
    this.#settler.close();
  }

  /** Settling waits while the first walk lists the tree, for at most `maxMs` (settle.ts, hold). */
  hold(walk: Promise<unknown>, maxMs: number): void {
    this.#settler.hold(walk, maxMs);
  }

  /** At start: files whose turn came in the last run but that never settled wait for it again. */
  resume(): void {
    for (const r of this.#d.files.inState('settling')) this.#d.files.seen(r.path, r, r);
  }

  /** Files in the window. */
  #inWindow(): number {
    return this.#settler.size - this.#settler.waitingForMarker + this.#admitting + this.#d.files.active;
  }

  /** When the window is half empty: take in the oldest `seen` files (called as files leave it). */
  refill(): void {
    if (this.#closed || !this.#more) return;
    const room = WINDOW_FILES - this.#inWindow();
    if (room < WINDOW_FILES / 2) return;
    const rows = this.#d.files.waiting(room);
    if (rows.length < room) this.#more = false;
    for (const r of rows) {
      this.#d.files.settling(r.path);
      // Its row's size and mtime are the first look; unchanged now, and long enough ago, it is ready at once.
      if (!this.#d.files.has(r.path) && !this.#settler.has(r.path)) this.#settler.touch(r.path, r, r.updatedAt);
    }
  }

  /** A directory to leave out of walks and watches. */
  skipDir(relPath: string): boolean {
    return ignoredReason(relPath, this.#isIgnored, null) !== null;
  }

  /** For the watcher: a path it need not report (ignored, or a done file whose fingerprint holds). */
  ignored(relPath: string, stats: Stats | undefined): boolean {
    const parts = relPath.split('/');
    if (parts.some((p) => this.#isIgnored(p)) && parts[parts.length - 1] !== this.#d.readyMarker) return true;
    return stats?.isFile() === true && this.isDone(relPath, stats);
  }

  isDone(relPath: string, stats: Stats): boolean {
    const rec = this.#d.ledger.fingerprint(relPath);
    return rec !== undefined && DONE_WATCH_STATES.has(rec.state) && rec.size === stats.size && rec.mtimeMs === stats.mtimeMs;
  }

  /** The watcher saw the file go: stop settling it. */
  gone(relPath: string): void {
    if (!this.#settler.forget(relPath)) return;
    this.#d.files.gone(relPath, 'deleted before it settled');
    this.#d.shrank?.();
  }

  /**
   * The walk's fast path for plain files: a synchronous stat and ledger look-up (a few
   * microseconds each) instead of a promise per file, so a tree of 100,000 done files is
   * checked in about a second. `seen`: the watcher found it done with this fingerprint.
   */
  walked(relPath: string, kind: EntryKind, initial: boolean, seen?: string): Promise<void> | undefined {
    if (kind !== 'file' || this.#closed || this.#d.files.has(relPath) || this.#settler.has(relPath)) return this.consider(relPath, initial, kind);
    // The walk enters no directory that skipDir leaves out: only the name itself is left to test.
    const name = relPath.slice(relPath.lastIndexOf('/') + 1);
    if (name === this.#d.readyMarker || this.#isIgnored(name)) return this.consider(relPath, initial, kind);
    const st = statSync(path.join(this.#d.importDir, relPath), { throwIfNoEntry: false });
    if (st && !(seen === `${st.size}:${st.mtimeMs}` && st.isFile())) this.#admitStat(relPath, st, initial);
    if (!st) this.#skipUndecodable(relPath);
    return undefined;
  }

  /**
   * A discovered path: decide what it is, and hand candidates to the settler. `seenLstat`: the
   * watcher's lstat of it a moment ago (inotify names the entry): it is not taken again, and for a
   * plain file it is the stat too, so a live file costs one look, not three.
   */
  async consider(relPath: string, initial: boolean, kind: EntryKind | null = null, seenLstat?: Stats): Promise<void> {
    const settler = this.#settler;
    if (this.#closed || this.#d.files.has(relPath)) return;
    if (settler.has(relPath)) {
      settler.touch(relPath);
      return;
    }
    const reason = ignoredReason(relPath, this.#isIgnored, this.#d.readyMarker);
    if (reason !== null) {
      if (reason === 'ready marker') settler.markerAppeared(relDirOf(relPath));
      return;
    }
    const full = path.join(this.#d.importDir, relPath);
    // The walk already knows a plain file from a symlink; only live events need the lstat.
    let lst = seenLstat ?? null;
    if (kind !== 'file' && lst === null) {
      try {
        lst = await fsp.lstat(full);
      } catch {
        this.#skipUndecodable(relPath);
        return; // gone already
      }
    }
    if (lst?.isSymbolicLink()) {
      const reason = await symlinkSkip(full, this.#d.realImportDir);
      if (reason !== null) {
        this.#d.files.rejected(relPath, { size: 0, mtimeMs: lst.mtimeMs }, 'skipped', reason);
        return;
      }
    }
    let st;
    if (lst !== null && !lst.isSymbolicLink()) st = lst;
    else {
      try {
        st = await fsp.stat(full);
      } catch {
        return;
      }
    }
    this.#admitStat(relPath, st, initial);
  }

  /** Settled: readable? claimed by this process? Then routed and queued. */
  ready(relPath: string, fp: Fingerprint): void {
    const unreadable = unreadableReason(path.join(this.#d.importDir, relPath));
    if (unreadable !== null) {
      this.#d.files.rejected(relPath, fp, 'failed', unreadable);
      this.#d.shrank?.();
      return;
    }
    this.#admitting++;
    void (async () => {
      // Several replicas: the one whose claim lands uploads it; the others leave it alone.
      const route = this.#d.route(relPath);
      const file = { path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, readyAt: this.#d.clock.now() };
      if (await this.#d.files.claim(file, route)) this.#d.queue(file, route);
    })().finally(() => {
      this.#admitting--;
      this.#d.shrank?.();
    });
  }

  /** The part that needs only the file's stat: type, ledger, backlog. */
  #admitStat(relPath: string, st: Stats, initial: boolean): void {
    const prev = this.#d.ledger.fingerprint(relPath);
    const verdict = statVerdict(st, prev, initial && this.#d.skipBacklog);
    if (verdict.kind === 'directory' || verdict.kind === 'done') return;
    const fp = { size: st.size, mtimeMs: st.mtimeMs };
    if (verdict.changed !== null) this.#d.emit({ type: 'file.changed', file: relPath, size: fp.size, reason: verdict.changed });
    if (verdict.kind === 'skip') {
      this.#d.files.rejected(relPath, fp, 'skipped', verdict.reason);
      return;
    }
    // A new version of an uploaded file is taken in at once: its row holds what a rewrite during its upload needs (files.ts, queued).
    if (prev?.state !== 'ok' && this.#inWindow() >= WINDOW_FILES) {
      this.#d.files.seen(relPath, fp, prev);
      this.#deferred++;
      this.#more = true;
      return;
    }
    if (prev?.state === 'seen') this.#d.files.settling(relPath);
    this.#settler.touch(relPath, fp);
    if (!initial) this.#d.prepare?.(relPath);
  }

  /**
   * A name that is not valid UTF-8 reaches us with U+FFFD in place of its bad bytes, so the
   * name we have opens nothing: say so instead of dropping the file silently.
   */
  #skipUndecodable(relPath: string): void {
    if (relPath.includes('\uFFFD')) this.#d.files.rejected(relPath, { size: 0, mtimeMs: 0 }, 'skipped', UNDECODABLE);
  }
}
