/**
 * The one way galaxy-importd reads time and waits: every stage takes a Clock, so unit tests
 * drive time with node:test's fake timers (mock.timers) or a fake of this interface.
 * `systemClock` looks the global timer functions up at each call, which is what lets
 * mock.timers replace them after the clock was handed out.
 */

/** A pending timer: cancel it with the clock's clear; unref lets the process end while it waits. */
export interface Timer {
  unref?(): unknown;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | null | undefined): void;
  setInterval(fn: () => void, ms: number): Timer;
  clearInterval(timer: Timer | null | undefined): void;
  /** Wait `ms`; false when `signal` aborted first (at once if it already has). */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
  /** Run `fn` at the end of this turn of the event loop, after I/O (setImmediate). */
  setImmediate(fn: () => void): Timer;
  clearImmediate(timer: Timer | null | undefined): void;
  /** Let timers, answers and I/O in before going on (a long synchronous loop). */
  yieldTurn(): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (timer) => globalThis.clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (timer) => globalThis.clearInterval(timer as NodeJS.Timeout | undefined),
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
  setImmediate: (fn) => globalThis.setImmediate(fn),
  clearImmediate: (timer) => globalThis.clearImmediate(timer as NodeJS.Immediate | undefined),
  yieldTurn: () => new Promise((resolve) => globalThis.setImmediate(resolve)),
};

/**
 * A long synchronous loop's breather: call it at each step; every `everyMs` of the clock it
 * yields a turn, so that timers, Galaxy's answers and the HTTP server get in (the walk and the
 * watcher read directories synchronously).
 */
export function breather(clock: Pick<Clock, 'now' | 'yieldTurn'>, everyMs = 20): () => Promise<void> | undefined {
  let last = clock.now();
  return () => {
    if (clock.now() - last <= everyMs) return undefined;
    return clock.yieldTurn().then(() => {
      last = clock.now();
    });
  };
}

/** `sleep` for any clock, from its setTimeout: the timer is cleared when `signal` aborts. */
export function sleepOn(clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A timer that does not keep the process alive (rescans, lease renewals, deadlines). */
export function unref<T extends Timer>(timer: T): T {
  timer.unref?.();
  return timer;
}

/** Resolves when `task` settles or `ms` have passed, whichever is first; the timer never holds the process. */
export async function within(clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>, task: Promise<unknown>, ms: number): Promise<void> {
  let timer: Timer | null = null;
  const deadline = new Promise<void>((resolve) => {
    timer = unref(clock.setTimeout(resolve, ms));
  });
  try {
    await Promise.race([task.then(() => undefined, () => undefined), deadline]);
  } finally {
    clock.clearTimeout(timer);
  }
}
