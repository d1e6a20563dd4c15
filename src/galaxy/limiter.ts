import PQueue from 'p-queue';
import type { Limiter } from './http.js';

/** Request timing for /metrics (observe/metrics.ts). */
export interface RequestTiming {
  requestDuration: { startTimer(): (labels: { outcome: string }) => void };
  inFlight: { inc(): void; dec(): void };
}

/**
 * The limiter of every Galaxy request (p-queue): `concurrency` in flight, and at most
 * `ratePerSecond` started per second (0: no rate limit). Returns it with `clear`, which drops
 * requests not yet started (a stop).
 */
export function requestLimiter(concurrency: number, ratePerSecond: number, timing?: RequestTiming): { limiter: Limiter; clear(): void } {
  const whole = Number.isInteger(ratePerSecond);
  const queue = ratePerSecond <= 0
    ? new PQueue({ concurrency })
    : new PQueue({ concurrency, intervalCap: whole ? ratePerSecond : 1, interval: whole ? 1000 : Math.ceil(1000 / ratePerSecond), strict: true });
  const limiter: Limiter = timing
    ? (fn) => queue.add(async () => {
      timing.inFlight.inc();
      const end = timing.requestDuration.startTimer();
      let outcome = 'error';
      try {
        const result = await fn();
        outcome = 'ok';
        return result;
      } finally {
        timing.inFlight.dec();
        end({ outcome });
      }
    })
    : (fn) => queue.add(fn);
  return { limiter, clear: () => queue.clear() };
}
