import type { Clock } from '../clock.js';
import type { FileRecord, FileRows, FileState } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { Fingerprint, ReadyFile } from './settle.js';

export type { ReadyFile } from './settle.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import type { Target } from './targets.js';
import type { TransitionName } from './transitions.js';
import { TransitionError, allowed } from './transitions.js';

/**
 * The owner of every file's state (docs/architecture.md, "Per-file states"): a state machine
 * whose transitions are the table of transitions.ts. Each checks the file's state against the
 * table, writes the ledger and emits its one typed event in the same call, and nothing else in
 * the product writes a file's state (the CLI's `retry` comes through here too; the shared
 * ledger's claim is asked for here, `claim`). It also knows which files are queued or in flight
 * in this process, so that a file is never in two batches and `idle` has one place to ask.
 */


const at = (file: { path: string }, route: Route): { file: string; library: string; folder: string } => ({ file: file.path, library: route.library, folder: folderText(route) });

export interface FilesDeps {
  ledger: FileRows;
  emit: Emit;
  clock: Pick<Clock, 'now'>;
  /** Called when a file is no longer queued or in flight here (idle). */
  shrank?: () => void;
  /** The coordinator's claim (claims.ts); unset, every file is this process's. */
  claim?: (file: { path: string; size: number; mtimeMs: number }) => Promise<boolean>;
  /**
   * What to do with a transition the table does not allow; unset, it is thrown (tests). The
   * daemon reports it and carries it out, so that a defect of the table never strands a file.
   */
  unexpected?: (err: TransitionError) => void;
}

function thrown(err: Error): never { throw err; }

export class Files {
  readonly #d: Required<FilesDeps>;
  /** Paths queued or in flight in this process, with what the pipeline asks of them often (the ledger's row holds the same). */
  readonly #active = new Map<string, { attempts: number; submittedAt: number | null; state: FileState }>();

  constructor(deps: FilesDeps) {
    this.#d = { shrank: () => undefined, claim: () => Promise.resolve(true), unexpected: thrown, ...deps };
  }

  /** The state a transition leaves: held here for files on their way, else the ledger's. */
  #from(relPath: string): FileState | null {
    const held = this.#active.get(relPath);
    return held ? held.state : (this.#d.ledger.get(relPath)?.state ?? null);
  }

  /** The table's word on leaving `from` by `name`. */
  #check(name: TransitionName, relPath: string, from: FileState | null): void {
    if (!allowed(name, from)) this.#d.unexpected(new TransitionError(relPath, name, from));
  }

  /** A transition of a file on its way here: checked, written (with `fields`), and held. */
  #move(name: TransitionName, relPath: string, to: FileState, fields: Partial<Omit<FileRecord, 'path' | 'state'>> = {}): void {
    this.#check(name, relPath, this.#from(relPath));
    this.#update(relPath, { state: to, ...fields });
    const held = this.#active.get(relPath);
    if (held) held.state = to;
  }

  /** Every change of a row, stamped by this one clock (the ledger's own stamps only writes from elsewhere). */
  #update(relPath: string, fields: Partial<Omit<FileRecord, 'path'>>): void {
    this.#d.ledger.update(relPath, { updatedAt: this.#d.clock.now(), ...fields });
  }

  /** Files queued or in flight. */
  get active(): number {
    return this.#active.size;
  }

  has(relPath: string): boolean {
    return this.#active.has(relPath);
  }

  record(relPath: string): FileRecord | undefined {
    return this.#d.ledger.get(relPath);
  }

  attempts(relPath: string): number {
    return this.#active.get(relPath)?.attempts ?? this.#d.ledger.get(relPath)?.attempts ?? 0;
  }

  /** When its last request was sent, or null before any. */
  submittedAt(relPath: string): number | null {
    const held = this.#active.get(relPath);
    return held ? held.submittedAt : (this.#d.ledger.get(relPath)?.submittedAt ?? null);
  }

  /** Skipped, or failed before it was queued (admission). A row that says the same already is left alone. */
  rejected(relPath: string, fp: Fingerprint, state: 'skipped' | 'failed', reason: string): void {
    const prev = this.#d.ledger.get(relPath);
    if (prev?.state === state && prev.lastError === reason && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs) return;
    this.#check(state === 'failed' ? 'refused' : 'skipped', relPath, prev?.state ?? null);
    this.#d.ledger.put({
      path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, state, attempts: prev?.attempts ?? 0, lastError: reason,
      libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, updatedAt: this.#d.clock.now(),
    });
    this.#d.emit(state === 'failed' ? { type: 'upload.failed', file: relPath, reason } : { type: 'file.skipped', file: relPath, reason });
  }

  /**
   * Found while the window is full (admit.ts): recorded as `seen` with its size and mtime, and
   * looked at again when its turn comes (`waiting`). One row and a debug event, no memory here
   * (the walk says how many).
   */
  seen(relPath: string, fp: Fingerprint, known: Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined): void {
    // `known`: the caller's look-up of the row (none: no row to keep anything of).
    const prev = known === undefined ? undefined : this.#d.ledger.get(relPath);
    if (prev?.state === 'seen' && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs) return;
    this.#check('seen', relPath, prev?.state ?? null);
    if (prev !== undefined && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs) this.#update(relPath, { state: 'seen' });
    else this.#d.ledger.put({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, state: 'seen', attempts: 0, lastError: null, libraryId: prev?.libraryId ?? null, folderId: prev?.folderId ?? null, datasetId: null, jobId: null, historyId: null, submittedAt: null, updatedAt: this.#d.clock.now() });
    this.#d.emit({ type: 'file.seen', file: relPath, size: fp.size });
  }

  /** Files found while the window was full, oldest first, up to `limit`. */
  waiting(limit: number): FileRecord[] {
    return this.#d.ledger.firstInState('seen', limit);
  }

  /** A `seen` file's turn came: it settles now (a restart puts it back to `seen`). */
  settling(relPath: string): void {
    this.#move('settling', relPath, 'settling');
    this.#d.emit({ type: 'file.settling', file: relPath });
  }

  /** Deleted before it settled; a row that said it was waiting says so now. */
  gone(relPath: string, reason: string): void {
    const prev = this.#d.ledger.get(relPath);
    if (prev?.state === 'seen' || prev?.state === 'settling') this.#move('gone', relPath, 'skipped', { lastError: reason });
    this.#d.emit({ type: 'file.gone', file: relPath, reason });
  }

  /**
   * Settled and readable: claimed for this process (several replicas: the coordinator's one
   * statement writes `ready` for the claims of a turn; one process: every claim holds, and the
   * file goes on to `queued` at once). False: another replica holds it, or has done it.
   */
  async claim(file: ReadyFile, route: Route): Promise<boolean> {
    if (!(await this.#d.claim(file))) {
      this.#d.emit({ type: 'file.claimed_elsewhere', file: file.path });
      return false;
    }
    this.#check('claimed', file.path, this.#from(file.path));
    this.#d.emit({ type: 'file.ready', ...at(file, route), size: file.size });
    return true;
  }

  /** Ready and queued in its folder's batch. Returns false when it is already queued or in flight. */
  queued(file: ReadyFile, route: Route): boolean {
    if (this.#active.has(file.path)) return false;
    const prev = this.#d.ledger.get(file.path);
    this.#check('queued', file.path, prev?.state ?? null);
    const same = prev !== undefined && prev.size === file.size && prev.mtimeMs === file.mtimeMs;
    // Written again, to another size, while its last upload ran (before that was recorded ok):
    // Galaxy may have read this version then, and the dataset's size tells. Keeping the send time
    // makes the run look in the folder before sending. At the same size nothing tells which
    // version Galaxy read, so it is sent again: a second dataset rather than a version lost.
    const duringUpload = prev !== undefined && !same && prev.size !== file.size && prev.state === 'ok' && prev.submittedAt !== null && file.mtimeMs <= prev.updatedAt;
    const submittedAt = same || duringUpload ? prev.submittedAt : null;
    this.#active.set(file.path, { attempts: same ? prev.attempts : 0, submittedAt, state: 'queued' });
    this.#d.ledger.put({
      path: file.path, size: file.size, mtimeMs: file.mtimeMs, state: 'queued',
      attempts: same ? prev.attempts : 0, lastError: same ? prev.lastError : null,
      libraryId: prev?.libraryId ?? null, folderId: prev?.folderId ?? null, datasetId: null, jobId: null, historyId: null,
      submittedAt, updatedAt: this.#d.clock.now(),
    });
    this.#d.emit({ type: 'upload.queued', ...at(file, route), size: file.size });
    return true;
  }

  /** Rows the ledger says may be in Galaxy, picked up after a restart or from another replica. */
  resumed(files: readonly ReadyFile[]): void {
    for (const f of files) {
      const row = this.#d.ledger.get(f.path);
      this.#active.set(f.path, { attempts: row?.attempts ?? 0, submittedAt: row?.submittedAt ?? null, state: row?.state ?? 'queued' });
    }
  }

  /**
   * Recorded before the request goes out: a crash after this line is found again by the history.
   * `at`: when it was made (one time for all the folders of a request: a restart finds its rows by it).
   */
  submitted(files: readonly ReadyFile[], route: Route, o: { attempt: number; target: Target; historyId: string | null; at?: number }): void {
    const submittedAt = o.at ?? this.#d.clock.now();
    this.#d.ledger.transaction(() => {
      for (const f of files) {
        const attempts = this.attempts(f.path) + 1;
        this.#move('submitted', f.path, 'submitted', { attempts, libraryId: o.target.libraryId, folderId: o.target.folderId, historyId: o.historyId, submittedAt, jobId: null, datasetId: null });
        this.#active.set(f.path, { attempts, submittedAt, state: 'submitted' });
      }
    });
    for (const f of files) this.#d.emit({ type: 'upload.submitted', ...at(f, route), attempt: o.attempt, size: f.size, history_id: o.historyId });
  }

  /** The request's job is known: a restart confirms it instead of looking for it. */
  jobKnown(files: readonly ReadyFile[], historyId: string | null, jobId: string): void {
    this.#d.ledger.transaction(() => {
      if (historyId !== null) this.#d.ledger.rememberJob(historyId, jobId);
      for (const f of files) this.#move('job_known', f.path, 'submitted', { jobId });
    });
  }

  datasetKnown(relPath: string, datasetId: string): void {
    this.#update(relPath, { datasetId });
  }

  /** A failed try, sent again after `delayMs`. */
  retrying(files: readonly ReadyFile[], route: Route, reason: string, attempt: number, delayMs: number): void {
    this.#d.ledger.transaction(() => {
      for (const f of files) this.#move('retrying', f.path, 'retrying', { lastError: reason });
    });
    for (const f of files) this.#d.emit({ type: 'upload.retry', ...at(f, route), attempt, reason, delay_ms: Math.round(delayMs) });
  }

  /** The key, not the files, was at fault: back to queued, and the attempt does not count. */
  requeued(files: readonly ReadyFile[]): void {
    this.#d.ledger.transaction(() => {
      for (const f of files) this.#move('requeued', f.path, 'queued', { attempts: this.#uncount(f.path) });
    });
    for (const f of files) this.#d.emit({ type: 'upload.requeued', file: f.path, cause: 'key_refused' });
  }

  /** `galaxy-importd retry`: a failed file queued again, its attempts from zero; a running daemon takes it at its next walk. */
  retryRequested(rec: FileRecord): void {
    this.#check('retry_requested', rec.path, rec.state);
    this.#update(rec.path, { state: 'queued', attempts: 0, lastError: `retry requested after: ${rec.lastError ?? 'failure'}` });
    this.#d.emit({ type: 'upload.requeued', file: rec.path, cause: 'retry' });
  }

  /**
   * A request or job of several files failed as a whole: each half is sent on its own. The
   * split does not count as an attempt: most of the files failed only because another did.
   */
  split(files: readonly ReadyFile[], route: Route, reason: string, jobId: string | null): void {
    this.#d.ledger.transaction(() => {
      for (const f of files) this.#move('split', f.path, 'retrying', { lastError: reason, attempts: this.#uncount(f.path) });
    });
    this.#d.emit({ type: 'upload.split', library: route.library, folder: folderText(route), files: files.length, job_id: jobId, reason });
  }

  /**
   * The request created no job in `historyId`: the rows forget the history before it goes back
   * to the pool, so that a restart never takes the next request's job for theirs.
   */
  unassigned(files: readonly ReadyFile[], historyId: string): void {
    this.#d.ledger.transaction(() => {
      for (const f of files) if (this.#d.ledger.get(f.path)?.historyId === historyId) this.#move('unassigned', f.path, 'retrying', { historyId: null });
    });
  }

  failed(file: ReadyFile, route: Route, reason: string, attempt: number): void {
    this.#move('failed', file.path, 'failed', { lastError: reason });
    this.#active.delete(file.path);
    this.#d.emit({ type: 'upload.failed', ...at(file, route), attempt, reason });
    this.#d.shrank();
  }

  /** Its dataset is ok in Galaxy: uploaded now (`jobId`, or null for method = paths), or found there already (`target`). */
  ok(file: ReadyFile, route: Route, datasetId: string, how: { jobId: string | null } | { found: Target }): void {
    if ('found' in how) {
      this.#move('found', file.path, 'ok', { datasetId, libraryId: how.found.libraryId, folderId: how.found.folderId, lastError: null });
      this.#d.emit({ type: 'upload.ok', ...at(file, route), dataset_id: datasetId, size: file.size, reason: 'already in Galaxy' });
    } else {
      // The time it became ok, from this clock: queued() compares it with a new version's mtime.
      this.#move('ok', file.path, 'ok', { datasetId, jobId: how.jobId, lastError: null });
      this.#d.emit({ type: 'upload.ok', ...at(file, route), job_id: how.jobId, dataset_id: datasetId, size: file.size, duration_ms: this.#d.clock.now() - file.readyAt });
    }
    this.#active.delete(file.path);
    this.#d.shrank();
  }

  /** Another replica took these over: this process leaves them alone (their rows are its now). */
  released(files: readonly ReadyFile[]): void {
    for (const f of files) this.#active.delete(f.path);
    this.#d.shrank();
  }

  /** The last attempt does not count: one fewer, here and (by the caller) in the ledger. */
  #uncount(relPath: string): number {
    const attempts = Math.max(0, this.attempts(relPath) - 1);
    const held = this.#active.get(relPath);
    if (held) held.attempts = attempts;
    return attempts;
  }

  inState(...states: FileState[]): FileRecord[] {
    return this.#d.ledger.inState(...states);
  }
}
