import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSource {
  /** The process and its watcher are alive. */
  live(): boolean;
  /** Start-up walk done, Galaxy reachable with the key, ledger open; else the reasons. */
  ready(): Promise<string[]>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The status page (status-page.ts), served at `/`. */
  page?(): Promise<string>;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

/** /healthz, /readyz, /metrics and the status page at / on node:http: four routes need no framework. */
export async function startHttpServer(listen: { host: string; port: number }, source: HealthSource): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const route = `${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0] ?? '/'}`;
    void (async () => {
      switch (route) {
        case 'GET /healthz': {
          const live = source.live();
          return send(live ? 200 : 503, 'application/json', JSON.stringify({ status: live ? 'ok' : 'stopping' }));
        }
        case 'GET /readyz': {
          const reasons = await source.ready();
          return send(reasons.length === 0 ? 200 : 503, 'application/json', JSON.stringify({ ready: reasons.length === 0, reasons }));
        }
        case 'GET /metrics': {
          const m = await source.metrics();
          return send(200, m.contentType, m.body);
        }
        case 'GET /':
          if (source.page) return send(200, 'text/html; charset=utf-8', await source.page());
          return send(404, 'application/json', JSON.stringify({ error: 'not found: try /healthz, /readyz or /metrics' }));
        default:
          return send(404, 'application/json', JSON.stringify({ error: `not found: try /${source.page ? ' (the status page), /healthz' : 'healthz'}, /readyz or /metrics` }));
      }
    })().catch((err: unknown) => send(500, 'application/json', JSON.stringify({ error: err instanceof Error ? err.message : String(err) })));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
