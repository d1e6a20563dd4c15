import { setTimeout as sleep } from 'node:timers/promises';
import type { SharedLedger } from '../ledger/ledger.js';

interface Pending {
  file: { path: string; size: number; mtimeMs: number };
  resolve: (held: boolean) => void;
}

/**
 * Settled files are claimed in the shared ledger before they are queued:
 * those settled within a few milliseconds go in one statement. While the
 * database cannot be reached the files wait here (retried with a growing
 * pause): they stay in the import directory and nothing is sent.
 */
export class Claims {
  readonly #shared: SharedLedger;
  readonly #signal: AbortSignal;
  readonly #onError: (err: unknown) => void;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(shared: SharedLedger, signal: AbortSignal, onError: (err: unknown) => void) {
    this.#shared = shared;
    this.#signal = signal;
    this.#onError = onError;
  }

  /** Whether this replica now holds the file (false: done, or held by another live replica, or stopping). */
  claim(file: { path: string; size: number; mtimeMs: number }): Promise<boolean> {
    return new Promise((resolve) => {
      this.#pending.push({ file, resolve });
      if (this.#pending.length >= 1000) this.#send();
      else this.#timer ??= setTimeout(() => this.#send(), 10);
    });
  }

  #send(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) void this.#claim(batch);
  }

  async #claim(batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.#signal.aborted) break;
      try {
        const held = await this.#shared.claim(batch.map((p) => p.file));
        for (const p of batch) p.resolve(held.has(p.file.path));
        return;
      } catch (err) {
        this.#onError(err);
        try {
          await sleep(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)), undefined, { signal: this.#signal });
        } catch {
          break;
        }
      }
    }
    for (const p of batch) p.resolve(false);
  }
}
