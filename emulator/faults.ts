/**
 * HTTP fault injection: what a proxy in front of Galaxy, a restarting Galaxy or a
 * flaky network does to a client. Rules are tried in order; the first that
 * matches a request (and has `times` left and wins its `probability` draw) acts.
 */
export type FaultAction =
  /** Answer at once with this status; `body` picks an HTML page (a proxy), Galaxy JSON, plain text or nothing. */
  | { type: 'status'; status: number; body?: 'html' | 'json' | 'text' | 'empty'; retryAfter?: number }
  /** Wait, then handle the request normally. */
  | { type: 'delay'; ms: number }
  /** Never answer; the request stays in flight until the client gives up. */
  | { type: 'hang' }
  /** Destroy the connection before handling the request. */
  | { type: 'reset' }
  /** Answer 200 with a body that is not valid JSON. */
  | { type: 'invalid-json' }
  /** Answer 200 with this JSON body instead of Galaxy's (an unexpected shape). */
  | { type: 'shape'; body: unknown }
  /** Handle the request (Galaxy acts on it), then lose the answer: answer with this status instead. */
  | { type: 'accept-then'; status: number; body?: 'html' | 'json' }
  /** Handle the request, then destroy the connection instead of answering. */
  | { type: 'accept-then-reset' }
  /** Handle the request, then send the answer one byte every `ms` milliseconds. */
  | { type: 'slow-drip'; ms: number }
  /** Answer 200 with a JSON array of `bytes` size. */
  | { type: 'huge'; bytes: number }
  /** Answer as a Galaxy that lacks the route: 404 and its "No route for PATH" page. */
  | { type: 'no-route' };

export interface FaultRule {
  /** HTTP method to match; any when absent. */
  method?: string;
  /** A regular expression tested against the path (without the query string); any when absent. */
  path?: string;
  /** How many requests it applies to; unlimited when absent. */
  times?: number;
  /** The chance, 0..1, that a matching request is hit; 1 when absent. */
  probability?: number;
  action: FaultAction;
}

/** mulberry32: a small seeded generator so probabilistic faults repeat from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultTable {
  readonly rules: FaultRule[] = [];
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = seededRandom(seed);
  }

  add(...rules: FaultRule[]): void {
    for (const rule of rules) {
      if (rule.path !== undefined) new RegExp(rule.path); // throws early on a bad pattern
      this.rules.push({ ...rule });
    }
  }

  clear(): void {
    this.rules.length = 0;
  }

  take(method: string, pathname: string): FaultAction | undefined {
    for (const rule of this.rules) {
      if (rule.times !== undefined && rule.times <= 0) continue;
      if (rule.method !== undefined && rule.method.toUpperCase() !== method) continue;
      if (rule.path !== undefined && !new RegExp(rule.path).test(pathname)) continue;
      if (rule.probability !== undefined && this.#random() >= rule.probability) continue;
      if (rule.times !== undefined) rule.times--;
      return rule.action;
    }
    return undefined;
  }
}

const REASONS: Record<number, string> = {
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};

/**
 * What a real Galaxy (26.1) answers to a path or method it has no route for, under /api too:
 * 404, text/html, from the legacy web app behind FastAPI (docs/galaxy-notes.md).
 */
export const NO_ROUTE_HTML = (pathname: string): string =>
  `<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  The resource could not be found.<br /><br />\nNo route for ${pathname}\n\n\n </body>\n</html>`;

/** The error page nginx serves in front of a Galaxy that is restarting or down. */
export const PROXY_HTML = (status: number): string => {
  const title = `${status} ${REASONS[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
};
