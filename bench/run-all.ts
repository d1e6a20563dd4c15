#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark of bench/README.md in turn with the parameters of issue 5,
 * then the goals table. About 25 minutes on a 2-core machine; the soak is separate
 * (`npm run soak -- --minutes 30`).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNS: [string, string[]][] = [
  ['startup.js', ['--files', '10000', '--dirs', '100', '--mode', 'done', '--idle-seconds', '300']],
  ['startup.js', ['--files', '100000', '--dirs', '1000', '--mode', 'done', '--idle-seconds', '60']],
  ['startup.js', ['--files', '10000', '--dirs', '100', '--mode', 'new', '--idle-seconds', '10']],
  ['startup.js', ['--files', '100000', '--dirs', '1000', '--mode', 'new', '--idle-seconds', '10']],
  ['floor.js', ['--seconds', '20']],
  ['latency.js', ['--rate', '10', '--seconds', '30']],
  ['latency.js', ['--rate', '200', '--seconds', '10']],
  ['throughput.js', ['--files', '10000']],
  ['replicas.js', ['--files', '10000', '--runs', '3']],
  ['ledger-load.js', ['--rows', '100000']],
  ['large-folder.js', ['--datasets', '50000', '--batches', '200', '--batch', '10']],
  ['goals.js', []],
];
for (const [script, args] of RUNS) {
  process.stdout.write(`\n== node dist/bench/${script} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${script} exited ${r.status}\n`);
    process.exit(1);
  }
}
