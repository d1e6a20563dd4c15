/**
 * One typed call to Galaxy: the request, then `check` of its answer (client.ts runs it through
 * the HTTP layer and tells the daemon of answers it cannot use). The resource modules
 * (libraries.ts, folders.ts, roles.ts, jobs.ts) are written against it.
 */
export type Call = <T>(method: 'GET' | 'POST' | 'DELETE' | 'PATCH' | 'PUT', path: string, body: unknown, check: (answer: unknown) => T) => Promise<T>;

export const enc = encodeURIComponent;
