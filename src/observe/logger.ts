import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The root logger: JSON lines, a constant message per kind of line and the
 * data in fields. Synchronous writes to stdout, so that no line is lost when
 * the process is stopped (journald and `docker logs` read stdout).
 *
 * The key is never put in a log field. Two guards stand behind that: fields
 * named like a key are redacted, and each line is searched for `secrets` (the
 * API key) before it is written, which also covers a key quoted inside a
 * message (a key read again after a rotation is added to `secrets`). The second replaces pino's wildcard redaction paths, which cost
 * 13–17 µs a line, two thirds of a line's cost (bench/README.md). Secrets shorter
 * than 8 characters are not searched for (a Galaxy key has 32).
 */
export function createLogger(level: string, destination?: DestinationStream, secrets: readonly string[] = []): Logger {
  // Read at each line: a key rotated while the daemon runs is added to `secrets` (api-key.ts, liveKey).
  const hide = (line: string): string => {
    let out = line;
    for (const secret of secrets) if (secret.length >= 8 && out.includes(secret)) out = out.replaceAll(secret, '[redacted]');
    return out;
  };
  return pino(
    {
      level,
      base: { name: 'galaxy-importd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['apiKey', 'api_key', 'key', 'headers["x-api-key"]', 'headers.authorization'], censor: '[redacted]' },
      hooks: { streamWrite: hide },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
