import type { FileRecord } from '../ledger/ledger.js';

/**
 * The window: files held in memory at once, settling, being admitted, queued or on their way to
 * Galaxy (files waiting only for a ready marker are not counted). A file found while it is full
 * is recorded in the ledger as `seen` and nothing more; when the window is half empty (a file
 * left it: the flow's `shrank`), the oldest `seen` rows are taken in. A backlog of any size
 * costs memory for this many files.
 */
export const WINDOW_FILES = 10_000;

export interface WindowDeps {
  /** Files in the window now (admission's settling and admitting, the files queued or in flight). */
  held(): number;
  /** The oldest `seen` rows, up to `limit` (files.ts, waiting). */
  waiting(limit: number): FileRecord[];
  /** A waiting file's turn came: it enters the window (admission settles it). */
  enter(row: FileRecord): void;
  size?: number;
}

export class Window {
  readonly #d: WindowDeps;
  readonly #size: number;
  /** Files kept out (recorded `seen`) since the start. */
  #deferred = 0;
  /** `seen` rows may be left to take in. */
  #more = true;
  #closed = false;

  constructor(d: WindowDeps) {
    this.#d = d;
    this.#size = d.size ?? WINDOW_FILES;
  }

  /** Files kept out because the window was full, since the start. */
  get deferred(): number {
    return this.#deferred;
  }

  /** Whether a file found now may enter; false: it is kept out (the caller records it `seen`), and counted. */
  admit(): boolean {
    if (this.#d.held() < this.#size) return true;
    this.#deferred++;
    this.#more = true;
    return false;
  }

  /** When the window is half empty: the oldest waiting files enter. */
  refill(): void {
    if (this.#closed || !this.#more) return;
    const room = this.#size - this.#d.held();
    if (room < this.#size / 2) return;
    const rows = this.#d.waiting(room);
    if (rows.length < room) this.#more = false;
    for (const r of rows) this.#d.enter(r);
  }

  close(): void {
    this.#closed = true;
  }
}
