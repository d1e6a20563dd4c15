export * from './client.js';
export * from './errors.js';
export { parseRetryAfter } from './http.js';
