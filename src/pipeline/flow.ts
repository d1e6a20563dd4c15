import type { DaemonEvent } from '../observe/events.js';

/**
 * The few signals that run against the pipeline's direction, as events: a stage says what
 * happened and the stage upstream that cares listens, so no stage holds a reference to one
 * built after it (docs/architecture.md, "One way"). The daemon makes the Flow first; each stage
 * is given it when built, and a stage built later subscribes to what it needs.
 */

export interface FlowEvents {
  /** A file left the window (done, failed, released, dropped while settling) or a walk ended: the window may take in waiting files, and idle may hold. */
  shrank: [];
  /** A typed Galaxy call ended (GalaxyClientOptions.onAnswer): `unusable` when its answer could not be used. */
  answer: [request: string, unusable: Error | null];
  /** A file's journey ended ok: it needs no more watching (discovery). */
  done: [relPath: string];
  /** A file changed while it was being uploaded, or was taken over from a dead replica: look at it again (admission). */
  changed: [relPath: string];
  /** Every event the daemon said (after it was logged): notifications count new uploads by it (notify.ts). */
  said: [event: DaemonEvent];
}

export class Flow {
  readonly #listeners: { [K in keyof FlowEvents]: ((...args: FlowEvents[K]) => void)[] } = { shrank: [], answer: [], done: [], changed: [], said: [] };

  on<K extends keyof FlowEvents>(event: K, listener: (...args: FlowEvents[K]) => void): void {
    this.#listeners[event].push(listener);
  }

  emit<K extends keyof FlowEvents>(event: K, ...args: FlowEvents[K]): void {
    for (const l of this.#listeners[event]) l(...args);
  }
}
