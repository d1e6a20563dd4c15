import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The root logger: JSON lines, a constant message per kind of line and the
 * data in fields. Synchronous writes to stdout, so that no line is lost when
 * the process is stopped (journald and `docker logs` read stdout). The key is
 * never put in a log field; the redaction below is a second guard.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'galaxy-importd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['apiKey', 'api_key', 'key', '*.apiKey', 'headers["x-api-key"]', '*.headers["x-api-key"]', '*.headers.authorization'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
