import type { Route } from './route.js';
import { routeKey } from './route.js';
import { classify } from './retry.js';
import type { Targets } from './targets.js';

/**
 * Lookups ahead: a file began to settle (found live, by a walk, or let in by the window when its
 * turn came), so its library and folder are
 * looked up, or created, now, once per folder, so that they exist when it is ready, `settle_seconds`
 * later. At most AHEAD_AT_ONCE at a time: a second of requests at the default rate, so that a
 * backlog into 1,000 new folders does not queue its first request behind all their creations (the
 * rest are looked up as their requests go). None while the gate is closed. A lookup that fails is
 * left to the upload's own (uploads.ts, `#target`), which waits Galaxy out and logs each retry, and
 * is not tried again ahead; a refused key (401, 403) closes the gate at once, as any request's does.
 */
export const AHEAD_AT_ONCE = 50;

export interface AheadDeps {
  targets: Pick<Targets, 'resolve'>;
  gate: { readonly blocked: string | null; block(message: string): void };
}

export class Ahead {
  readonly #d: AheadDeps;
  /** Routes looked up ahead, by routeKey: one per folder with files since the start. */
  readonly #prepared = new Set<string>();
  #inFlight = 0;

  constructor(d: AheadDeps) {
    this.#d = d;
  }

  prepare(route: Route): void {
    const key = routeKey(route);
    if (this.#d.gate.blocked !== null || this.#prepared.has(key) || this.#inFlight >= AHEAD_AT_ONCE) return;
    this.#prepared.add(key);
    this.#inFlight++;
    void this.#d.targets.resolve(route).catch((err: unknown) => {
      const verdict = classify(err);
      if (verdict.kind === 'blocked') this.#d.gate.block(verdict.message);
    }).finally(() => this.#inFlight--);
  }
}
