import type { FileRecord } from '../ledger/ledger.js';
import { checksumText } from './checksum.js';
import { FileStates } from './file-states.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import type { Fingerprint, ReadyFile } from './settle.js';
import type { Target } from './targets.js';

export type { FilesDeps } from './file-states.js';
export type { ReadyFile } from './settle.js';

/**
 * The owner of every file's state (docs/architecture.md, "Per-file states"): a state machine
 * whose transitions are the table of transitions.ts. Each checks the file's state against the
 * table, writes the ledger and emits its one typed event in the same call, and nothing else in
 * the product writes a file's state (the CLI's `retry` comes through here too; the shared
 * ledger's claim is asked for here, `claim`). It also knows which files are queued or in flight
 * in this process, so that a file is never in two batches and `idle` has one place to ask
 * (file-states.ts: the machinery under it).
 */

const at = (file: { path: string }, route: Route): { file: string; library: string; folder: string } => ({ file: file.path, library: route.library, folder: folderText(route) });

export class Files extends FileStates {
  /** Skipped, or failed before it was queued (admission). A row that says the same already is left alone. */
  rejected(relPath: string, fp: Fingerprint, state: 'skipped' | 'failed', reason: string): void {
    const prev = this.d.ledger.get(relPath);
    if (prev?.state === state && prev.lastError === reason && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs) return;
    this.check(state === 'failed' ? 'refused' : 'skipped', relPath, prev?.state ?? null);
    this.put(relPath, fp, state, { attempts: prev?.attempts ?? 0, lastError: reason });
    this.d.emit(state === 'failed' ? { type: 'upload.failed', file: relPath, reason } : { type: 'file.skipped', file: relPath, reason });
  }

  /**
   * Found while the window is full (admit.ts): recorded as `seen` with its size and mtime, and
   * looked at again when its turn comes (`waiting`). One row and a debug event, no memory here
   * (the walk says how many).
   */
  seen(relPath: string, fp: Fingerprint, known: Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined): void {
    // `known`: the caller's look-up of the row (none: no row to keep anything of).
    const prev = known === undefined ? undefined : this.d.ledger.get(relPath);
    const same = prev !== undefined && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs;
    if (same && prev.state === 'seen') return;
    this.check('seen', relPath, prev?.state ?? null);
    if (same) this.update(relPath, { state: 'seen' });
    else this.put(relPath, fp, 'seen', { libraryId: prev?.libraryId ?? null, folderId: prev?.folderId ?? null });
    this.d.emit({ type: 'file.seen', file: relPath, size: fp.size });
  }

  /** Files found while the window was full, oldest first, up to `limit`. */
  waiting(limit: number): FileRecord[] {
    return this.d.ledger.firstInState('seen', limit);
  }

  /** A `seen` file's turn came: it settles now (a restart puts it back to `seen`). */
  settling(relPath: string): void {
    this.move('settling', relPath, 'settling');
    this.d.emit({ type: 'file.settling', file: relPath });
  }

  /** Deleted before it settled; a row that said it was waiting says so now. */
  gone(relPath: string, reason: string): void {
    const prev = this.d.ledger.get(relPath);
    if (prev?.state === 'seen' || prev?.state === 'settling') this.move('gone', relPath, 'skipped', { lastError: reason });
    this.d.emit({ type: 'file.gone', file: relPath, reason });
  }

  /**
   * Settled and readable: claimed for this process (several replicas: the coordinator's one
   * statement writes `ready` for the claims of a turn; one process: every claim holds, and the
   * file goes on to `queued` at once). False: another replica holds it, or has done it.
   */
  async claim(file: ReadyFile, route: Route): Promise<boolean> {
    if (!(await this.d.claim(file))) {
      this.d.emit({ type: 'file.claimed_elsewhere', file: file.path });
      return false;
    }
    this.check('claimed', file.path, () => this.from(file.path));
    this.d.emit({ type: 'file.ready', ...at(file, route), size: file.size });
    return true;
  }

  /** Ready and queued in its folder's batch. Returns false when it is already queued or in flight. */
  queued(file: ReadyFile, route: Route): boolean {
    if (this.held.has(file.path)) return false;
    const prev = this.d.ledger.get(file.path);
    this.check('queued', file.path, prev?.state ?? null);
    const same = prev !== undefined && prev.size === file.size && prev.mtimeMs === file.mtimeMs;
    // Written again, to another size, while its last upload ran (before that was recorded ok):
    // Galaxy may have read this version then, and the dataset's size tells. Keeping the send time
    // makes the run look in the folder before sending. At the same size nothing tells which
    // version Galaxy read, so it is sent again: a second dataset rather than a version lost.
    const duringUpload = prev !== undefined && !same && prev.size !== file.size && prev.state === 'ok' && prev.submittedAt !== null && file.mtimeMs <= prev.updatedAt;
    const submittedAt = same || duringUpload ? prev.submittedAt : null;
    this.held.set(file.path, { attempts: same ? prev.attempts : 0, submittedAt, state: 'queued' });
    this.put(file.path, file, 'queued', {
      attempts: same ? prev.attempts : 0, lastError: same ? prev.lastError : null, libraryId: prev?.libraryId ?? null, folderId: prev?.folderId ?? null, submittedAt,
      checksum: file.checksum ? checksumText(file.checksum) : file.provided ? checksumText(file.provided) : null,
    });
    this.d.emit({ type: 'upload.queued', ...at(file, route), size: file.size });
    return true;
  }

  /** Rows the ledger says may be in Galaxy, picked up after a restart or from another replica. */
  resumed(files: readonly ReadyFile[]): void {
    for (const f of files) {
      const row = this.d.ledger.get(f.path);
      this.held.set(f.path, { attempts: row?.attempts ?? 0, submittedAt: row?.submittedAt ?? null, state: row?.state ?? 'queued' });
    }
  }

  /**
   * Recorded before the request goes out: a crash after this line is found again by the history.
   * `at`: when it was made (one time for all the folders of a request: a restart finds its rows by it).
   */
  submitted(files: readonly ReadyFile[], route: Route, o: { attempt: number; target: Target; historyId: string | null; at?: number }): void {
    const submittedAt = o.at ?? this.d.clock.now();
    this.d.ledger.transaction(() => {
      for (const f of files) {
        const attempts = this.attempts(f.path) + 1;
        this.move('submitted', f.path, 'submitted', { attempts, libraryId: o.target.libraryId, folderId: o.target.folderId, historyId: o.historyId, submittedAt, jobId: null, datasetId: null });
        this.held.set(f.path, { attempts, submittedAt, state: 'submitted' });
      }
    });
    for (const f of files) this.d.emit({ type: 'upload.submitted', ...at(f, route), attempt: o.attempt, size: f.size, history_id: o.historyId });
  }

  /** The request's job is known: a restart confirms it instead of looking for it. */
  jobKnown(files: readonly ReadyFile[], historyId: string | null, jobId: string): void {
    this.d.ledger.transaction(() => {
      if (historyId !== null) this.d.ledger.rememberJob(historyId, jobId);
      for (const f of files) this.move('job_known', f.path, 'submitted', { jobId });
    });
  }

  datasetKnown(relPath: string, datasetId: string): void {
    this.update(relPath, { datasetId });
  }

  /** A failed try, sent again after `delayMs`. */
  /** `counted: false`: Galaxy was down as a whole, not the files at fault: the attempt does not count. */
  retrying(files: readonly ReadyFile[], route: Route, reason: string, attempt: number, delayMs: number, o: { counted: boolean } = { counted: true }): void {
    this.d.ledger.transaction(() => {
      for (const f of files) this.move('retrying', f.path, 'retrying', o.counted ? { lastError: reason } : { lastError: reason, attempts: this.uncount(f.path) });
    });
    if (!o.counted) reason = `${reason} (Galaxy is down: the attempt does not count)`;
    for (const f of files) this.d.emit({ type: 'upload.retry', ...at(f, route), attempt, reason, delay_ms: Math.round(delayMs) });
  }

  /** The key, not the files, was at fault: back to queued, and the attempt does not count. */
  requeued(files: readonly ReadyFile[]): void {
    this.d.ledger.transaction(() => {
      for (const f of files) this.move('requeued', f.path, 'queued', { attempts: this.uncount(f.path) });
    });
    for (const f of files) this.d.emit({ type: 'upload.requeued', file: f.path, cause: 'key_refused' });
  }

  /** `galaxy-importd retry`: a failed file queued again, its attempts from zero; a running daemon takes it at its next walk. */
  retryRequested(rec: FileRecord): void {
    this.check('retry_requested', rec.path, rec.state);
    this.update(rec.path, { state: 'queued', attempts: 0, lastError: `retry requested after: ${rec.lastError ?? 'failure'}` });
    this.d.emit({ type: 'upload.requeued', file: rec.path, cause: 'retry' });
  }

  /**
   * A request or job of several files failed as a whole: each half is sent on its own. The
   * split does not count as an attempt: most of the files failed only because another did.
   */
  split(files: readonly ReadyFile[], route: Route, reason: string, jobId: string | null): void {
    this.d.ledger.transaction(() => {
      for (const f of files) this.move('split', f.path, 'retrying', { lastError: reason, attempts: this.uncount(f.path) });
    });
    this.d.emit({ type: 'upload.split', library: route.library, folder: folderText(route), files: files.length, job_id: jobId, reason });
  }

  /**
   * The request created no job in `historyId`: the rows forget the history before it goes back
   * to the pool, so that a restart never takes the next request's job for theirs.
   */
  unassigned(files: readonly ReadyFile[], historyId: string): void {
    this.d.ledger.transaction(() => {
      for (const f of files) if (this.d.ledger.get(f.path)?.historyId === historyId) this.move('unassigned', f.path, 'retrying', { historyId: null });
    });
  }

  failed(file: ReadyFile, route: Route, reason: string, attempt: number): void {
    this.leave('failed', file, 'failed', { lastError: reason }, { type: 'upload.failed', ...at(file, route), attempt, reason });
  }

  /** Its dataset is ok in Galaxy: uploaded now (`jobId`, or null for method = paths), or found there already (`target`). */
  /** `verified`: what the stored hash's comparison found (method = paths, stored-hashes.ts), where the job itself did not check. */
  ok(file: ReadyFile, route: Route, datasetId: string, how: { jobId: string | null; verified?: boolean } | { found: Target }): void {
    if ('found' in how) {
      const fields = { datasetId, libraryId: how.found.libraryId, folderId: how.found.folderId, lastError: null };
      this.leave('found', file, 'ok', fields, { type: 'upload.ok', ...at(file, route), dataset_id: datasetId, size: file.size, reason: 'already in Galaxy' });
    } else {
      // The time it became ok, from this clock (#update): queued() compares it with a new version's mtime.
      const took = this.d.clock.now() - file.readyAt;
      // Sent with its checksum (the fetch item's hashes), the job that made it ok verified it; the
      // legacy paths upload (no job id) sends none: Galaxy's stored hash was compared after the job.
      const verified = how.verified ?? ((file.checksum != null || file.provided !== undefined) && how.jobId !== null);
      this.leave('ok', file, 'ok', { datasetId, jobId: how.jobId, lastError: null, verified }, { type: 'upload.ok', ...at(file, route), job_id: how.jobId, dataset_id: datasetId, size: file.size, duration_ms: took, verified });
    }
  }

  /** Galaxy read other bytes than those whose checksum was sent: no longer on its way, it settles again (admission takes it). */
  resettled(file: ReadyFile, reason: string): void {
    this.leave('resettled', file, 'settling', { lastError: reason }, { type: 'file.changed', file: file.path, size: file.size, reason });
  }

  /** A provider's checksum list names it, and it is not there: recorded until it arrives (lists.ts). */
  missing(relPath: string, list: string, line: number): void {
    this.check('listed_missing', relPath, this.d.ledger.get(relPath)?.state ?? null);
    this.put(relPath, { size: -1, mtimeMs: -1 }, 'missing', { lastError: `named in ${list} line ${line}, not in the import directory` });
    this.d.emit({ type: 'file.missing', file: relPath, list, line });
  }

  /** Another replica took these over: this process leaves them alone (their rows are its now). */
  released(files: readonly ReadyFile[]): void {
    for (const f of files) this.held.delete(f.path);
    this.d.shrank();
  }

}
