/**
 * How many files a second began to settle lately, counted over a window (the settle grid's
 * step): the more of the current window and the one before it, so that a burst shows within
 * its first window, and a lull after two.
 */
export class ArrivalRate {
  readonly #windowMs: number;
  /** When the current window began. */
  #from = -Infinity;
  #now = 0;
  #before = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  arrived(now: number): void {
    this.#roll(now);
    this.#now++;
  }

  perSecond(now: number): number {
    this.#roll(now);
    return (Math.max(this.#now, this.#before) * 1000) / this.#windowMs;
  }

  #roll(now: number): void {
    const w = this.#windowMs;
    if (now - this.#from < w) return;
    this.#before = now - this.#from < 2 * w ? this.#now : 0;
    this.#now = 0;
    this.#from = now;
  }
}
