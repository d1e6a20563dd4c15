#!/usr/bin/env node
/**
 * This machine's floor for live files: what the least an uploader must do costs here, each part
 * in its own process, measured in one run.
 *
 *   wake-up   a process whose only work is a timer every 100 ms: the CPU of one wake-up
 *   watching  fs.watch on 10 directories, files written round-robin into them, each new name
 *             noted on stdout (baselines.js bare --no-upload): the CPU per file of watching
 *   request   one request per tick to a loopback server answering at once: by node:http, and
 *             by the daemon's own client (galaxy/http.ts, undici, as the daemon sends them)
 *
 * From these, the least CPU per live file an uploader that sends a request per grid step of
 * 200 ms can spend at 10 files/s: watching each file, plus half a request (the step's two files
 * go in one), and nothing more (no settling, ledger, log or confirmation). The goal of issue 13
 * (1 ms per live file at every rate) is set against it in the goals table.
 *
 * Usage: node dist/bench/floor.js [--seconds 20]
 * Writes bench/RESULTS.md section floor.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { GalaxyHttp, createAgent, unlimited } from '../src/galaxy/http.js';
import { atRate } from './pace.js';
import { cpuMs } from './proc.js';
import { recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, child: { type: 'string' }, rate: { type: 'string' }, url: { type: 'string' } } });
const seconds = Number(values.seconds);
const here = fileURLToPath(import.meta.url);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


if (values.child !== undefined) {
  // A requesting process: one request per tick, then "done" once every answer is in.
  const [client, rate, url] = [values.child, Number(values.rate), String(values.url)];
  const agent = new http.Agent({ keepAlive: true });
  const galaxy = new GalaxyHttp({ url, apiKey: 'floor', timeoutMs: 30_000, maxBodyBytes: 1 << 20, dispatcher: createAgent(30_000), userAgent: 'floor', limiter: unlimited, clock: systemClock });
  const byNode = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(`${url}/api/version`, { agent, headers: { accept: 'application/json', 'x-api-key': 'floor' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(void JSON.parse(text)));
      });
      req.on('error', reject);
      req.end();
    });
  const one = client === 'node:http' ? byNode : () => galaxy.call('GET', '/api/version').then(() => undefined);
  await one(); // the connection, open before the count starts
  process.stdout.write('ready\n');
  const pending: Promise<void>[] = [];
  await atRate(rate, Math.round(rate * seconds), () => void pending.push(one()));
  await Promise.all(pending);
  process.stdout.write('done\n');
  await sleep(60_000);
  process.exit(0);
}

/** Runs a child until it prints `done` (or for `forMs`), and returns its CPU from its `ready` line on. */
async function childCpu(args: string[], o: { forMs?: number; work?: () => Promise<void> } = {}): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // One listener for the child's output: the words looked for, each resolved once seen (a word split across chunks is found by the chunk's tail of the one before).
  const waiting = new Map<string, () => void>([['ready', () => undefined], ['done', () => undefined]]);
  const seen = new Set<string>();
  let tail = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = tail + d.toString();
    for (const [word, resolve] of waiting) {
      if (seen.has(word) || !text.includes(word)) continue;
      seen.add(word);
      resolve();
    }
    tail = text.slice(-8);
  });
  const saw = (word: string): Promise<void> => (seen.has(word) ? Promise.resolve() : new Promise((resolve) => void waiting.set(word, resolve)));
  await saw('ready');
  await sleep(200);
  const c0 = cpuMs(child.pid ?? 0);
  if (o.work) await o.work();
  if (o.forMs !== undefined) await sleep(o.forMs);
  else if (!o.work) await saw('done');
  const cpu = cpuMs(child.pid ?? 0) - c0;
  child.kill();
  return cpu;
}

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"version_major":"26.1"}'));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

process.stdout.write('a wake-up … ');
const wakeMs = (await childCpu(['-e', 'setInterval(() => {}, 100); console.log("ready")'], { forMs: seconds * 1000 })) / (seconds * 10);
process.stdout.write(`${wakeMs.toFixed(3)} ms\n`);

const RATES = [10, 200];
const watchMs: Record<number, number> = {};
for (const rate of RATES) {
  process.stdout.write(`watching at ${rate} files/s … `);
  const root = mkdtempSync(path.join(os.tmpdir(), 'importd-floor-'));
  for (let d = 0; d < 10; d++) mkdirSync(path.join(root, `run${d}`));
  const n = Math.round(rate * seconds);
  const baselines = path.join(path.dirname(here), 'baselines.js');
  // baselines.js prints {"event":"ready"}: it has "ready" in it.
  const cpu = await childCpu([baselines, 'bare', root, url, '--no-upload'], {
    work: async () => {
      await atRate(rate, n, (i) => writeFileSync(path.join(root, `run${i % 10}`, `f${i}.txt`), `floor ${i}\n`));
      await sleep(300);
    },
  });
  rmSync(root, { recursive: true, force: true });
  watchMs[rate] = cpu / n;
  process.stdout.write(`${(watchMs[rate] ?? 0).toFixed(3)} ms per file\n`);
}

const CLIENTS = ['node:http', 'galaxy-importd (undici)'] as const;
const requestMs: Record<string, Record<number, number>> = {};
for (const client of CLIENTS) {
  requestMs[client] = {};
  for (const rate of RATES) {
    process.stdout.write(`${client} at ${rate} requests/s … `);
    const cpu = await childCpu([here, '--child', client, '--rate', String(rate), '--seconds', String(seconds), '--url', url]);
    const per = cpu / Math.round(rate * seconds);
    requestMs[client][rate] = per;
    process.stdout.write(`${per.toFixed(3)} ms per request\n`);
  }
}
server.close();

const ms = (v: number | undefined): string => `${(v ?? NaN).toFixed(2)} ms`;
const ours = requestMs['galaxy-importd (undici)'] ?? {};
const least10 = (watchMs[10] ?? NaN) + (ours[10] ?? NaN) / 2;
const least10Node = (watchMs[10] ?? NaN) + (requestMs['node:http']?.[10] ?? NaN) / 2;
recordFigures('floor', { seconds, wakeMs, watchMs, requestMs, least10, least10Node });
writeSection('floor', [
  '### This machine\'s floor for live files',
  '',
  `\`node dist/bench/floor.js --seconds ${seconds}\`: what the least an uploader must do costs here, each part in its own process against a loopback server answering at once. CPU is the process's user and system time from /proc.`,
  '',
  '| part | at 10 a second | at 200 a second |',
  '| --- | --- | --- |',
  `| one wake-up of an idle process (a timer every 100 ms) | ${ms(wakeMs)} | |`,
  `| watching: fs.watch on 10 directories, a line on stdout per new file, per file | ${ms(watchMs[10])} | ${ms(watchMs[200])} |`,
  ...CLIENTS.map((c) => `| one request and its answer, by ${c} | ${ms(requestMs[c]?.[10])} | ${ms(requestMs[c]?.[200])} |`),
  '',
  `The least CPU per live file at 10 files/s of an uploader that sends one request per 200 ms step (two files a request) and does nothing else: watching plus half a request, **${ms(least10)}** with galaxy-importd's client (${ms(least10Node)} with node:http). Settling, the ledger, the log and confirming each file in Galaxy all come on top of it. Issue 13's goal of 1 ms per live file at every rate is set against it in the goals table.`,
]);
process.exit(0);
