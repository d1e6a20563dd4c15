/** Every code an ImportdError can carry: one per class of error. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'GALAXY_HTTP_ERROR'
  | 'GALAXY_BAD_RESPONSE'
  | 'GALAXY_UNREACHABLE'
  | 'LEDGER_ERROR'
  | 'LEDGER_UNAVAILABLE'
  | 'ACCESS_ERROR'
  | 'STOPPED';

/**
 * The base of every error galaxy-importd raises on purpose. Code branches on
 * `code` (a literal of ErrorCode), never on message text; messages say what was
 * wrong, what was received and what to do.
 */
export class ImportdError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration or usage problem: every command exits 2 on it. */
export class ConfigError extends ImportdError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super('CONFIG_INVALID', problems.join('\n'), options);
    this.problems = problems;
  }
}

export class UsageError extends ImportdError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
