import { constants as fsc, promises as fsp, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { FileState, Ledger } from '../ledger/ledger.js';
import { DONE_STATES } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { EntryKind } from '../watch/walk.js';
import type { Files, ReadyFile } from './files.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import type { Fingerprint } from './settle.js';
import { Settler } from './settle.js';

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
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`, 's'));
  return (name) => regexes.some((re) => re.test(name));
}

/** Why a relative path is never imported, or null when it may be. */
export function ignoredReason(relPath: string, isIgnored: (name: string) => boolean, readyMarker: string | null): string | null {
  const parts = relPath.split('/');
  const name = parts[parts.length - 1] ?? '';
  if (readyMarker !== null && name === readyMarker) return 'ready marker';
  const hit = parts.find((p) => isIgnored(p));
  return hit === undefined ? null : `name matches [import] ignore (${hit})`;
}

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
  files: Pick<Files, 'rejected' | 'has'>;
  /** Settling (settle.ts): how long a file must stay unchanged, when to call it slow. */
  settleMs: number;
  slowMs: number;
  stat: (relPath: string) => Promise<Fingerprint | null>;
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  claim(file: { path: string; size: number; mtimeMs: number }): Promise<boolean>;
  route(relPath: string): Route;
  queue(file: ReadyFile, route: Route): void;
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

  readonly #settler: Settler;

  constructor(deps: AdmitDeps) {
    this.#d = deps;
    this.#isIgnored = compileIgnore(deps.ignore);
    const marker = deps.readyMarker;
    this.#settler = new Settler({
      settleMs: deps.settleMs, readyMarker: marker, stat: deps.stat, clock: deps.clock, slowMs: deps.slowMs,
      markerExists: (relDir) => fsp.access(path.join(deps.importDir, relDir, marker ?? '')).then(() => true, () => false),
      onSlow: (file, ms) => deps.emit({ type: 'file.unsettled', file, duration_ms: ms, reason: 'still being written; it is imported once it stops changing for settle_seconds' }),
      onGone: (file) => {
        deps.emit({ type: 'file.gone', file, reason: 'deleted or replaced by a non-file before it settled' });
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

  close(): void {
    this.#closed = true;
    this.#settler.close();
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
    this.#d.emit({ type: 'file.gone', file: relPath, reason: 'deleted before it settled' });
    this.#d.shrank?.();
  }

  /**
   * The walk's fast path for plain files: a synchronous stat and ledger look-up (a few
   * microseconds each) instead of a promise per file, so a tree of 100,000 done files is
   * checked in about a second. `seen`: the watcher found it done with this fingerprint.
   */
  walked(relPath: string, kind: EntryKind, initial: boolean, seen?: string): Promise<void> | undefined {
    if (kind !== 'file' || this.#closed || this.#d.files.has(relPath) || this.#settler.has(relPath)) return this.consider(relPath, initial, kind);
    if (ignoredReason(relPath, this.#isIgnored, this.#d.readyMarker) !== null) return this.consider(relPath, initial, kind);
    const st = statSync(path.join(this.#d.importDir, relPath), { throwIfNoEntry: false });
    if (st && !(seen === `${st.size}:${st.mtimeMs}` && st.isFile())) this.#admitStat(relPath, st, initial);
    if (!st) this.#skipUndecodable(relPath);
    return undefined;
  }

  /** A discovered path: decide what it is, and hand candidates to the settler. */
  async consider(relPath: string, initial: boolean, kind: EntryKind | null = null): Promise<void> {
    const settler = this.#settler;
    if (this.#closed || this.#d.files.has(relPath)) return;
    if (settler.has(relPath)) {
      settler.touch(relPath);
      return;
    }
    const reason = ignoredReason(relPath, this.#isIgnored, this.#d.readyMarker);
    if (reason !== null) {
      if (reason === 'ready marker') settler.markerAppeared(relPath.includes('/') ? relPath.slice(0, relPath.lastIndexOf('/')) : '');
      return;
    }
    const full = path.join(this.#d.importDir, relPath);
    // The walk already knows a plain file from a symlink; only live events need the lstat.
    let lst = null;
    if (kind !== 'file') {
      try {
        lst = await fsp.lstat(full);
      } catch {
        this.#skipUndecodable(relPath);
        return; // gone already
      }
    }
    if (lst?.isSymbolicLink()) {
      let real: string;
      try {
        real = await fsp.realpath(full);
      } catch {
        this.#d.files.rejected(relPath, { size: 0, mtimeMs: lst.mtimeMs }, 'skipped', 'symlink whose target does not exist (or a symlink loop)');
        return;
      }
      const inside = path.relative(this.#d.realImportDir, real);
      if (inside.startsWith('..') || path.isAbsolute(inside)) {
        this.#d.files.rejected(relPath, { size: 0, mtimeMs: lst.mtimeMs }, 'skipped', `symlink leaves the import directory (points to ${real}); Galaxy would import it with an admin key, so galaxy-importd refuses it`);
        return;
      }
    }
    let st;
    try {
      st = await fsp.stat(full);
    } catch {
      return;
    }
    this.#admitStat(relPath, st, initial);
  }

  /** Settled: readable? claimed by this process? Then routed and queued. */
  ready(relPath: string, fp: Fingerprint): void {
    this.#admitting++;
    void (async () => {
      try {
        await fsp.access(path.join(this.#d.importDir, relPath), fsc.R_OK);
      } catch (err) {
        this.#d.files.rejected(relPath, fp, 'failed', `not readable by this user (${(err as NodeJS.ErrnoException).code ?? 'error'}): fix its permissions, then run galaxy-importd retry`);
        return;
      }
      // Several replicas: the one whose claim lands uploads it; the others leave it alone.
      if (!(await this.#d.claim({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs }))) {
        this.#d.emit({ type: 'file.claimed_elsewhere', file: relPath });
        return;
      }
      const route = this.#d.route(relPath);
      this.#d.emit({ type: 'file.ready', file: relPath, size: fp.size, library: route.library, folder: folderText(route) });
      this.#d.queue({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, readyAt: this.#d.clock.now() }, route);
    })().finally(() => {
      this.#admitting--;
      this.#d.shrank?.();
    });
  }

  /** The part that needs only the file's stat: type, ledger, backlog. */
  #admitStat(relPath: string, st: Stats, initial: boolean): void {
    if (st.isDirectory()) return;
    const fp = { size: st.size, mtimeMs: st.mtimeMs };
    if (!st.isFile()) {
      this.#d.files.rejected(relPath, fp, 'skipped', 'not a regular file (FIFO, socket or device)');
      return;
    }
    const prev = this.#d.ledger.fingerprint(relPath);
    if (prev && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs && DONE_STATES.has(prev.state)) return;
    if (prev && DONE_STATES.has(prev.state) && prev.state !== 'skipped') {
      this.#d.emit({ type: 'file.changed', file: relPath, size: fp.size, reason: `was ${prev.state} with size ${prev.size}` });
    }
    if (initial && this.#d.skipBacklog) {
      this.#d.files.rejected(relPath, fp, 'skipped', 'present at the very first start and [import] backlog = skip');
      return;
    }
    this.#settler.touch(relPath, fp);
  }

  /**
   * A name that is not valid UTF-8 reaches us with U+FFFD in place of its bad bytes, so the
   * name we have opens nothing: say so instead of dropping the file silently.
   */
  #skipUndecodable(relPath: string): void {
    if (!relPath.includes('\uFFFD')) return;
    this.#d.files.rejected(relPath, { size: 0, mtimeMs: 0 }, 'skipped', 'the name is not valid UTF-8 (shown with \uFFFD for the bad bytes), so it cannot be opened or given to Galaxy: rename it with UTF-8 characters');
  }
}
