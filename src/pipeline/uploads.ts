import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { within } from '../clock.js';
import type { Coordinator, FileRecord } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import { Batcher } from './batcher.js';
import type { Confirmed, Confirmer } from './confirm.js';
import type { Files, ReadyFile } from './files.js';
import type { HistoryPool } from './histories.js';
import { isHistoryGone } from './histories.js';
import type { Recovery } from './recover.js';
import type { Backoff, Verdict } from './retry.js';
import { backoffMs, classify, retry } from './retry.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import type { Sent, Submitter } from './submit.js';
import type { Target, Targets } from './targets.js';

/**
 * The upload stages in order, for each batch: target (library and folder) → look for files
 * already in Galaxy → submit → confirm, with failures retried, split or recorded per file.
 * Each stage is its own module; this one runs them and owns the tasks and the stop.
 */

export interface UploadsOptions {
  batchSize: number;
  maxAttempts: number;
  backoff: Backoff;
  lingerMs: number;
  /** The ledger was started empty: look for each file in Galaxy before uploading it. */
  rebuild: boolean;
}

export interface UploadsDeps {
  files: Pick<Files, 'queued' | 'resumed' | 'record' | 'attempts' | 'submittedAt' | 'failed' | 'submitted' | 'released' | 'jobKnown' | 'datasetKnown' | 'unassigned' | 'requeued' | 'retrying' | 'split'>;
  targets: Pick<Targets, 'resolve'>;
  histories: Pick<HistoryPool, 'acquire' | 'release' | 'retire' | 'reserve'>;
  submitter: Submitter;
  confirmer: Pick<Confirmer, 'confirm'>;
  recovery: Pick<Recovery, 'recover' | 'existing' | 'acceptedJob'>;
  coordinator: Pick<Coordinator, 'commit' | 'owns'>;
  gate: { wait(): Promise<void>; block(message: string): void };
  /** How to wait after a failed Galaxy call that sends no file (waitOutGalaxy). */
  onFailure(err: unknown, attempt: number, route: Route): number | Promise<void>;
  clock: Clock;
  signal: AbortSignal;
  emit: Emit;
  random?: () => number;
  options: UploadsOptions;
}

/** Batches on their way at once (batcher.ts): enough to keep `concurrency` requests busy while jobs run. */
export const BATCHES_IN_FLIGHT = 64;

type Attempt = { kind: 'stopped' } | { kind: 'done' } | { kind: 'resend' } | { kind: 'split'; reason: string; jobId: string | null };

export class Uploads {
  readonly #d: UploadsDeps;
  readonly #o: UploadsOptions;
  readonly #batcher: Batcher;
  readonly #tasks = new Set<Promise<void>>();

  constructor(deps: UploadsDeps) {
    // Every waiting batch listens on this signal; hundreds may wait at once.
    setMaxListeners(0, deps.signal);
    this.#d = deps;
    this.#o = deps.options;
    this.#batcher = new Batcher({ batchSize: this.#o.batchSize, lingerMs: this.#o.lingerMs, maxInFlight: BATCHES_IN_FLIGHT, clock: deps.clock, send: (files, route) => this.#track(this.#process(files, route)) });
  }

  get #stopped(): boolean {
    return this.#d.signal.aborted;
  }

  /** A ready file: recorded as queued and put in its folder's batch. */
  add(file: ReadyFile, route: Route): void {
    if (this.#stopped || !this.#d.files.queued(file, route)) return;
    this.#batcher.add(file, route);
  }

  /** After a restart: files the ledger says were submitted are confirmed, or looked for, not sent blindly again. */
  resume(records: readonly FileRecord[], routeOf: (relPath: string) => Route): void {
    const groups = new Map<string, FileRecord[]>();
    for (const r of records) {
      const key = r.jobId !== null ? `job:${r.jobId}` : `history:${r.historyId ?? ''}:${r.submittedAt ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    for (const [first, ...rest] of groups.values()) {
      if (!first) continue;
      const files = [first, ...rest].map((r) => ({ path: r.path, size: r.size, mtimeMs: r.mtimeMs, readyAt: this.#d.clock.now() }));
      this.#d.files.resumed(files);
      // Only a request whose job is unknown is looked for in its history.
      if (first.historyId !== null && first.jobId === null) this.#d.histories.reserve(first.historyId);
      void this.#track(this.#recover(files, routeOf(first.path), first));
    }
  }

  /**
   * Stop (after the signal aborted): batches not yet sent stay `queued` in the ledger; requests
   * in flight are awaited up to `deadlineMs`, then abandoned: their files stay `submitted`,
   * which the next start confirms or looks for in Galaxy.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.#batcher.clear();
    await within(this.#d.clock, Promise.allSettled([...this.#tasks]), deadlineMs);
  }

  #track(task: Promise<void>): Promise<void> {
    const t = task.catch((err: unknown) => this.#d.emit({ type: 'daemon.error', err })).finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
    return t;
  }

  /** Wait as a failed call that sends no file says; false when stopping. */
  async #stall(err: unknown, attempt: number, route: Route): Promise<boolean> {
    const wait = this.#d.onFailure(err, attempt, route);
    if (typeof wait === 'number') return this.#d.clock.sleep(wait, this.#d.signal);
    await wait;
    return !this.#stopped;
  }

  /** A failed request for `files`: wait as the verdict says, recording them as retrying. False when stopping. */
  async #afterFailure(verdict: Verdict, files: readonly ReadyFile[], route: Route, attempt: number): Promise<boolean> {
    if (verdict.kind === 'blocked') {
      this.#d.gate.block(verdict.message);
      await this.#d.gate.wait();
      return !this.#stopped;
    }
    const delay = backoffMs(attempt, this.#o.backoff, verdict.kind === 'transient' ? verdict.retryAfterMs : null, this.#d.random);
    this.#d.files.retrying(files, route, verdict.message, attempt, delay);
    return this.#d.clock.sleep(delay, this.#d.signal);
  }

  /** Library and folder ids, retried while the failure is transient. Null when stopping or failed for good. */
  async #target(files: readonly ReadyFile[], route: Route): Promise<Target | null> {
    try {
      return await retry(() => this.#d.targets.resolve(route), {
        clock: this.#d.clock,
        signal: this.#d.signal,
        before: () => this.#d.gate.wait(),
        onFailure: (err, attempt) => {
          const verdict = classify(err);
          if (verdict.kind === 'permanent' || (verdict.kind === 'transient' && attempt >= this.#o.maxAttempts)) {
            for (const f of files) this.#d.files.failed(f, route, `cannot find or create library ${JSON.stringify(route.library)} folder ${folderText(route)}: ${verdict.message}`, attempt);
            return null;
          }
          return this.#d.onFailure(err, attempt, route);
        },
      });
    } catch {
      return null; // stopping, or recorded failed above
    }
  }

  async #process(initial: readonly ReadyFile[], route: Route): Promise<void> {
    let files = [...initial];
    const { files: states } = this.#d;
    /** Failed looks in Galaxy (the folder, a history) before sending: each waits longer. */
    let stalls = 0;
    for (;;) {
      if (this.#stopped || files.length === 0) return;
      const target = await this.#target(files, route);
      if (target === null) return;
      // A new ledger looks for what is in Galaxy already, except in a folder this process made.
      const recheck = files.filter((f) => (this.#o.rebuild && target.madeHere !== true) || states.submittedAt(f.path) !== null);
      if (recheck.length > 0) {
        try {
          // Files never sent, looked for only because the ledger is new, share a look at the folder.
          const shared = recheck.every((f) => states.submittedAt(f.path) === null);
          const { adopted, running } = await this.#d.recovery.existing(recheck, target, route, { shared });
          if (running.size > 0) {
            const waiting = files.filter((f) => running.has(f.path));
            await this.#d.confirmer.confirm(null, waiting, route, target, states.attempts(waiting[0]?.path ?? '') || 1, { known: running });
          }
          files = files.filter((f) => !adopted.has(f.path));
        } catch (err) {
          if (!(await this.#stall(err, ++stalls, route))) return;
          continue;
        }
        if (files.length === 0) return;
      }
      const over = files.filter((f) => states.attempts(f.path) >= this.#o.maxAttempts);
      for (const f of over) states.failed(f, route, `gave up after ${this.#o.maxAttempts} attempts: ${states.record(f.path)?.lastError ?? 'unknown error'}`, this.#o.maxAttempts);
      files = files.filter((f) => !over.includes(f));
      if (files.length === 0) return;
      // From the wait for a history to Galaxy's answer the folder counts as sending: its next files gather meanwhile.
      const end = this.#batcher.begin(route);
      let outcome: Attempt;
      try {
        let history: string | null = null;
        if (this.#d.submitter.usesHistory) {
          try {
            history = await this.#d.histories.acquire(this.#d.signal);
          } catch (err) {
            if (this.#stopped || !(await this.#stall(err, ++stalls, route))) return;
            continue;
          }
        }
        const attempt = Math.max(...files.map((f) => states.attempts(f.path) + 1));
        states.submitted(files, route, { attempt, target, historyId: history });
        // Several replicas: the rows naming this request are in the database before it is sent,
        // and only files this replica still holds go (another may have taken some over).
        try {
          await this.#d.coordinator.commit(this.#d.signal);
        } catch {
          if (history !== null) this.#d.histories.release(history);
          return; // stopping: the rows say submitted; the next holder looks for the request in Galaxy
        }
        const lost = files.filter((f) => !this.#d.coordinator.owns(f.path));
        states.released(lost);
        files = files.filter((f) => !lost.includes(f));
        if (files.length === 0) {
          if (history !== null) this.#d.histories.release(history);
          return;
        }
        outcome = await this.#attempt(files, route, target, history, attempt, end);
      } finally {
        end();
      }
      if (outcome.kind === 'split') return this.#split(files, route, outcome.reason, outcome.jobId);
      if (outcome.kind !== 'resend') return;
    }
  }

  /** One request for `files`, and what came of it; `answered()` once Galaxy has answered it (the folder's next batch may go). */
  async #attempt(files: readonly ReadyFile[], route: Route, target: Target, history: string | null, attempt: number, answered: () => void): Promise<Attempt> {
    const { files: states, histories } = this.#d;
    let sent: Sent | null = null;
    let failure: Verdict | null = null;
    try {
      sent = await this.#d.submitter.send(files, route, target, history).finally(answered);
    } catch (err) {
      failure = classify(err);
      if (history !== null && isHistoryGone(err)) {
        // Deleted or purged in Galaxy: a new history is made and the files are sent again
        // (the attempt counts, so this too ends after max_attempts).
        histories.retire(history);
        this.#d.emit({ type: 'history.replaced', history_id: history, reason: failure.message });
        failure = { kind: 'transient', uncertain: false, retryAfterMs: null, message: `upload history ${history} was deleted in Galaxy (${failure.message})` };
      }
      if (history !== null && failure.kind === 'transient' && failure.uncertain) {
        try {
          const jobId = await this.#d.recovery.acceptedJob(history);
          if (jobId !== null) sent = { kind: 'job', jobId };
        } catch (checkErr) {
          // Still unknown whether Galaxy took it: keep the history reserved and look again after a pause.
          if (!(await this.#afterFailure(classify(checkErr), files, route, attempt))) return { kind: 'stopped' };
          void this.#track(this.#recover(files, route, { historyId: history, jobId: null }));
          return { kind: 'done' };
        }
      }
    }
    if (sent?.kind === 'job') {
      states.jobKnown(files, history, sent.jobId);
      if (history !== null) histories.release(history);
      return this.#confirmed(await this.#d.confirmer.confirm(sent.jobId, [...files], route, target, attempt, { justSent: true, historyId: history }));
    }
    if (sent?.kind === 'datasets') {
      for (const [p, id] of sent.ids) states.datasetKnown(p, id);
      return this.#confirmed(await this.#d.confirmer.confirm(null, [...files], route, target, attempt, { known: sent.ids, justSent: true }));
    }
    if (history !== null) {
      states.unassigned(files, history);
      histories.release(history);
    }
    if (failure === null) return { kind: 'done' };
    if (failure.kind === 'permanent') {
      if (files.length > 1) return { kind: 'split', reason: failure.message, jobId: null };
      for (const f of files) states.failed(f, route, failure.message, attempt);
      return { kind: 'done' };
    }
    // The key, not the files, is at fault: this attempt does not count.
    if (failure.kind === 'blocked') states.requeued(files);
    return (await this.#afterFailure(failure, files, route, attempt)) ? { kind: 'resend' } : { kind: 'stopped' };
  }

  #confirmed(c: Confirmed): Attempt {
    return c.kind === 'split' ? { kind: 'split', reason: c.reason, jobId: c.jobId } : c;
  }

  /** One bad file must not fail its neighbours: each half is sent on its own, down to single files. */
  async #split(files: readonly ReadyFile[], route: Route, reason: string, jobId: string | null): Promise<void> {
    this.#d.files.split(files, route, reason, jobId);
    const half = Math.ceil(files.length / 2);
    await Promise.all([this.#process(files.slice(0, half), route), this.#process(files.slice(half), route)]);
  }

  /** A request that may have reached Galaxy (a restart, a lost answer): confirmed if it did, else sent again. */
  async #recover(files: readonly ReadyFile[], route: Route, rec: { historyId: string | null; jobId: string | null }): Promise<void> {
    const r = await this.#d.recovery.recover(files, route, rec);
    if (r.kind === 'resend') return this.#process(files, route);
    if (r.kind !== 'job') return;
    const target = await this.#target(files, route);
    if (target === null) return;
    const c = await this.#d.confirmer.confirm(r.jobId, [...files], route, target, this.#d.files.attempts(files[0]?.path ?? '') || 1, { historyId: rec.historyId });
    if (c.kind === 'split') await this.#split(files, route, c.reason, c.jobId);
  }
}

