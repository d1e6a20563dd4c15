import type { Emit } from '../observe/events.js';
import type { ReadyFile } from './files.js';
import type { Gate } from './gate.js';
import { backoffMs } from '../retry.js';
import type { Route } from './route.js';
import { routeKey } from './route.js';

/**
 * Systemic failures pause, not fail. When Galaxy's upload jobs keep ending in error (a full
 * disk, a broken job runner), splitting each failed request down to single files would fail
 * every file of a backlog one job at a time. So after JOB_FAILURES_TO_PAUSE jobs in a row ended
 * in error, with none ok between, uploads pause (the gate, kind `failing`; /readyz says why) and
 * ask again after a pause that doubles each time (1, 2, 4 … 15 minutes, and no longer than
 * [upload] backoff_max_seconds). The first job that ends
 * ok resumes them for good, and the files that failed because their job ended in error during
 * that run of failures are queued again, once (their attempts still count toward max_attempts).
 */

/** Jobs ended in error in a row that pause uploads. */
export const JOB_FAILURES_TO_PAUSE = 3;
/** The pauses: the first, and the longest ([upload] backoff_max_seconds caps both). */
export const FAILING_PAUSE = { firstMs: 60_000, capMs: 15 * 60_000, factor: 2, jitter: false } as const;
/** Job ids remembered, so that one job of several folders counts once. */
const JOBS_KEPT = 256;

export interface BreakerDeps {
  gate: Pick<Gate, 'failing'>;
  emit: Emit;
  /** Files failed during a run of failures, queued again once a job ends ok. */
  requeue: (files: readonly { file: ReadyFile; route: Route }[]) => void;
  /** [upload] backoff_max_seconds, in ms: no pause is longer. */
  maxPauseMs: number;
}

export class JobBreaker {
  readonly #d: BreakerDeps;
  /** Jobs ended in error since the last ok one. */
  #streak = 0;
  /** Pauses in this run of failures. */
  #pauses = 0;
  readonly #seen = new Set<string>();
  /** Files failed by a job that ended in error, since the last ok job, by path. */
  readonly #failed = new Map<string, { file: ReadyFile; route: Route }>();

  constructor(deps: BreakerDeps) {
    this.#d = deps;
  }

  /** Paused at least once in the current run of failures. */
  get tripped(): boolean {
    return this.#pauses > 0;
  }

  /**
   * A job ended (each folder of a job says so; it counts once). `failed`: this folder's files
   * the job's failure failed for good (not those split to go again).
   */
  ended(jobId: string, ok: boolean, reason: string, failed: readonly ReadyFile[] = [], route?: Route): void {
    if (!ok && route !== undefined) for (const file of failed) this.#failed.set(`${routeKey(route)}\0${file.path}`, { file, route });
    if (this.#seen.has(jobId)) return;
    this.#seen.add(jobId);
    if (this.#seen.size > JOBS_KEPT) this.#seen.delete(this.#seen.values().next().value as string);
    if (ok) return this.#ok(jobId);
    this.#streak++;
    if (this.#streak < JOB_FAILURES_TO_PAUSE) return;
    this.#pauses++;
    const cap = Math.min(FAILING_PAUSE.capMs, this.#d.maxPauseMs);
    const pauseMs = backoffMs(this.#pauses, { ...FAILING_PAUSE, firstMs: Math.min(FAILING_PAUSE.firstMs, cap), capMs: cap });
    const why = `the last ${this.#streak} upload jobs ended in error (the latest, ${reason}); Galaxy may be out of disk space, or its job handlers broken: uploads are paused and tried again in ${pauseMs >= 60_000 ? `${Math.round(pauseMs / 60_000)} min` : `${Math.round(pauseMs / 1000)} s`}`;
    // The gate says so (galaxy.jobs_failing), so that idle() sees the pause at once.
    this.#d.gate.failing(why, pauseMs, { jobs: this.#streak, jobId, reason });
  }

  #ok(jobId: string): void {
    const wasPaused = this.#pauses > 0;
    const failedJobs = this.#streak;
    const again = [...this.#failed.values()];
    this.#streak = 0;
    this.#pauses = 0;
    this.#failed.clear();
    if (!wasPaused) return;
    this.#d.emit({ type: 'galaxy.jobs_ok', job_id: jobId, failed_jobs: failedJobs, requeued: again.length });
    if (again.length > 0) this.#d.requeue(again);
  }
}
