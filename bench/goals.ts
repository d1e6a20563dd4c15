#!/usr/bin/env node
/**
 * The goals of issue 5, each marked met or not from the figures the benchmarks recorded in
 * bench/figures.json; an unmet goal stays visible with its measured gap.
 * Usage: node dist/bench/goals.js   (npm run bench runs it last)
 */
import { readFigures, writeSection } from './results.js';

interface Goal {
  goal: string;
  source: string;
  value: (f: Record<string, Record<string, unknown>>) => number | undefined;
  unit: string;
  limit: number;
  /** true: the value must be below the limit; false: at least the limit. */
  below: boolean;
}

type Row = Record<string, number | string>;
const ours = (f: Record<string, Record<string, unknown>>, name: string): Row | undefined =>
  (f[name]?.results as Row[] | undefined)?.find((r) => r.system === 'galaxy-importd');
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

const GOALS: Goal[] = [
  { goal: 'daemon delay beyond the settle window, p95, at 10 files/s', source: 'latency-10', value: (f) => num(ours(f, 'latency-10')?.beyond95), unit: 'ms', limit: 250, below: true },
  { goal: 'daemon delay beyond the settle window, p95, at 200 files/s', source: 'latency-200', value: (f) => num(ours(f, 'latency-200')?.beyond95), unit: 'ms', limit: 250, below: true },
  { goal: 'files per second from ready to submitted (Galaxy answering at once, no throttling)', source: 'throughput', value: (f) => num(ours(f, 'throughput')?.filesPerSecond), unit: 'files/s', limit: 1000, below: false },
  { goal: 'CPU per file', source: 'throughput', value: (f) => num(ours(f, 'throughput')?.cpuMsPerFile), unit: 'ms', limit: 1, below: true },
  { goal: 'CPU while idle (5 minutes, 10,000 done files)', source: 'startup-done-10000', value: (f) => num(f['startup-done-10000']?.idleCpuPct), unit: '% of one core', limit: 0.5, below: true },
  { goal: 'RSS with 100,000 done files (peak)', source: 'startup-done-100000', value: (f) => num(f['startup-done-100000']?.peakMb), unit: 'MB', limit: 250, below: true },
];

const figures = readFigures();
const lines = [
  '### Goals (issue 5)',
  '',
  'From the figures below (`bench/figures.json` holds them machine-readable); `node dist/bench/goals.js` rewrites this table.',
  '',
  '| goal | limit | measured | met |',
  '| --- | --- | --- | --- |',
];
for (const g of GOALS) {
  const v = g.value(figures);
  const limit = `${g.below ? '<' : '≥'} ${g.limit.toLocaleString('en')} ${g.unit}`;
  if (v === undefined) {
    lines.push(`| ${g.goal} | ${limit} | not measured (run the ${g.source} benchmark) | – |`);
    continue;
  }
  const met = g.below ? v < g.limit : v >= g.limit;
  const shown = `${v.toLocaleString('en', { maximumFractionDigits: 2 })} ${g.unit}`;
  const gap = met ? '' : ` (gap: ${Math.abs(v - g.limit).toLocaleString('en', { maximumFractionDigits: 2 })} ${g.unit})`;
  lines.push(`| ${g.goal} | ${limit} | ${shown} | ${met ? 'yes' : `**no**${gap}`} |`);
}
writeSection('goals', lines);
process.stdout.write(`${lines.join('\n')}\n`);
