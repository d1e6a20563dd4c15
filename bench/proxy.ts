/** A counting proxy in front of a real Galaxy: what the benchmarks' importers ask of it, request by request. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  url: string;
  /** Every request passed on so far, as `METHOD path?query`, in arrival order. */
  seen: string[];
  close: () => Promise<void>;
}

export async function startCountingProxy(galaxyUrl: string): Promise<CountingProxy> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
    // Galaxy's URL may have a path (the production shape's /galaxy): the request's path goes below it.
    const target = new URL(`${galaxyUrl.replace(/\/+$/, '')}${req.url ?? '/'}`);
    const out = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
