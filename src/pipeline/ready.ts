import path from 'node:path';
import PQueue from 'p-queue';
import type { Clock, Timer } from '../clock.js';
import type { Emit } from '../observe/events.js';
import { CHECKSUMS, checksumName, checksumsOf } from './checksum.js';
import type { Files, ReadyFile } from './files.js';
import type { Lists } from './lists.js';
import type { Provided } from './manifest-book.js';
import type { HashFunction } from './manifests.js';
import type { Route } from './route.js';
import type { Rules } from './rules.js';
import type { Fingerprint } from './settle.js';

/**
 * ready: a settled file (settle.ts hands it here) is readable? its checksum taken ([upload]
 * checksum), the file unchanged meanwhile? claimed by this process (several replicas: the one
 * whose claim lands uploads it; the others leave it alone)? Then routed and queued. Files
 * between the settler and the queue are counted, so that neither the window nor idle sees a gap.
 */

export interface ReadyDeps {
  importDir: string;
  rules: Pick<Rules, 'settled'>;
  files: Pick<Files, 'rejected' | 'claim'>;
  route(relPath: string): Route;
  queue(file: ReadyFile, route: Route): void;
  /** Provider checksum lists ([import] manifests); unset: none read. */
  lists?: Pick<Lists, 'isList' | 'read' | 'lookup' | 'wait' | 'waiting' | 'dropped'>;
  /** [upload] checksum; null: none. */
  checksum: keyof typeof CHECKSUMS | null;
  /** The settler's look (settle.ts, statFileSync): the file after its checksum. */
  stat(relPath: string): Fingerprint | null;
  /** The file changed while its checksum was taken: admission looks at it again. */
  changed(relPath: string): void;
  clock: Pick<Clock, 'now' | 'setImmediate' | 'setTimeout' | 'clearTimeout'>;
  emit: Emit;
  signal?: AbortSignal;
  /** A file left (failed, claimed elsewhere, changed, or queued: counted by files.ts from then on). */
  shrank?: () => void;
  /**
   * A burst (a slice's worth of files or more, between settling and the queue) began (true) or
   * was all queued (false): the queue holds the requests it would send meanwhile, so that a
   * backlog goes in as few requests as its size allows (batcher.ts, hold).
   */
  burst?: (on: boolean) => void;
  /** Files still settling that may join a burst (not those waiting for a ready marker); unset: unknown, the burst waits BURST_GRACE_MS. */
  settling?: () => number;
}

/** Checksums taken at once: as many as libuv's thread pool reads (a backlog's files wait their turn, not holding a descriptor each). */
export const CHECKSUMS_AT_ONCE = 4;
/**
 * Files that became ready in one turn are handed on together, in slices of this many once each
 * slice's checksums and claims are done, so that the queue sends them as one request (a target
 * per folder), as when nothing came between settling and the queue: a backlog costs Galaxy as
 * few jobs with checksums as without.
 */
export const TOGETHER = 100;

/**
 * How long a burst outlasts the moment all its files are queued: a backlog that settles in waves
 * (a busy machine's settle turns, a walk's later directories) stays one burst, so one request.
 * Only a burst waits so (files that become ready one at a time never start one), and only while
 * files are still settling: with none left (a scan's last wave), it ends at once.
 */
export const BURST_GRACE_MS = 1_000;

type Taken = { file: ReadyFile; route: Route } | null;

export class Ready {
  readonly #d: ReadyDeps;
  #held = 0;
  readonly #hashing = new PQueue({ concurrency: CHECKSUMS_AT_ONCE });
  /** This turn's files, waiting for their slice's checksums and claims. */
  #burst: [string, Fingerprint][] = [];
  /** Turns' files waiting for the one loop that hands them on (`#hand`). */
  readonly #turns: [string, Fingerprint][][] = [];
  #handing = false;
  /** A burst is on its way to the queue (`burst`): from TOGETHER files held until none is, BURST_GRACE_MS later (at once with none left settling). */
  #bursting = false;
  #ending: Timer | null = null;

  constructor(d: ReadyDeps) {
    this.#d = d;
  }

  /** Files between the settler and the queue. */
  get size(): number {
    return this.#held + (this.#d.lists?.waiting ?? 0);
  }

  take(relPath: string, fp: Fingerprint): void {
    const unreadable = this.#d.rules.settled(relPath);
    if (unreadable !== null) {
      this.#d.lists?.dropped(relPath);
      this.#d.files.rejected(relPath, fp, 'failed', unreadable);
      this.#d.shrank?.();
      return;
    }
    this.#held++;
    if (this.#ending !== null) {
      this.#d.clock.clearTimeout(this.#ending);
      this.#ending = null;
    }
    if (!this.#bursting && this.#held >= TOGETHER) {
      this.#bursting = true;
      this.#d.burst?.(true);
    }
    this.#burst.push([relPath, fp]);
    if (this.#burst.length === 1) {
      this.#d.clock.setImmediate(() => {
        this.#turns.push(this.#burst.splice(0));
        void this.#hand();
      });
    }
  }

  /**
   * Each turn's files queued slice by slice, each slice in one turn once all its files are
   * checked and claimed, by one loop: a slice's work starts only when the one before it, of this
   * turn or an earlier one, is queued. A backlog of 100,000 files settling over many turns holds
   * 100 checks and claims in flight, not a slice per turn (bench: a promise chain per waiting
   * file, kept past young collections, grew the old generation by 2 KB a file).
   */
  async #hand(): Promise<void> {
    if (this.#handing) return;
    this.#handing = true;
    try {
      for (let burst = this.#turns.shift(); burst !== undefined; burst = this.#turns.shift()) {
        for (let i = 0; i < burst.length; i += TOGETHER) {
          const slice = burst.slice(i, i + TOGETHER).map(([relPath, fp]) => this.#take(relPath, fp));
          try {
            for (const r of await Promise.allSettled(slice)) {
              try {
                if (r.status === 'fulfilled' && r.value !== null) this.#d.queue(r.value.file, r.value.route);
                else if (r.status === 'rejected') this.#d.emit({ type: 'daemon.error', err: r.reason });
              } catch (err) {
                // One file's queueing failed (the ledger): said, and the loop goes on with the others.
                this.#d.emit({ type: 'daemon.error', err });
              }
            }
          } finally {
            this.#held -= slice.length;
            if (this.#bursting && this.#held === 0 && this.#ending === null) {
              const end = (): void => {
                this.#ending = null;
                if (!this.#bursting || this.#held > 0) return;
                this.#bursting = false;
                this.#d.burst?.(false);
              };
              if (this.#d.settling?.() === 0 && (this.#d.lists?.waiting ?? 0) === 0) end();
              else {
                this.#ending = this.#d.clock.setTimeout(end, BURST_GRACE_MS);
                this.#ending.unref?.();
              }
            }
            this.#d.shrank?.();
          }
        }
      }
    } finally {
      this.#handing = false;
    }
  }

  async #take(relPath: string, fp: Fingerprint): Promise<Taken> {
    const lists = this.#d.lists;
    if (lists?.isList(relPath) === true && !(await lists.read(relPath, fp))) return null;
    const look = lists?.lookup(relPath) ?? { kind: 'none' };
    if (look.kind === 'wait') {
      lists?.wait(relPath, fp);
      return null;
    }
    if (look.kind === 'unlisted') {
      this.#d.files.rejected(relPath, fp, 'failed', look.reason);
      return null;
    }
    const provided = look.kind === 'provided' ? look.provided : null;
    const sums = this.#d.checksum === null && provided === null ? { checksum: null, provided: null } : await this.#checksums(relPath, fp, provided);
    if (sums === undefined) return null;
    if (provided !== null && sums.provided !== provided.hex) {
      const { list, line, hashFunction } = provided;
      this.#d.emit({ type: 'checksum.mismatch', file: relPath, by: 'list', hash_function: hashFunction, expected: provided.hex, got: sums.provided, list, line });
      this.#d.files.rejected(relPath, fp, 'failed', `does not match its checksum list: ${list} line ${line} says ${hashFunction} ${provided.hex}, the file's is ${sums.provided ?? 'unknown'}: the file is not imported (replace it, or correct the list, then run galaxy-importd retry)`);
      return null;
    }
    const route = this.#d.route(relPath);
    const file: ReadyFile = { path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, readyAt: this.#d.clock.now(), checksum: sums.checksum, ...(provided ? { provided } : {}) };
    return (await this.#d.files.claim(file, route)) ? { file, route } : null;
  }

  /**
   * The checksums of the version that settled, in one reading: [upload] checksum's, and the
   * provider's function when a list names the file. Undefined when the file changed (or went)
   * meanwhile: it settles again.
   */
  async #checksums(relPath: string, fp: Fingerprint, provided: Provided | null): Promise<{ checksum: { hashFunction: HashFunction; hex: string } | null; provided: string | null } | undefined> {
    const own = this.#d.checksum;
    const fns = [...new Set([...(own === null ? [] : [own]), ...(provided ? [checksumName(provided.hashFunction)] : [])])];
    let reason: string;
    try {
      const sum = await this.#hashing.add(() => checksumsOf(path.join(this.#d.importDir, relPath), fns, { sizeHint: fp.size, ...(this.#d.signal ? { signal: this.#d.signal } : {}) }));
      const now = this.#d.stat(relPath);
      if (sum.size === fp.size && now?.size === fp.size && now.mtimeMs === fp.mtimeMs) {
        const of = (hf: string | undefined) => sum.sums.find((c) => c.hashFunction === hf) ?? null;
        return { checksum: own === null ? null : of(CHECKSUMS[own].galaxy), provided: of(provided?.hashFunction)?.hex ?? null };
      }
      reason = `changed while its checksum was taken (size ${fp.size}, then ${now?.size ?? 'gone'}): it settles again`;
    } catch (err) {
      if (this.#d.signal?.aborted === true) return undefined;
      reason = `could not be read for its checksum (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): it settles again`;
    }
    this.#d.emit({ type: 'file.changed', file: relPath, size: fp.size, reason });
    this.#d.changed(relPath);
    return undefined;
  }
}
