import type { Clock, Timer } from '../clock.js';
import type { ReadyFile } from './files.js';
import type { Route } from './route.js';
import { routeKey } from './route.js';

/**
 * The queue: ready files of one folder gather into batches of up to `batchSize`, each sent
 * as one request (one Galaxy job). Natural batching: with no request of that folder on its
 * way, a batch goes at the next turn (files ready in the same turn go together); otherwise it
 * gathers until that request is answered, the batch is full, or `lingerMs` has passed.
 *
 * At most `maxInFlight` batches are on their way at once (target, submit, confirm): the rest
 * wait here as lists of files, in the order they became due, and go as batches end. A
 * backlog of 1,000 folders is then 64 jobs in Galaxy at a time (uploads.ts, BATCHES_IN_FLIGHT),
 * not 1,000, and the daemon holds 64 batches' requests, polls and answers, not 1,000.
 */

interface Batch {
  route: Route;
  key: string;
  files: ReadyFile[];
  timer: Timer | null;
}

export interface BatcherOptions {
  batchSize: number;
  lingerMs: number;
  /** Batches on their way at once. */
  maxInFlight: number;
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  /** A batch to send; it is on its way until the promise settles. */
  send(files: ReadyFile[], route: Route): Promise<void>;
}

export class Batcher {
  readonly #o: BatcherOptions;
  readonly #batches = new Map<string, Batch>();
  /** Requests of each folder on their way. */
  readonly #sending = new Map<string, number>();
  /** Batches due, waiting for one on its way to end (insertion order is their turn). */
  readonly #due = new Set<string>();
  #inFlight = 0;

  constructor(o: BatcherOptions) {
    this.#o = o;
  }

  add(file: ReadyFile, route: Route): void {
    const key = routeKey(route);
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = { route, key, files: [], timer: null };
      this.#batches.set(key, batch);
    }
    batch.files.push(file);
    if (this.#due.has(key)) return;
    if (batch.files.length >= this.#o.batchSize) this.#flush(batch);
    else batch.timer ??= this.#o.clock.setTimeout(() => this.#flush(batch), (this.#sending.get(key) ?? 0) === 0 ? 0 : this.#o.lingerMs);
  }

  /**
   * One of `route`'s requests is on its way from now (its history waited for, its rows written,
   * the request sent) until the returned function is called, once or more: the folder's next
   * files gather meanwhile, and its end sends what gathered.
   */
  begin(route: Route): () => void {
    const key = routeKey(route);
    this.#sending.set(key, (this.#sending.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.#sending.get(key) ?? 1) - 1;
      if (n > 0) this.#sending.set(key, n);
      else {
        this.#sending.delete(key);
        const waiting = this.#batches.get(key);
        if (waiting && waiting.files.length > 0) this.#flush(waiting);
      }
    };
  }

  /** Forget every batch not yet sent (their files stay queued in the ledger). */
  clear(): void {
    for (const batch of this.#batches.values()) this.#o.clock.clearTimeout(batch.timer);
    this.#batches.clear();
    this.#due.clear();
  }

  /** Batches on their way, and those due that wait for one of them to end. */
  get inFlight(): { sending: number; waiting: number } {
    return { sending: this.#inFlight, waiting: this.#due.size };
  }

  #flush(batch: Batch): void {
    this.#o.clock.clearTimeout(batch.timer);
    batch.timer = null;
    if (this.#inFlight >= this.#o.maxInFlight) {
      this.#due.add(batch.key);
      return;
    }
    const files = batch.files.splice(0, this.#o.batchSize);
    if (batch.files.length === 0) this.#batches.delete(batch.key);
    else batch.timer = this.#o.clock.setTimeout(() => this.#flush(batch), 0);
    if (files.length === 0) return;
    this.#inFlight++;
    void this.#o.send(files, batch.route).finally(() => {
      this.#inFlight--;
      this.#next();
    });
  }

  /** A batch ended: the next one due goes. */
  #next(): void {
    for (const key of this.#due) {
      if (this.#inFlight >= this.#o.maxInFlight) return;
      this.#due.delete(key);
      const batch = this.#batches.get(key);
      if (batch) this.#flush(batch);
    }
  }
}
