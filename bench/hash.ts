/**
 * Hashing throughput (issue 28): galaxy-importd's checksum (src/pipeline/checksum.ts) against
 * coreutils' sha256sum and md5sum over the same files in the same run, the files in the page
 * cache (read once before), so that the figure is the hashing's, not the disk's. For the daemon's
 * own way, also the chunk size and the longest the event loop waited meanwhile (what hashing on
 * the loop costs the rest of the daemon), against the same hashing in a worker thread.
 *
 * Usage: node dist/bench/hash.js [--mb 1024] [--files 4]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { checksumFile } from '../src/pipeline/checksum.js';
import { machine, recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, files: { type: 'string', default: '4' } } });
const totalMb = Number(values.mb);
const count = Number(values.files);
const dir = mkdtempSync(path.join(os.tmpdir(), 'importd-hash-'));
const files: string[] = [];
const block = randomBytes(1 << 20);
for (let i = 0; i < count; i++) {
  const f = path.join(dir, `f${i}.bin`);
  const fd = openSync(f, 'w');
  // Random megabytes (each its own, so that no file compresses or repeats across a chunk).
  for (let mb = 0; mb < totalMb / count; mb++) writeSync(fd, mb % 2 === 0 ? randomBytes(1 << 20) : block);
  closeSync(fd);
  files.push(f);
}
for (const f of files) readFileSync(f); // into the page cache

interface Row { way: string; fn: string; seconds: number; mbPerSecond: number; maxLoopDelayMs: number | null }
const rows: Row[] = [];

function tool(cmd: string): void {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, files, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rows.push({ way: `coreutils ${cmd}`, fn: cmd.replace('sum', ''), seconds, mbPerSecond: totalMb / seconds, maxLoopDelayMs: null });
}

async function ours(fn: 'sha256' | 'md5', chunkBytes: number, inWorker: boolean): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  // A timer every millisecond stands for the daemon's other work: how late it runs is the loop's delay.
  const tick = setInterval(() => undefined, 1);
  loop.enable();
  const started = process.hrtime.bigint();
  for (const f of files) {
    if (inWorker) {
      const w = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { file: f, fn, chunkBytes } });
      await new Promise<void>((resolve, reject) => w.once('message', () => resolve()).once('error', reject));
      await w.terminate();
    } else {
      await checksumFile(f, fn, { chunkBytes });
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  loop.disable();
  clearInterval(tick);
  rows.push({ way: `galaxy-importd${inWorker ? ' in a worker thread' : ''}, chunks of ${chunkBytes >> 10} KiB`, fn, seconds, mbPerSecond: totalMb / seconds, maxLoopDelayMs: loop.max / 1e6 });
}

for (const [fn, cmd] of [['sha256', 'sha256sum'], ['md5', 'md5sum']] as const) {
  tool(cmd);
  for (const chunk of [64 << 10, 1 << 20, 4 << 20]) await ours(fn, chunk, false);
  await ours(fn, 1 << 20, true);
}
rmSync(dir, { recursive: true, force: true });
for (const r of rows) console.log(`${r.fn}\t${r.way}\t${r.mbPerSecond.toFixed(0)} MB/s${r.maxLoopDelayMs === null ? '' : `\tloop waited at most ${r.maxLoopDelayMs.toFixed(1)} ms`}`);

const best = (fn: string, prefix: string): Row | undefined => rows.filter((r) => r.fn === fn && r.way.startsWith(prefix)).sort((a, b) => b.mbPerSecond - a.mbPerSecond)[0];
const ratioLine = (['sha256', 'md5'] as const).map((fn) => {
  const t = best(fn, 'coreutils');
  const o = rows.find((r) => r.fn === fn && r.way === 'galaxy-importd, chunks of 1024 KiB');
  return t && o ? `${fn}: ${(o.mbPerSecond / t.mbPerSecond).toFixed(2)}× coreutils' throughput` : '';
}).join('; ');
recordFigures('hash', { totalMb, files: count, rows });
writeSection('hash', [
  `### Hashing throughput, ${totalMb.toLocaleString('en')} MB in ${count} files`,
  '',
  `\`node dist/bench/hash.js --mb ${totalMb} --files ${count}\`: the files (random bytes) in the page cache; each way hashes them one after the other. "Loop waited" is the longest an event-loop timer was late meanwhile (what the rest of the daemon waits while a file is hashed).`,
  '',
  '| function | way | MB/s | loop waited at most |',
  '| --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.fn} | ${r.way} | ${r.mbPerSecond.toFixed(0)} | ${r.maxLoopDelayMs === null ? '–' : `${r.maxLoopDelayMs.toFixed(1)} ms`} |`),
  '',
  `The daemon's way (1 MiB chunks on the loop) against coreutils, same run: ${ratioLine} (goal: at least 0.9×).`,
  '',
  `Measured on: ${machine()}.`,
]);
