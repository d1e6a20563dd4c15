import { existsSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { FileState, Ledger } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { EntryKind } from '../watch/walk.js';
import type { CHECKSUMS } from './checksum.js';
import type { Files, ReadyFile } from './files.js';
import type { Route } from './route.js';
import type { Decision } from './rules.js';
import { Rules, ignoredReason } from './rules.js';
import type { Fingerprint } from './settle.js';
import type { ListsDeps } from './lists.js';
import { Lists } from './lists.js';
import { Ready } from './ready.js';
import { Settler } from './settle.js';
import { Window } from './window.js';
import { relDirOf } from '../paths.js';

/**
 * admit: what a discovered path is, by admission's rules (rules.ts, shared with the dry run):
 * name rules, symlinks (never out of the import directory), file type, the ledger (done with
 * the same fingerprint: nothing to do), the first start's backlog and undecodable names before
 * settling; readability and the claim (several replicas) once the file has settled. Then it is
 * routed and queued. Files enter it through the window (window.ts): a backlog waits in the ledger.
 */

export { WINDOW_FILES } from './window.js';

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
  files: Pick<Files, 'rejected' | 'has' | 'active' | 'seen' | 'waiting' | 'settling' | 'gone' | 'inState' | 'claim' | 'missing' | 'record'>;
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
  /** A file (found live, by a walk, or let in by the window) began to settle: its folder can be looked up (or created) meanwhile (ahead.ts). */
  prepare?(relPath: string): void;
  /** A burst of ready files began or was all queued (ready.ts, burst). */
  burst?(on: boolean): void;
  /** Provider checksum lists ([import] manifests, lists.ts); unset: none are read. */
  lists?: Omit<ListsDeps, 'importDir' | 'files' | 'stat' | 'clock' | 'emit' | 'retake' | 'shrank'>;
  /** [upload] checksum, taken once a file settled (ready.ts); unset or null: none. */
  checksum?: keyof typeof CHECKSUMS | null;
  /** Stopping: a checksum being taken ends. */
  signal?: AbortSignal;
  emit: Emit;
  /** Called when fewer files are settling or being admitted (idle). */
  shrank?: () => void;
}

export class Admission {
  readonly #d: AdmitDeps;
  readonly #rules: Rules;
  #closed = false;
  readonly #ready: Ready;
  readonly #settler: Settler;
  readonly #window: Window;
  readonly #lists: Lists | null;

  constructor(deps: AdmitDeps) {
    this.#d = deps;
    const book = deps.lists?.book;
    // A checksum list's row says it was read (skipped): a new process reads it again all the same.
    this.#rules = new Rules({ ...deps, fingerprint: (p) => deps.ledger.fingerprint(p), ...(book ? { reread: (p: string, fp: Fingerprint) => book.listPath(p) && !book.read(p, fp) } : {}) });
    const marker = deps.readyMarker;
    this.#lists = deps.lists
      ? new Lists({
        ...deps.lists, importDir: deps.importDir, files: deps.files, stat: deps.stat, clock: deps.clock, emit: deps.emit,
        retake: (p, fp) => this.#ready.take(p, fp), ...(deps.shrank ? { shrank: deps.shrank } : {}),
      })
      : null;
    // Built downstream first: the settler hands what settles to ready (ready.ts), which queues it.
    this.#ready = new Ready({
      importDir: deps.importDir, rules: this.#rules, files: deps.files, route: (p) => deps.route(p), queue: (f, r) => deps.queue(f, r), clock: deps.clock, emit: deps.emit,
      checksum: deps.checksum ?? null, stat: deps.stat, changed: (p) => void this.consider(p, false), ...(this.#lists ? { lists: this.#lists } : {}),
      ...(deps.shrank ? { shrank: deps.shrank } : {}), ...(deps.signal ? { signal: deps.signal } : {}), ...(deps.burst ? { burst: (on: boolean) => deps.burst?.(on) } : {}),
      settling: () => this.#settler.size - this.#settler.waitingForMarker,
    });
    this.#settler = new Settler({
      settleMs: deps.settleMs, readyMarker: marker, stat: deps.stat, clock: deps.clock, slowMs: deps.slowMs,
      ...(deps.grid ? { grid: deps.grid } : {}),
      markerExists: (relDir) => existsSync(path.join(deps.importDir, relDir, marker ?? '')),
      onSlow: (file, ms) => deps.emit({ type: 'file.unsettled', file, duration_ms: ms, reason: 'still being written; it is imported once it stops changing for settle_seconds' }),
      onGone: (file) => {
        this.#lists?.dropped(file);
        deps.files.gone(file, 'deleted or replaced by a non-file before it settled');
        deps.shrank?.();
      },
      onReady: (relPath, fp) => this.#ready.take(relPath, fp),
      onWaiting: () => deps.shrank?.(),
    });
    this.#window = new Window({
      held: () => this.#settler.size - this.#settler.waitingForMarker + this.#ready.size + deps.files.active,
      waiting: (limit) => deps.files.waiting(limit),
      enter: (r) => {
        deps.files.settling(r.path);
        if (this.#lists?.isList(r.path) === true) this.#lists.expect(r.path);
        // Its row's size and mtime are the first look; unchanged now, and long enough ago, it is ready at once (its group's time, settle.ts, if it is not due yet).
        if (deps.files.has(r.path) || this.#settler.has(r.path)) return;
        this.#settler.touch(r.path, r, r.updatedAt, true);
        this.#prepare(r.path);
      },
    });
  }

  /** Files settling or being admitted. */
  get settling(): number {
    return this.#settler.size + this.#ready.size;
  }

  /** Of `settling`, the files that wait for nothing but their directory's ready marker. */
  get waitingForMarker(): number {
    return this.#settler.waitingForMarker;
  }

  /** Files recorded as `seen` because the window was full, since the start. */
  get deferred(): number {
    return this.#window.deferred;
  }

  close(): void {
    this.#closed = true;
    this.#window.close();
    this.#settler.close();
    this.#lists?.close();
  }

  /** Settling waits while the first walk lists the tree, for at most `maxMs` (settle.ts, hold). */
  hold(walk: Promise<unknown>, maxMs: number): void {
    this.#settler.hold(walk, maxMs);
  }

  /** At start: files whose turn came in the last run but that never settled wait for it again. */
  resume(): void {
    for (const r of this.#d.files.inState('settling')) this.#d.files.seen(r.path, r, r);
  }

  /** A file left the window (the flow's `shrank`): waiting files may enter. */
  refill(): void {
    this.#window.refill();
  }

  /** A directory to leave out of walks and watches. */
  skipDir(relPath: string): boolean {
    return ignoredReason(relPath, this.#rules.isIgnored, null) !== null;
  }

  /** For the watcher: a path it need not report (ignored, or a done file whose fingerprint holds). */
  ignored(relPath: string, stats: Stats | undefined): boolean {
    const parts = relPath.split('/');
    if (parts.some((p) => this.#rules.isIgnored(p)) && parts[parts.length - 1] !== this.#d.readyMarker) return true;
    return stats?.isFile() === true && this.isDone(relPath, stats);
  }

  isDone(relPath: string, stats: Stats): boolean {
    const rec = this.#d.ledger.fingerprint(relPath);
    if (this.#lists?.isList(relPath) === true && !this.#d.lists?.book.read(relPath, stats)) return false;
    return rec !== undefined && DONE_WATCH_STATES.has(rec.state) && rec.size === stats.size && rec.mtimeMs === stats.mtimeMs;
  }

  /** The watcher saw the file go: stop settling it. */
  gone(relPath: string): void {
    this.#lists?.deleted(relPath);
    if (!this.#settler.forget(relPath)) return;
    this.#lists?.dropped(relPath);
    this.#d.files.gone(relPath, 'deleted before it settled');
    this.#d.shrank?.();
  }

  /**
   * The walk's fast path for plain files: a synchronous stat and ledger look-up (a few
   * microseconds each) instead of a promise per file, so a tree of 100,000 done files is
   * checked in about a second. `seen`: the watcher found it done with this fingerprint.
   */
  walked(relPath: string, kind: EntryKind, initial: boolean, seen?: string): Promise<void> | undefined {
    if (kind !== 'file' || this.#closed || this.#d.files.has(relPath) || this.#settler.has(relPath)) return this.consider(relPath, initial, kind, undefined, true);
    // The walk enters no directory that skipDir leaves out: only the name itself is left to test.
    const name = relPath.slice(relPath.lastIndexOf('/') + 1);
    if (name === this.#d.readyMarker || this.#rules.isIgnored(name)) return this.consider(relPath, initial, kind, undefined, true);
    const d = this.#rules.statNow(relPath, initial && this.#d.skipBacklog);
    if (!(d.st !== undefined && seen === `${d.st.size}:${d.st.mtimeMs}` && d.st.isFile())) this.#admit(relPath, d, true);
    return undefined;
  }

  /**
   * A discovered path: decide what it is, and hand candidates to the settler. `seenLstat`: the
   * watcher's lstat of it a moment ago (inotify names the entry): it is not taken again, and for a
   * plain file it is the stat too, so a live file costs one look, not three. `walked`: a walk found it (it settles with its group, settle.ts).
   */
  async consider(relPath: string, initial: boolean, kind: EntryKind | null = null, seenLstat?: Stats, walked = false): Promise<void> {
    if (this.#closed || this.#d.files.has(relPath)) return;
    if (this.#settler.has(relPath)) {
      this.#settler.touch(relPath);
      return;
    }
    this.#admit(relPath, await this.#rules.decide(relPath, { kind, lstat: seenLstat, backlog: initial && this.#d.skipBacklog }), walked);
  }

  /** What admission does with its rules' decision; `walked`: a walk found the file. */
  #admit(relPath: string, d: Decision, walked = false): void {
    if (this.#closed || d.kind === 'ignored' || d.kind === 'gone' || d.kind === 'directory' || d.kind === 'done') return;
    if (d.kind === 'marker') {
      this.#settler.markerAppeared(relDirOf(relPath));
      return;
    }
    if (d.changed !== null) this.#d.emit({ type: 'file.changed', file: relPath, size: d.fp.size, reason: d.changed });
    if (d.kind === 'skip') {
      this.#d.files.rejected(relPath, d.fp, 'skipped', d.reason);
      return;
    }
    const { prev } = d;
    // A new version of an uploaded file is taken in at once: its row holds what a rewrite during its upload needs (files.ts, queued).
    // A checksum list is taken in at once too (files may wait for it: it must not wait for them).
    const list = this.#lists?.isList(relPath) === true;
    if (prev?.state !== 'ok' && !list && !this.#window.admit()) {
      this.#d.files.seen(relPath, d.fp, prev);
      return;
    }
    if (prev?.state === 'seen') this.#d.files.settling(relPath);
    if (list) this.#lists?.expect(relPath);
    this.#settler.touch(relPath, d.fp, undefined, walked);
    this.#prepare(relPath);
  }

  /** A file began to settle: its folder is looked up (or made) meanwhile (ahead.ts); a checksum list's only if lists are imported too. */
  #prepare(relPath: string): void {
    if (this.#lists?.isList(relPath) !== true || this.#d.lists?.importLists === true) this.#d.prepare?.(relPath);
  }
}
