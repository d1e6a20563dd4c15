import type { Clock, Timer } from '../clock.js';
import type { Coordinator } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import { backoffMs, retry } from '../retry.js';

interface Pending {
  file: { path: string; size: number; mtimeMs: number };
  resolve: (held: boolean) => void;
}

/** A claim the database could not take: from 1 s, doubling up to 30 s. */
const CLAIM_BACKOFF = { firstMs: 1000, capMs: 30_000, jitter: false };

/**
 * Settled files are claimed through the coordinator before they are queued: those settled
 * within a few milliseconds go in one statement. While the database cannot be reached the
 * files wait here (retried with a growing pause): they stay in the import directory and
 * nothing is sent. With a ledger one process owns, every claim succeeds at once.
 */
export class Claims {
  readonly #coordinator: Pick<Coordinator, 'claim'>;
  readonly #o: { clock: Clock; signal: AbortSignal; emit: Emit };
  #pending: Pending[] = [];
  #timer: Timer | null = null;

  /** How long claims gather into one statement: 10 ms with a shared ledger; with one process, what settles in the same turn. */
  readonly #gatherMs: number;

  constructor(coordinator: Pick<Coordinator, 'claim' | 'replica'>, o: { clock: Clock; signal: AbortSignal; emit: Emit }) {
    this.#coordinator = coordinator;
    this.#o = o;
    this.#gatherMs = coordinator.replica === null ? 0 : 10;
  }

  /** Whether this process now holds the file (false: done, or held by another live replica, or stopping). */
  claim(file: { path: string; size: number; mtimeMs: number }): Promise<boolean> {
    return new Promise((resolve) => {
      this.#pending.push({ file, resolve });
      if (this.#pending.length >= 1000) this.#send();
      else this.#timer ??= this.#o.clock.setTimeout(() => this.#send(), this.#gatherMs);
    });
  }

  #send(): void {
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) void this.#claim(batch);
  }

  async #claim(batch: Pending[]): Promise<void> {
    let held = new Set<string>();
    try {
      held = await retry(() => this.#coordinator.claim(batch.map((p) => p.file)), {
        clock: this.#o.clock,
        signal: this.#o.signal,
        onFailure: (err, attempt) => {
          const delay = backoffMs(attempt, CLAIM_BACKOFF);
          this.#o.emit({ type: 'ledger.claim_retry', err: (err as Error).message, attempt, delay_ms: delay });
          return delay;
        },
      });
    } catch {
      // stopping: nothing is held
    }
    for (const p of batch) p.resolve(held.has(p.file.path));
  }
}
