import type { Clock } from '../clock.js';
import type { Files, ReadyFile } from './files.js';
import type { Route } from './route.js';
import type { Rules } from './rules.js';
import type { Fingerprint } from './settle.js';

/**
 * ready: a settled file (settle.ts hands it here) is readable? claimed by this process
 * (several replicas: the one whose claim lands uploads it; the others leave it alone)? Then
 * routed and queued. Files between the settler and the queue are counted, so that neither the
 * window nor idle sees a gap.
 */

export interface ReadyDeps {
  rules: Pick<Rules, 'settled'>;
  files: Pick<Files, 'rejected' | 'claim'>;
  route(relPath: string): Route;
  queue(file: ReadyFile, route: Route): void;
  clock: Pick<Clock, 'now'>;
  /** A file left (failed, claimed elsewhere, or queued: counted by files.ts from then on). */
  shrank?: () => void;
}

export class Ready {
  readonly #d: ReadyDeps;
  #claiming = 0;

  constructor(d: ReadyDeps) {
    this.#d = d;
  }

  /** Files between the settler and the queue. */
  get size(): number {
    return this.#claiming;
  }

  take(relPath: string, fp: Fingerprint): void {
    const unreadable = this.#d.rules.settled(relPath);
    if (unreadable !== null) {
      this.#d.files.rejected(relPath, fp, 'failed', unreadable);
      this.#d.shrank?.();
      return;
    }
    this.#claiming++;
    const route = this.#d.route(relPath);
    const file = { path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, readyAt: this.#d.clock.now() };
    void this.#d.files.claim(file, route).then((held) => {
      if (held) this.#d.queue(file, route);
    }).finally(() => {
      this.#claiming--;
      this.#d.shrank?.();
    });
  }
}
