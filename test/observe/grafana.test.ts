import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHttpServer } from '../../src/observe/http.js';
import { Metrics } from '../../src/observe/metrics.js';
import { metricsSource } from '../fakes.js';

const dashboard = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'grafana', 'galaxy-importd.json');

/** Every query string in the dashboard: panels' `expr`, the template variables' `query`. */
function queries(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) queries(n, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'query' || k === 'definition') && typeof v === 'string') out.push(v);
      else queries(v, out);
    }
  }
  return out;
}

describe('docs/grafana/galaxy-importd.json', () => {
  it('names only metrics that /metrics serves', async (t) => {
    const metrics = new Metrics(metricsSource());
    const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, {
      live: () => true,
      ready: () => Promise.resolve([]),
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    });
    t.after(() => server.close());
    const body = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    // Each family once, with its type: a histogram's samples are NAME_bucket, NAME_sum and NAME_count.
    const families = new Map([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
    const served = (name: string): boolean => {
      if (families.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && families.get(base) === 'histogram';
    };
    const json = JSON.parse(readFileSync(dashboard, 'utf8')) as unknown;
    const named = new Set(queries(json).flatMap((q) => q.match(/\bgalaxy_importd_[a-z0-9_]+/g) ?? []));

    assert.ok(named.size >= 10, `the dashboard names the daemon's metrics (${[...named].join(', ')})`);
    assert.deepEqual([...named].filter((n) => !served(n)), [], 'every metric the dashboard names is served');
    for (const family of ['galaxy_importd_files', 'galaxy_importd_uploads_total', 'galaxy_importd_upload_latency_seconds', 'galaxy_importd_galaxy_request_duration_seconds', 'galaxy_importd_queue_depth']) {
      assert.ok([...named].some((n) => n.startsWith(family)), `a panel shows ${family}`);
    }
  });
});
