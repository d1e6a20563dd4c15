import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Emit } from '../observe/events.js';
import type { CHECKSUMS } from './checksum.js';
import { checksumFile } from './checksum.js';
import type { Files, ReadyFile } from './files.js';
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
  /** [upload] checksum; null: none. */
  checksum: keyof typeof CHECKSUMS | null;
  /** The settler's look (settle.ts, statFileSync): the file after its checksum. */
  stat(relPath: string): Fingerprint | null;
  /** The file changed while its checksum was taken: admission looks at it again. */
  changed(relPath: string): void;
  clock: Pick<Clock, 'now'>;
  emit: Emit;
  signal?: AbortSignal;
  /** A file left (failed, claimed elsewhere, changed, or queued: counted by files.ts from then on). */
  shrank?: () => void;
}

/** Checksums taken at once: as many as libuv's thread pool reads (a backlog's files wait their turn, not holding a descriptor each). */
export const CHECKSUMS_AT_ONCE = 4;

export class Ready {
  readonly #d: ReadyDeps;
  #held = 0;
  #hashing = 0;
  readonly #turns: (() => void)[] = [];

  constructor(d: ReadyDeps) {
    this.#d = d;
  }

  /** Files between the settler and the queue. */
  get size(): number {
    return this.#held;
  }

  take(relPath: string, fp: Fingerprint): void {
    const unreadable = this.#d.rules.settled(relPath);
    if (unreadable !== null) {
      this.#d.files.rejected(relPath, fp, 'failed', unreadable);
      this.#d.shrank?.();
      return;
    }
    this.#held++;
    void this.#take(relPath, fp).finally(() => {
      this.#held--;
      this.#d.shrank?.();
    });
  }

  async #take(relPath: string, fp: Fingerprint): Promise<void> {
    const checksum = this.#d.checksum === null ? null : await this.#checksum(relPath, fp);
    if (checksum === undefined) return;
    const route = this.#d.route(relPath);
    const file: ReadyFile = { path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, readyAt: this.#d.clock.now(), checksum };
    if (await this.#d.files.claim(file, route)) this.#d.queue(file, route);
  }

  /** The checksum of the version that settled; undefined when the file changed (or went) meanwhile: it settles again. */
  async #checksum(relPath: string, fp: Fingerprint): Promise<ReadyFile['checksum'] | undefined> {
    const fn = this.#d.checksum;
    if (fn === null) return null;
    let reason: string;
    if (this.#hashing >= CHECKSUMS_AT_ONCE) await new Promise<void>((r) => this.#turns.push(r));
    this.#hashing++;
    try {
      const sum = await checksumFile(path.join(this.#d.importDir, relPath), fn, { sizeHint: fp.size, ...(this.#d.signal ? { signal: this.#d.signal } : {}) });
      const now = this.#d.stat(relPath);
      if (sum.size === fp.size && now?.size === fp.size && now.mtimeMs === fp.mtimeMs) return { hashFunction: sum.hashFunction, hex: sum.hex };
      reason = `changed while its checksum was taken (size ${fp.size}, then ${now?.size ?? 'gone'}): it settles again`;
    } catch (err) {
      if (this.#d.signal?.aborted === true) return undefined;
      reason = `could not be read for its checksum (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): it settles again`;
    } finally {
      this.#hashing--;
      this.#turns.shift()?.();
    }
    this.#d.emit({ type: 'file.changed', file: relPath, size: fp.size, reason });
    this.#d.changed(relPath);
    return undefined;
  }
}
