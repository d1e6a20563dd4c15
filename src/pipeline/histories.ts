import type { GalaxyClient } from '../galaxy/client.js';
import { GalaxyApiError } from '../galaxy/errors.js';
import type { Ledger } from '../ledger/ledger.js';

const META_KEY = 'histories';

export type HistoryClient = Pick<GalaxyClient, 'createHistory' | 'listJobs'>;

/**
 * Galaxy's answer when a request names a history that was deleted or purged (in the UI, say):
 * 403 with 403003, "History is immutable" (Galaxy 26.1; docs/galaxy-notes.md).
 */
export function isHistoryGone(err: unknown): boolean {
  return err instanceof GalaxyApiError && err.fromGalaxy && err.errCode === 403003;
}

/**
 * The fetch API needs a history. Each upload request takes one history for
 * itself until Galaxy's answer (the job id) is in the ledger, so that after a
 * lost answer any job in that history that the ledger does not know is the
 * one that request created. The pool grows to at most `max` histories held at
 * once (the upload requests that can be on their way: `[upload] concurrency`);
 * a request beyond that waits for one to be released. It is kept in the ledger
 * across restarts. Without the bound, every batch waiting for its turn to send
 * held a history of its own: 64 new histories in Galaxy at 200 files/s, and the
 * jobs spread over them could not share their looks (job-looks.ts).
 */
export class HistoryPool {
  readonly #client: HistoryClient;
  readonly #ledger: Pick<Ledger, 'getMeta' | 'setMeta' | 'coordinator' | 'jobsOf' | 'transaction' | 'rememberJob'>;
  readonly #free: string[];
  readonly #all: string[];
  /** Histories handed out or reserved, with how many holders each has. */
  readonly #held = new Map<string, number>();
  /** Histories whose existing jobs are recorded as known in this run (created ones need nothing). */
  readonly #baselined = new Set<string>();

  /** Histories of this pool not to hand out in this run (another replica looks for a request in them). */
  readonly #barred = new Set<string>();
  /** Each replica of a shared ledger has histories of its own. */
  readonly #metaKey: string;
  readonly #max: number;
  /** Histories being made in Galaxy: they count as held. */
  #creating = 0;
  /** Requests waiting for a history, first come first served. */
  readonly #waiting: { resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(client: HistoryClient, ledger: Pick<Ledger, 'getMeta' | 'setMeta' | 'coordinator' | 'jobsOf' | 'transaction' | 'rememberJob'>, o: { max?: number } = {}) {
    this.#client = client;
    this.#ledger = ledger;
    this.#max = Math.max(1, o.max ?? Infinity);
    const replica = ledger.coordinator.replica;
    this.#metaKey = replica === null ? META_KEY : `${META_KEY}@${replica}`;
    this.#all = JSON.parse(ledger.getMeta(this.#metaKey) ?? '[]') as string[];
    this.#free = [...this.#all];
  }

  /** A history for one upload request; waits while `max` are held. Rejects when `signal` aborts while it waits. */
  async acquire(signal?: AbortSignal): Promise<string> {
    while (this.#free.length === 0 && this.#held.size + this.#creating >= this.#max) await this.#turn(signal);
    const free = this.#free.pop();
    if (free !== undefined) {
      this.#held.set(free, 1);
      try {
        await this.#baseline(free);
      } catch (err) {
        this.release(free);
        throw err;
      }
      return free;
    }
    // Named after the replica too with a shared ledger, so that an admin sees whose it is.
    const replica = this.#ledger.coordinator.replica;
    const owner = replica === null ? '' : ` (${replica})`;
    let created: { id: string };
    this.#creating++;
    try {
      created = await this.#client.createHistory(`galaxy-importd uploads ${this.#all.length + 1}${owner}`);
    } catch (err) {
      this.#creating--;
      this.#waiting.shift()?.resolve(); // its turn to try
      throw err;
    }
    this.#creating--;
    this.#all.push(created.id);
    this.#ledger.setMeta(this.#metaKey, JSON.stringify(this.#all));
    this.#held.set(created.id, 1);
    this.#baselined.add(created.id);
    return created.id;
  }

  /**
   * Before a history from an earlier run is used again, every job already in it is recorded as
   * known. A free history has no interrupted request waiting, so a job in it that the ledger
   * does not know belongs to files settled some other way (found in Galaxy by name); were it
   * left unknown, a later lost answer in this history could be taken for that job.
   */
  async #baseline(id: string): Promise<void> {
    if (this.#baselined.has(id)) return;
    const jobs = await this.#client.listJobs({ historyId: id, toolId: '__DATA_FETCH__', limit: 500 });
    const known = this.#ledger.jobsOf(id);
    this.#ledger.transaction(() => {
      for (const j of jobs) if (!known.has(j.id)) this.#ledger.rememberJob(id, j.id);
    });
    this.#baselined.add(id);
  }

  #turn(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(new Error('stopping'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(new Error('stopping'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** One holder is done with the history; it is free again when no holder is left. */
  release(id: string): void {
    const held = (this.#held.get(id) ?? 1) - 1;
    if (held > 0) {
      this.#held.set(id, held);
      return;
    }
    this.#held.delete(id);
    // A history of another replica's (held while its request is looked for) never joins this pool.
    if (this.#all.includes(id) && !this.#barred.has(id) && !this.#free.includes(id)) this.#free.push(id);
    this.#waiting.shift()?.resolve();
  }

  /** Never to be handed out again: Galaxy no longer takes uploads into it (isHistoryGone). */
  retire(id: string): void {
    const at = this.#all.indexOf(id);
    if (at < 0) return;
    this.#all.splice(at, 1);
    const free = this.#free.indexOf(id);
    if (free >= 0) this.#free.splice(free, 1);
    this.#ledger.setMeta(this.#metaKey, JSON.stringify(this.#all));
  }

  /** Not to be handed out in this run: another replica looks for a request in these. */
  bar(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#barred.add(id);
      const i = this.#free.indexOf(id);
      if (i >= 0) this.#free.splice(i, 1);
    }
  }

  /**
   * Hold a history for recovery: it must not be handed out while a lost request is looked
   * for in it. Several interrupted requests can name the same history; each holds it.
   */
  reserve(id: string): void {
    const i = this.#free.indexOf(id);
    if (i >= 0) this.#free.splice(i, 1);
    this.#held.set(id, (this.#held.get(id) ?? 0) + 1);
  }
}
