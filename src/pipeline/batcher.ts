import type { Clock, Timer } from '../clock.js';
import type { ReadyFile } from './files.js';
import type { Route } from './route.js';
import { routeKey } from './route.js';

/**
 * The queue: ready files of one folder gather into batches of up to `batchSize`, each sent
 * as one request (one Galaxy job). Natural batching: with no request of that folder on its
 * way, a batch goes at the next turn (files ready in the same turn go together); otherwise it
 * gathers until that request is answered, the batch is full, or `lingerMs` has passed.
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
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  /** A batch to send. */
  send(files: ReadyFile[], route: Route): void;
}

export class Batcher {
  readonly #o: BatcherOptions;
  readonly #batches = new Map<string, Batch>();
  /** Requests of each folder on their way. */
  readonly #sending = new Map<string, number>();

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
    if (batch.files.length >= this.#o.batchSize) this.#flush(batch);
    else batch.timer ??= this.#o.clock.setTimeout(() => this.#flush(batch), (this.#sending.get(key) ?? 0) === 0 ? 0 : this.#o.lingerMs);
  }

  /** Run `request` as one of `route`'s requests on its way; its end sends what gathered meanwhile. */
  async sending<T>(route: Route, request: () => Promise<T>): Promise<T> {
    const key = routeKey(route);
    this.#sending.set(key, (this.#sending.get(key) ?? 0) + 1);
    try {
      return await request();
    } finally {
      const n = (this.#sending.get(key) ?? 1) - 1;
      if (n > 0) this.#sending.set(key, n);
      else {
        this.#sending.delete(key);
        const waiting = this.#batches.get(key);
        if (waiting && waiting.files.length > 0) this.#flush(waiting);
      }
    }
  }

  /** Forget every batch not yet sent (their files stay queued in the ledger). */
  clear(): void {
    for (const batch of this.#batches.values()) this.#o.clock.clearTimeout(batch.timer);
    this.#batches.clear();
  }

  #flush(batch: Batch): void {
    this.#o.clock.clearTimeout(batch.timer);
    batch.timer = null;
    const files = batch.files.splice(0, this.#o.batchSize);
    if (batch.files.length === 0) this.#batches.delete(batch.key);
    else batch.timer = this.#o.clock.setTimeout(() => this.#flush(batch), 0);
    if (files.length > 0) this.#o.send(files, batch.route);
  }
}
