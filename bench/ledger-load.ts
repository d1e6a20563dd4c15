#!/usr/bin/env node
/**
 * The shared ledger's memory: a replica keeps the rows it knows in memory (all rows at start).
 * Fills a PostgreSQL ledger with N done files, then opens it as a replica: the time to open
 * (migrate, name lock, load) and the heap and RSS it adds; then one claim of 1,000 new files
 * and one write-behind batch of 1,000 changes, timed.
 *
 * PostgreSQL: see bench/postgres.ts. Usage: node --expose-gc dist/bench/ledger-load.js [--rows 100000]
 * Writes bench/RESULTS.md section ledger-load.
 */
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { PostgresLedger } from '../src/ledger/postgres/store.js';
import { createLogger } from '../src/observe/logger.js';
import { benchPostgres } from './postgres.js';
import { machine, recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' } } });
const rows = Number(values.rows);
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

const postgres = benchPostgres();
const password = postgres.password;
let db: string | null = null;

try {
  const created = await postgres.createDatabase('bench_load');
  db = created.name;
  const url = created.url;
  const quiet = createLogger('silent');
  const options = { url, password, leaseSeconds: 60, role: 'replica' as const, version: 'bench', log: quiet, waitForDatabase: false, clock: systemClock };
  // Create the schema, then the rows, as a finished run of N files would leave them.
  await (await PostgresLedger.open({ ...options, replica: 'filler' })).close(1000);
  await postgres.sql(`INSERT INTO importd_files (path, size, mtime_ms, state, attempts, library_id, folder_id, dataset_id, job_id, updated_at)
    SELECT 'run' || lpad((i % 1000)::text, 3, '0') || '/file-' || i || '.fastq.gz', 1000 + i, 1700000000000.5 + i, 'ok', 1,
           'lib0123456789abcd', 'F' || lpad((i % 1000)::text, 16, '0'), md5(i::text), md5((i / 100)::text), 1700000000000
    FROM generate_series(1, ${rows}) AS i`, url);

  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const ledger = await PostgresLedger.open({ ...options, replica: 'bench' });
  const openMs = performance.now() - t0;
  gc();
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  const rssMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
  const fresh = Array.from({ length: 1000 }, (_, i) => ({ path: `new/f${i}`, size: i, mtimeMs: i }));
  const t1 = performance.now();
  await ledger.claim(fresh);
  const claimMs = performance.now() - t1;
  const t2 = performance.now();
  for (const f of fresh) ledger.put({ ...f, state: 'queued', attempts: 0, lastError: null, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, checksum: null, verified: false, updatedAt: Date.now() });
  await ledger.commit();
  const commitMs = performance.now() - t2;
  await ledger.close(2000);
  process.stdout.write(`${rows} rows: open ${openMs.toFixed(0)} ms, +${heapMb.toFixed(0)} MB heap, +${rssMb.toFixed(0)} MB RSS; claim of 1,000: ${claimMs.toFixed(0)} ms; 1,000 changes written: ${commitMs.toFixed(0)} ms\n`);
  recordFigures('ledger-load', { rows, openMs, heapMb, rssMb, claimMs, commitMs });
  writeSection('ledger-load', [
    `### The shared ledger in memory, ${rows.toLocaleString('en')} files`,
    '',
    `\`node --expose-gc dist/bench/ledger-load.js --rows ${rows}\` (${machine()}): a PostgreSQL ledger holding ${rows.toLocaleString('en')} done files, opened as a replica (it loads every row).`,
    '',
    '| open (migrate, name, load) | heap added | RSS added | claim 1,000 new files | write 1,000 changes (one commit) |',
    '| --- | --- | --- | --- | --- |',
    `| ${openMs.toFixed(0)} ms | ${heapMb.toFixed(0)} MB | ${rssMb.toFixed(0)} MB | ${claimMs.toFixed(0)} ms | ${commitMs.toFixed(0)} ms |`,
  ]);
} finally {
  if (db !== null) await postgres.dropDatabase(db);
  postgres.stop();
}
