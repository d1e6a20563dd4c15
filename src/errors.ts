/**
 * The base of every error galaxy-importd raises on purpose. Code branches on
 * `code`, never on message text; messages say what was wrong, what was
 * received and what to do.
 */
export class ImportdError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
