import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The root logger: JSON lines, a constant message per kind of line and the
 * data in fields. Synchronous writes to stdout, so that no line is lost when
 * the process is stopped (journald and `docker logs` read stdout). The key is
 * never put in a log field; the redaction below is a second guard.
 */
export function createLogger(level: string, destination?: DestinationStream, onEvent?: (fields: Record<string, unknown>) => void): Logger {
  return pino(
    {
      level,
      // Every line with an `event` also feeds the metrics, so the two cannot disagree.
      ...(onEvent
        ? {
          hooks: {
            logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: Parameters<Logger['info']>) => void) {
              const first: unknown = args[0];
              if (typeof first === 'object' && first !== null && 'event' in first) onEvent(first);
              method.apply(this, args);
            },
          },
        }
        : {}),
      base: { name: 'galaxy-importd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['apiKey', 'api_key', 'key', '*.apiKey', 'headers["x-api-key"]', '*.headers["x-api-key"]', '*.headers.authorization'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
