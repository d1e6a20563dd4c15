/** An error Galaxy reports as `{err_msg, err_code}` with an HTTP status (lib/galaxy/exceptions). */
export class GalaxyError extends Error {
  constructor(
    readonly status: number,
    readonly errCode: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GalaxyError';
  }

  body(): Record<string, unknown> {
    return { err_msg: this.message, err_code: this.errCode, ...this.extra };
  }
}

export const adminRequired = (): GalaxyError =>
  new GalaxyError(403, 403006, 'You must be an administrator to access this feature.');

export const missingParameter = (field: string): GalaxyError =>
  new GalaxyError(400, 400007, `Missing required parameter '${field}'.`, {
    validation_errors: [JSON.stringify({ loc: ['body', field], msg: 'Field required', type: 'missing' })],
  });

export const invalidParameter = (field: string, msg: string): GalaxyError =>
  new GalaxyError(400, 400008, `Invalid value for '${field}': ${msg}`, {
    validation_errors: [JSON.stringify({ loc: ['body', field], msg, type: 'value_error' })],
  });
