import type { Clock } from '../clock.js';

/**
 * What is asked in one turn of the event loop, handed over together at the turn's end (a 0 ms
 * timer of the clock: setImmediate for the system clock). The looks of confirmations that fall
 * due at one time then become one request (job-looks.ts, folder-looks.ts).
 */
export class TurnGather<T> {
  readonly #clock: Pick<Clock, 'setTimeout'>;
  readonly #flush: (items: T[]) => void;
  #items: T[] = [];

  constructor(clock: Pick<Clock, 'setTimeout'>, flush: (items: T[]) => void) {
    this.#clock = clock;
    this.#flush = flush;
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.#items.length > 1) return;
    this.#clock.setTimeout(() => {
      const items = this.#items;
      this.#items = [];
      this.#flush(items);
    }, 0);
  }
}
