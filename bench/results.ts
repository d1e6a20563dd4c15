import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'RESULTS.md');

/** The machine a figure was measured on, printed under each section. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** Replace (or add) one named section of bench/RESULTS.md, leaving the others as they are. */
export function writeSection(name: string, lines: string[]): void {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\nEach section is written by the benchmark named in it; run it again to refresh the figures.\n';
  const body = `${begin}\n${[...lines, '', `Measured on: ${machine()}.`].join('\n')}\n${end}`;
  const at = text.indexOf(begin);
  const next = at >= 0 ? `${text.slice(0, at)}${body}${text.slice(text.indexOf(end) + end.length)}` : `${text.trimEnd()}\n\n${body}\n`;
  writeFileSync(file, next);
}

const figuresFile = path.join(path.dirname(file), 'figures.json');

/** Keep a benchmark's key figures, machine-readable, for the goals table (bench/goals.ts). */
export function recordFigures(name: string, figures: unknown): void {
  const all = existsSync(figuresFile) ? (JSON.parse(readFileSync(figuresFile, 'utf8')) as Record<string, unknown>) : {};
  all[name] = { ...(figures as object), measuredOn: machine() };
  writeFileSync(figuresFile, `${JSON.stringify(all, null, 2)}\n`);
}

export function readFigures(): Record<string, Record<string, unknown>> {
  return existsSync(figuresFile) ? (JSON.parse(readFileSync(figuresFile, 'utf8')) as Record<string, Record<string, unknown>>) : {};
}
