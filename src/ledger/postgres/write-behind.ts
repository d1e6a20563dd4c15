import type { Clock, Timer } from '../../clock.js';
import { StoppedError, backoffMs, retry } from '../../retry.js';
import { LedgerUnavailableError } from '../ledger.js';
import type { MemoryRows, Unwritten } from './memory.js';

/** A write the database refused: from 0.5 s, doubling up to 15 s. */
const WRITE_BACKOFF = { firstMs: 500, capMs: 15_000, jitter: false };

export interface WriteBehindDeps {
  memory: Pick<MemoryRows, 'take' | 'giveBack'>;
  /** One transaction of these changes; returns the paths another replica holds now. */
  write(u: Unwritten): Promise<string[]>;
  /** Whether this process may write now (a replica holds its name). */
  canWrite(): boolean;
  /** The write went through; `lost`: rows another replica holds now. */
  written(lost: string[]): Promise<void>;
  /** The write failed (the database is away). */
  failed(err: unknown): void;
  /** The ledger is closing: no more waits. */
  ending(): boolean;
  clock: Clock;
  /** Aborted when the ledger closes. */
  signal: AbortSignal;
}

/**
 * Changes are written behind, in batches (one statement per batch whatever its size), 20 ms
 * after the first of them; `commit` waits until everything made so far is written. While the
 * database is away the writer tries again with a growing pause; nothing is dropped.
 */
export class WriteBehind {
  readonly #d: WriteBehindDeps;
  /** Count of changes made, and of those known written. */
  #made = 0;
  #written = 0;
  #waiters: { upTo: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  #writer: Promise<void> | null = null;
  #timer: Timer | null = null;

  constructor(deps: WriteBehindDeps) {
    this.#d = deps;
  }

  /** Changes made and not known written. */
  get unwritten(): number {
    return this.#made - this.#written;
  }

  changed(): void {
    this.#made++;
    this.schedule(20);
  }

  schedule(delayMs: number): void {
    if (this.#writer !== null) return; // the running writer loops until nothing is left
    if (this.#timer !== null) {
      if (delayMs > 0) return;
      this.#d.clock.clearTimeout(this.#timer);
    }
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#timer = null;
      this.#writer = this.#loop().finally(() => {
        this.#writer = null;
        if (this.#made > this.#written && !this.#d.signal.aborted && this.#d.canWrite()) this.schedule(0);
      });
    }, delayMs);
  }

  /** Resolves when every change made so far is written; `signal` ends the wait (LedgerUnavailableError). */
  async commit(signal?: AbortSignal): Promise<void> {
    const upTo = this.#made;
    if (this.#written >= upTo) return;
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
    this.schedule(0);
    if (!signal) return done;
    if (signal.aborted) throw new LedgerUnavailableError('stopping');
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new LedgerUnavailableError('stopping'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([done, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.#d.clock.clearTimeout(this.#timer);
    for (const w of this.#waiters) w.reject(new LedgerUnavailableError('the ledger is closed'));
    this.#waiters = [];
  }

  async #loop(): Promise<void> {
    while (this.#made > this.#written) {
      try {
        await retry(() => this.#writeOnce(), {
          clock: this.#d.clock,
          signal: this.#d.signal,
          before: () => (this.#d.canWrite() ? Promise.resolve() : Promise.reject(new StoppedError())),
          onFailure: (err, attempt) => {
            this.#d.failed(err);
            return this.#d.ending() ? null : backoffMs(attempt, WRITE_BACKOFF);
          },
        });
      } catch {
        return; // not holding the name (it re-schedules once held), or closing
      }
    }
  }

  async #writeOnce(): Promise<void> {
    const upTo = this.#made;
    const u = this.#d.memory.take();
    let lost: string[];
    try {
      lost = await this.#d.write(u);
    } catch (err) {
      this.#d.memory.giveBack(u);
      throw err;
    }
    this.#written = upTo;
    await this.#d.written(lost);
    const done = this.#waiters.filter((w) => w.upTo <= upTo);
    this.#waiters = this.#waiters.filter((w) => w.upTo > upTo);
    for (const w of done) w.resolve();
  }
}
