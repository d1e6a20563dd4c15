import type { Clock, Timer } from '../clock.js';
import type { ReadyFile } from './files.js';
import type { Route } from './route.js';
import { routeKey } from './route.js';

/**
 * The queue: ready files of one folder gather into batches of up to `batchSize`. Natural
 * batching: with no request of that folder on its way, a folder's files are due at the next
 * turn (files ready in the same turn go together); otherwise they gather until that request is
 * answered, `batchSize` files are waiting, or `lingerMs` has passed.
 *
 * `combine` (fetch uploads): the folders due in one turn go together, as one request of up to
 * `batchSize` files with one target per folder (one Galaxy job), instead of one request each.
 * Files arriving one at a time in many folders then cost one job and one job look per turn, not
 * per folder; a folder is never split over two requests of one turn unless it has more than
 * fits.
 *
 * At most `maxInFlight` requests, and `maxFilesInFlight` files, are on their way at once
 * (target, submit, confirm): the rest wait here as lists of files, in the order they became
 * due, and go as requests end. A backlog of 1,000 folders is then at most 64 jobs in Galaxy at
 * a time (BATCHES_IN_FLIGHT), not 1,000, and the daemon holds the polls, answers
 * and folder pages of at most filesInFlight(batch_size) files (requests of 100 files, 64 of them, held
 * 6,400: most of a backlog's peak memory).
 */

/** Requests on their way at once: enough to keep `concurrency` requests busy while jobs run. */
export const BATCHES_IN_FLIGHT = 64;
/** Files on their way at once: two requests of a batch_size of up to 2,500, so that the next job waits in Galaxy's queue while one runs (at one,
 * each job of 2,500 files was created 16–24 s after the last had ended); 2,500 to 5,000, which bounds a backlog's memory (bench/README.md).
 * A request of 5,000 or more (the default batch_size is 10,000) goes alone: the next waits for it to end. */
export const filesInFlight = (batchSize: number): number => Math.min(5_000, Math.max(2_500, 2 * batchSize));

/**
 * How long a burst holds the requests that are not full (hold): until no file has been queued for
 * HOLD_IDLE_MS (a burst of large files, whose checksums take long, does not hold the rest longer),
 * and at most HOLD_MAX_MS in all. A burst of small files on a busy machine keeps queueing files, so
 * it keeps holding, however long it takes.
 */
export const HOLD_IDLE_MS = 5_000;
export const HOLD_MAX_MS = 60_000;

/** The files of one folder (one route) in a request. */
export interface Group {
  route: Route;
  files: ReadyFile[];
}

interface Batch {
  route: Route;
  key: string;
  files: ReadyFile[];
  timer: Timer | null;
}

export interface BatcherOptions {
  batchSize: number;
  lingerMs: number;
  /** Requests on their way at once. */
  maxInFlight: number;
  /** Files on their way at once, over all requests (a request may go beyond it, never start beyond it). */
  maxFilesInFlight: number;
  /** Whether folders due together go in one request. */
  combine: boolean;
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout' | 'now'>;
  /** A request to send (one group per folder); it is on its way until the promise settles. */
  send(groups: Group[]): Promise<void>;
}

export class Batcher {
  readonly #o: BatcherOptions;
  readonly #batches = new Map<string, Batch>();
  /** Requests of each folder on their way. */
  readonly #sending = new Map<string, number>();
  /** Batches due, waiting for their request (insertion order is their turn). */
  readonly #due = new Set<string>();
  /** Set while a dispatch of the due batches is scheduled for the next turn. */
  #dispatching: Timer | null = null;
  #inFlight = 0;
  #filesInFlight = 0;
  /** Set while a burst of ready files is on its way (hold): only full requests go. */
  #holding: Timer | null = null;
  /** When the hold began (for HOLD_MAX_MS) and when a file was last queued in it (for HOLD_IDLE_MS), by the clock. */
  #holdingSince = 0;
  #heldLast = 0;
  /** Files added since the due files were last counted, while holding: counted again every `batchSize`. */
  #addedHeld = 0;
  /** The folder that got the last file: while holding, the one still receiving files. */
  #lastKey: string | null = null;

  /** Most files in a request: `batchSize`, or less once Galaxy's proxy refused one as too large (lower). */
  #batchSize: number;

  constructor(o: BatcherOptions) {
    this.#o = o;
    this.#batchSize = o.batchSize;
  }

  /** Files on their way at once: `maxFilesInFlight`, and no more than for a `batchSize` lowered by a 413 (lower). */
  get #maxFilesInFlight(): number {
    return Math.min(this.#o.maxFilesInFlight, filesInFlight(this.#batchSize));
  }

  /**
   * Requests hold at most `files` from now on (Galaxy's proxy refused a larger one), and the
   * files on their way are bounded as for a batch_size of `files`; false when they already were.
   */
  lower(files: number): boolean {
    if (files >= this.#batchSize) return false;
    this.#batchSize = Math.max(1, files);
    return true;
  }

  /** Requests hold up to `batchSize` files again (the proxy may have been raised); false when they were not lowered. */
  restore(): boolean {
    if (this.#batchSize === this.#o.batchSize) return false;
    this.#batchSize = this.#o.batchSize;
    return true;
  }

  add(file: ReadyFile, route: Route): void {
    const key = routeKey(route);
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = { route, key, files: [], timer: null };
      this.#batches.set(key, batch);
    }
    batch.files.push(file);
    this.#lastKey = key;
    if (this.#holding !== null) this.#heldLast = this.#o.clock.now();
    // Holding, the files of several folders may fill a request: counted once in `batchSize` adds.
    if (this.#holding !== null && ++this.#addedHeld >= this.#batchSize) {
      this.#addedHeld = 0;
      this.#dispatch();
    }
    if (this.#due.has(key)) return;
    if (batch.files.length >= this.#batchSize) this.#flush(batch, true);
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

  /**
   * A burst of ready files is on its way to the queue (on), or all queued (off): meanwhile only
   * full requests go, so that a backlog goes as requests of up to `batchSize` files rather than
   * one per slice the ready stage hands on; until no file came for HOLD_IDLE_MS, at most HOLD_MAX_MS.
   */
  hold(on: boolean): void {
    if (on) {
      if (this.#holding !== null) return;
      this.#lastKey = null;
      this.#holdingSince = this.#heldLast = this.#o.clock.now();
      this.#holdOn();
      return;
    }
    if (this.#holding === null) return;
    this.#o.clock.clearTimeout(this.#holding);
    this.#release();
  }

  /** The hold's timer: when it fires, the hold ends if no file came for HOLD_IDLE_MS or HOLD_MAX_MS passed; else it waits for the rest. */
  #holdOn(): void {
    const ends = (): number => Math.min(this.#heldLast + HOLD_IDLE_MS, this.#holdingSince + HOLD_MAX_MS);
    this.#holding = this.#o.clock.setTimeout(() => {
      if (ends() > this.#o.clock.now()) return this.#holdOn();
      this.#release();
    }, Math.max(0, ends() - this.#o.clock.now()));
  }

  /**
   * The hold ends: what is due goes, with the batches of folders that have no request on their way
   * whose turn has not come yet (the burst's last files, queued in this turn), not in a request of their own after it.
   */
  #release(): void {
    this.#holding = null;
    for (const batch of this.#batches.values()) {
      if (batch.timer !== null && (this.#sending.get(batch.key) ?? 0) === 0) this.#markDue(batch);
    }
    this.#dispatch();
  }

  /** Forget every batch not yet sent (their files stay queued in the ledger). */
  clear(): void {
    this.#o.clock.clearTimeout(this.#holding);
    this.#holding = null;
    for (const batch of this.#batches.values()) this.#o.clock.clearTimeout(batch.timer);
    this.#o.clock.clearTimeout(this.#dispatching);
    this.#dispatching = null;
    this.#batches.clear();
    this.#due.clear();
    this.#lastKey = null;
  }

  /** Requests on their way, and batches due that wait for one of them to end. */
  get inFlight(): { sending: number; waiting: number } {
    return { sending: this.#inFlight, waiting: this.#due.size };
  }

  /** The batch is due: it goes with the others due at the next turn (`now`: a full batch, at once). */
  #flush(batch: Batch, now = false): void {
    this.#markDue(batch);
    if (now) this.#dispatch();
    else this.#dispatching ??= this.#o.clock.setTimeout(() => this.#dispatch(), 0);
  }

  /**
   * Holding, the folder still receiving files (the last one given a file, with less than a
   * request's worth): it waits for the next request rather than go in part, its other files in
   * another request (one more job, and its folder confirmed twice).
   */
  #receiving(): string | null {
    if (this.#holding === null || this.#lastKey === null) return null;
    return (this.#batches.get(this.#lastKey)?.files.length ?? 0) < this.#batchSize ? this.#lastKey : null;
  }

  /** The batch is due: its timer, if any, is done with. */
  #markDue(batch: Batch): void {
    this.#o.clock.clearTimeout(batch.timer);
    batch.timer = null;
    this.#due.add(batch.key);
  }

  #dueFiles(leaveOut: string | null): number {
    let n = 0;
    for (const key of this.#due) if (key !== leaveOut) n += this.#batches.get(key)?.files.length ?? 0;
    return n;
  }

  /** As many requests as may be on their way, of the batches due, in their turn (holding: full ones, each folder whole). */
  #dispatch(): void {
    this.#o.clock.clearTimeout(this.#dispatching);
    this.#dispatching = null;
    for (;;) {
      const receiving = this.#receiving();
      if (this.#due.size === 0 || this.#inFlight >= this.#o.maxInFlight || this.#filesInFlight >= this.#maxFilesInFlight) return;
      if (this.#holding !== null && this.#dueFiles(receiving) < this.#batchSize) return;
      const groups: Group[] = [];
      let room = this.#batchSize;
      for (const key of this.#due) {
        if (key === receiving) continue;
        const batch = this.#batches.get(key);
        if (!batch || batch.files.length === 0) {
          this.#due.delete(key);
          this.#batches.delete(key);
          continue;
        }
        // A folder that does not fit whole waits for the next request, unless the request is empty.
        if (groups.length > 0 && batch.files.length > room) break;
        const files = batch.files.splice(0, room);
        room -= files.length;
        groups.push({ route: batch.route, files });
        if (batch.files.length === 0) {
          this.#due.delete(key);
          this.#batches.delete(key);
        }
        if (!this.#o.combine || room === 0) break;
      }
      if (groups.length === 0) return;
      const files = this.#batchSize - room;
      this.#inFlight++;
      this.#filesInFlight += files;
      void this.#o.send(groups).finally(() => {
        this.#inFlight--;
        this.#filesInFlight -= files;
        this.#dispatch();
      });
    }
  }
}
