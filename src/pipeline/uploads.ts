import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { within } from '../clock.js';
import type { Coordinator, FileRecord } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import { Ahead } from './ahead.js';
import type { Group } from './batcher.js';
import { BATCHES_IN_FLIGHT, Batcher, filesInFlight } from './batcher.js';
import type { Confirmer } from './confirm.js';
import type { Files, ReadyFile } from './files.js';
import type { HistoryPool } from './histories.js';
import type { Recovery } from './recover.js';
import type { Verdict } from './retry.js';
import { waitAs } from './retry.js';
import type { Backoff } from '../retry.js';
import { backoffMs } from '../retry.js';
import type { Route } from './route.js';
import type { Submitter } from './submit.js';
import type { Attempt, RequestDeps, Sending } from './request.js';
import { allFiles, confirmAll, halves, requestsOf, sendRequest } from './request.js';
import type { Target, Targets } from './targets.js';
import { targetOf } from './targets.js';

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
  gate: { wait(): Promise<void>; block(message: string): void; readonly blocked: string | null };
  /** How to wait after a failed Galaxy call that sends no file (waitOutGalaxy). */
  onFailure(err: unknown, attempt: number, route: Route): number | Promise<void>;
  /** Whether a failure met Galaxy down as a whole (retry.ts, isOutage): the files' attempt does not count. */
  outage(verdict: Verdict): Promise<boolean>;
  clock: Clock;
  signal: AbortSignal;
  emit: Emit;
  random?: () => number;
  options: UploadsOptions;
}

export class Uploads {
  readonly #d: UploadsDeps;
  readonly #o: UploadsOptions;
  readonly #batcher: Batcher;
  readonly #tasks = new Set<Promise<void>>();
  readonly #ahead: Ahead;
  /** What a request's run (request.ts) needs of this one. */
  readonly #request: RequestDeps;

  constructor(deps: UploadsDeps) {
    // Every waiting batch listens on this signal; hundreds may wait at once.
    setMaxListeners(0, deps.signal);
    this.#d = deps;
    this.#o = deps.options;
    this.#ahead = new Ahead({ targets: deps.targets, gate: deps.gate });
    this.#batcher = new Batcher({
      batchSize: this.#o.batchSize,
      lingerMs: this.#o.lingerMs,
      maxInFlight: BATCHES_IN_FLIGHT,
      maxFilesInFlight: filesInFlight(this.#o.batchSize),
      combine: deps.submitter.combines,
      clock: deps.clock,
      send: (groups) => this.#track(this.#process(groups)),
    });
    this.#request = {
      ...deps,
      afterFailure: (verdict, parts) => this.#afterFailure(verdict, parts),
      recoverLater: (parts, history) => void this.#track(this.#recover(parts, { historyId: history, jobId: null })),
    };
  }

  get #stopped(): boolean {
    return this.#d.signal.aborted;
  }

  /** A burst of ready files is on its way (true) or all queued (false): requests not full wait for it (batcher.ts, hold). */
  readonly hold = (on: boolean): void => this.#batcher.hold(on);

  /** A ready file: recorded as queued and put in its folder's batch. */
  add(file: ReadyFile, route: Route): void {
    if (this.#stopped || !this.#d.files.queued(file, route)) return;
    this.#batcher.add(file, route);
  }

  /** A file began to settle: its library and folder are looked up ahead (ahead.ts). */
  prepare(route: Route): void {
    if (!this.#stopped) this.#ahead.prepare(route);
  }

  /**
   * After a restart: files the ledger says were submitted are confirmed, or looked for, not sent
   * blindly again. One request's files (one job, or one history and time) are looked for
   * together, whatever folders they are in: the job found is theirs, all of them.
   */
  resume(records: readonly FileRecord[], routeOf: (relPath: string) => Route): void {
    for (const { first, groups } of requestsOf(records, routeOf, this.#d.clock.now())) {
      this.#d.files.resumed(allFiles(groups));
      // Only a request whose job is unknown is looked for in its history.
      if (first.historyId !== null && first.jobId === null) this.#d.histories.reserve(first.historyId);
      void this.#track(this.#recover(groups, first));
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
    return waitAs(this.#d.onFailure(err, attempt, route), this.#d.clock, this.#d.signal);
  }

  /** A failed request: wait as the verdict says, recording its files as retrying. False when stopping. */
  async #afterFailure(verdict: Verdict, parts: readonly Sending[]): Promise<boolean> {
    if (verdict.kind === 'blocked') {
      this.#d.gate.block(verdict.message);
      return this.#d.gate.wait().then(() => !this.#stopped);
    }
    const delay = backoffMs(Math.max(...parts.map((p) => p.attempt)), this.#o.backoff, verdict.kind === 'transient' ? verdict.retryAfterMs : null, this.#d.random);
    const counted = !(await this.#d.outage(verdict)); // Galaxy down as a whole: the files wait as long as it lasts
    for (const p of parts) this.#d.files.retrying(p.files, p.route, verdict.message, p.attempt, delay, { counted });
    return this.#d.clock.sleep(delay, this.#d.signal);
  }

  /** Library and folder ids (targets.ts). */ #target(files: readonly ReadyFile[], route: Route): Promise<Target | null> {
    return targetOf({ ...this.#d, maxAttempts: this.#o.maxAttempts }, files, route);
  }

  /**
   * One request for the files of one folder, or of several (fetch: a target each, one job), sent
   * again until it is done: each folder's target, a look for files already in Galaxy, the rows,
   * the request, the confirmation. A request that fails as a whole is split in halves (#split),
   * so one bad file never fails its neighbours.
   */
  async #process(initial: readonly Group[]): Promise<void> {
    let groups: Group[] = initial.map((g) => ({ route: g.route, files: [...g.files] }));
    const { files: states } = this.#d;
    let stalls = 0; // failed looks in Galaxy (the folder, a history) before sending: each waits longer
    for (;;) {
      groups = groups.filter((g) => g.files.length > 0);
      if (this.#stopped || groups.length === 0) return;
      const parts: Sending[] = [];
      let stalled: { err: unknown; route: Route } | null = null;
      // The folders of a request found or created together: new folders under one parent share their looks (targets.ts).
      const targets = await Promise.all(groups.map((g) => this.#target(g.files, g.route)));
      for (const [i, g] of groups.entries()) {
        const target = targets[i];
        if (!target) {
          if (this.#stopped) return;
          g.files = []; // failed for good, recorded
          continue;
        }
        // A new ledger looks for what is in Galaxy already, except in a folder this process made.
        const recheck = g.files.filter((f) => (this.#o.rebuild && target.madeHere !== true) || states.submittedAt(f.path) !== null);
        if (recheck.length > 0) {
          try {
            // Files never sent, looked for only because the ledger is new, share a look at the folder.
            const shared = recheck.every((f) => states.submittedAt(f.path) === null);
            const { adopted, running } = await this.#d.recovery.existing(recheck, target, g.route, { shared });
            if (running.size > 0) {
              const waiting = g.files.filter((f) => running.has(f.path));
              await this.#d.confirmer.confirm(null, waiting, g.route, target, states.attempts(waiting[0]?.path ?? '') || 1, { known: running });
            }
            g.files = g.files.filter((f) => !adopted.has(f.path));
          } catch (err) {
            stalled = { err, route: g.route };
            break;
          }
        }
        const over = g.files.filter((f) => states.attempts(f.path) >= this.#o.maxAttempts);
        for (const f of over) states.failed(f, g.route, `gave up after ${this.#o.maxAttempts} attempts: ${states.record(f.path)?.lastError ?? 'unknown error'}`, this.#o.maxAttempts);
        g.files = g.files.filter((f) => !over.includes(f));
        if (g.files.length > 0) parts.push({ files: g.files, route: g.route, target, attempt: Math.max(...g.files.map((f) => states.attempts(f.path) + 1)) });
      }
      if (stalled !== null) {
        if (!(await this.#stall(stalled.err, ++stalls, stalled.route))) return;
        continue;
      }
      if (parts.length === 0) return;
      // From the wait for a history to Galaxy's answer each folder counts as sending: its next files gather meanwhile.
      const ends = parts.map((p) => this.#batcher.begin(p.route));
      const end = (): void => {
        for (const e of ends) e();
      };
      let outcome: Attempt;
      try {
        let history: string | null = null;
        if (this.#d.submitter.usesHistory) {
          try {
            history = await this.#d.histories.acquire(this.#d.signal);
          } catch (err) {
            if (this.#stopped || !(await this.#stall(err, ++stalls, parts[0]?.route ?? (groups[0] as Group).route))) return;
            continue;
          }
        }
        const at = this.#d.clock.now();
        for (const p of parts) states.submitted(p.files, p.route, { attempt: p.attempt, target: p.target, historyId: history, at });
        // Several replicas: the rows naming this request are in the database before it is sent,
        // and only files this replica still holds go (another may have taken some over).
        try {
          await this.#d.coordinator.commit(this.#d.signal);
        } catch {
          if (history !== null) this.#d.histories.release(history);
          return; // stopping: the rows say submitted; the next holder looks for the request in Galaxy
        }
        for (const p of parts) {
          const lost = p.files.filter((f) => !this.#d.coordinator.owns(f.path));
          states.released(lost);
          p.files = p.files.filter((f) => !lost.includes(f));
        }
        const live = parts.filter((p) => p.files.length > 0);
        if (live.length === 0) {
          if (history !== null) this.#d.histories.release(history);
          return;
        }
        groups = live.map((p) => ({ route: p.route, files: p.files }));
        outcome = await sendRequest(this.#request, live, history, end);
      } finally {
        end();
      }
      if (outcome.kind === 'split') {
        if (outcome.tooLarge === true) this.#tooLarge(allFiles(outcome.parts).length, outcome.reason);
        return this.#split(outcome.parts, outcome.reason, outcome.jobId);
      }
      if (outcome.kind !== 'resend') return;
    }
  }

  /**
   * Galaxy's proxy refused a request of `refused` files as too large (413): later requests hold at most half as many (the refused
   * one goes in halves meanwhile). Said once each time the ceiling is lowered; it holds until a restart or a reload (restoreBatchSize).
   */
  #tooLarge(refused: number, reason: string): void {
    const ceiling = Math.floor(refused / 2);
    if (this.#batcher.lower(ceiling)) this.#d.emit({ type: 'upload.ceiling', refused, ceiling, batch_size: this.#o.batchSize, reason });
  }

  /** A reload (SIGHUP): requests may hold `batch_size` files again, as the proxy may have been raised; a proxy that still refuses them lowers it again. */
  restoreBatchSize(): void {
    if (this.#batcher.restore()) this.#d.emit({ type: 'upload.ceiling_reset', batch_size: this.#o.batchSize });
  }

  /**
   * One bad file must not fail its neighbours: the request goes again in halves, its folders in two
   * (about as many files each), then a folder's files in two, down to single files. A request of
   * 100 folders that failed (a 413 from a proxy, say) is two requests, not 100 jobs.
   */
  async #split(parts: readonly Sending[], reason: string, jobId: string | null): Promise<void> {
    for (const p of parts) this.#d.files.split(p.files, p.route, reason, jobId);
    const groups = parts.map((p) => ({ route: p.route, files: p.files }));
    await Promise.all(halves(groups).map((h) => this.#process(h)));
  }

  /** A request that may have reached Galaxy (a restart, a lost answer): confirmed if it did, else sent again. */
  async #recover(groups: readonly Group[], rec: { historyId: string | null; jobId: string | null }): Promise<void> {
    const first = groups[0];
    if (first === undefined) return;
    const r = await this.#d.recovery.recover(allFiles(groups), first.route, rec);
    if (r.kind === 'resend') return this.#process(groups);
    if (r.kind !== 'job') return;
    const parts: Sending[] = [];
    for (const g of groups) {
      const target = await this.#target(g.files, g.route);
      if (target !== null) parts.push({ files: [...g.files], route: g.route, target, attempt: this.#d.files.attempts(g.files[0]?.path ?? '') || 1 });
    }
    const c = await confirmAll(this.#request, r.jobId, parts, { historyId: rec.historyId });
    if (c.kind === 'split') await this.#split(c.parts, c.reason, c.jobId);
    else if (c.kind === 'resend') await this.#process(groups);
  }
}
