import type { Clock } from '../clock.js';
import type { GalaxyClient, JobSummary } from '../galaxy/client.js';
import { GalaxyApiError } from '../galaxy/errors.js';
import { groupBy } from '../group.js';
import { TurnGather } from './turn.js';

/**
 * Job looks, shared. Every batch in flight waits for its Galaxy job; each asking on its own
 * made one `GET /api/jobs/{id}` per job per look. Here the looks due in one turn are gathered,
 * and the jobs of one upload history are answered by one listing of the jobs Galaxy updated
 * since the earliest of them could have changed (`GET /api/jobs?history_id=…&date_range_min=…`;
 * Galaxy filters on the job's `update_time`, which is never before its `create_time`). A job
 * the listing leaves out (a clock far off, more jobs than `LISTING_LIMIT`) is looked at on its
 * own, so a listing can only save requests, never lose a job.
 *
 * For looks to fall in one turn, the confirmers wait until the same due times: `alignedDelay`
 * (grid.ts) puts each look on the shared grid.
 */

/** Jobs asked for in one listing; a longer answer could hide a job, which is then looked at alone. */
export const LISTING_LIMIT = 500;

/** What the looks need to know of a job. */
export interface JobRef {
  jobId: string;
  /** The upload history the job runs in; null (the legacy upload path, an unknown history): looked at alone. */
  historyId: string | null;
  /** Galaxy cannot have updated the job before this (ms since the epoch, Galaxy's clock); null: unknown, looked at alone. */
  sinceMs: number | null;
}

interface Waiter extends JobRef {
  resolve: (job: JobSummary) => void;
  reject: (err: unknown) => void;
}

export interface JobLooksDeps {
  client: Pick<GalaxyClient, 'showJob' | 'listJobs'>;
  clock: Pick<Clock, 'setTimeout'>;
}

export class JobLooks {
  readonly #d: JobLooksDeps;
  readonly #turn: TurnGather<Waiter>;
  /** False once Galaxy refused a listing's parameters (a release without `date_range_min`): every look alone from then on. */
  #listings = true;

  constructor(deps: JobLooksDeps) {
    this.#d = deps;
    this.#turn = new TurnGather(deps.clock, (waiting) => void this.#flush(waiting));
  }

  /** The job as Galaxy has it now: answered with the other looks of this turn. */
  look(ref: JobRef): Promise<JobSummary> {
    return new Promise((resolve, reject) => this.#turn.add({ ...ref, resolve, reject }));
  }

  async #flush(waiting: readonly Waiter[]): Promise<void> {
    const listable = (w: Waiter): boolean => this.#listings && w.historyId !== null && w.sinceMs !== null && !Number.isNaN(w.sinceMs);
    const alone = waiting.filter((w) => !listable(w));
    const lists: Promise<void>[] = [];
    // A history's jobs are listed even when only one is looked at: `GET /api/jobs/{id}` answers with
    // the job's parameters, the whole fetch request among them (about 300 bytes a file: 3 MB a look
    // at a job of 10,000 files), where the listing has a summary of each job.
    for (const [historyId, group] of groupBy(waiting.filter(listable), (w) => w.historyId as string)) lists.push(this.#list(historyId, group));
    await Promise.all([this.#alone(alone), ...lists]);
  }

  /** Each job looked at once, whatever number of looks wait for it. */
  async #alone(waiters: readonly Waiter[]): Promise<void> {
    await Promise.all([...groupBy(waiters, (w) => w.jobId)].map(async ([jobId, ws]) => {
      try {
        const job = await this.#d.client.showJob(jobId);
        for (const w of ws) w.resolve(job);
      } catch (err) {
        for (const w of ws) w.reject(err);
      }
    }));
  }

  async #list(historyId: string, group: Waiter[]): Promise<void> {
    let jobs: JobSummary[];
    try {
      const since = Math.min(...group.map((w) => w.sinceMs ?? 0));
      jobs = await this.#d.client.listJobs({ historyId, updatedSinceMs: since, limit: LISTING_LIMIT });
    } catch (err) {
      if (err instanceof GalaxyApiError && err.fromGalaxy && (err.status === 400 || err.status === 422)) {
        // The request itself is refused, not Galaxy busy or down: the jobs are looked at one by one, as before there were listings.
        this.#listings = false;
        await this.#alone(group);
        return;
      }
      for (const w of group) w.reject(err);
      return;
    }
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const missed: Waiter[] = [];
    for (const w of group) {
      const job = byId.get(w.jobId);
      if (job) w.resolve(job);
      else missed.push(w);
    }
    await this.#alone(missed);
  }
}
