import path from 'node:path';
import { systemClock } from '../clock.js';
import type { Config } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { FolderItem } from '../galaxy/client.js';
import { requestLimiter } from '../galaxy/limiter.js';
import type { FileRecord } from '../ledger/ledger.js';
import { ledgerWhere, openLedgerReadOnly } from '../ledger/open.js';
import { createLogger } from '../observe/logger.js';
import { folderText, routeFile } from '../pipeline/route.js';
import { version } from '../version.js';
import type { Place, Problem, ProblemKind } from './audit-compare.js';
import { compareFile, fails, PROBLEMS, UNVERIFIED } from './audit-compare.js';
import { lookOnDisk, Pace } from './audit-disk.js';
import { GalaxySide } from './audit-galaxy.js';
import type { DaemonIo } from './io.js';
import { commandClient, daemonSetup, relativePath } from './io.js';

/**
 * `galaxy-importd audit [PATH-PREFIX | --library NAME] [--max-mb-per-second N] [--strict] [--json]`:
 * each file the ledger holds as imported (`ok`), in scope, against its file on disk (size, mtime,
 * then its checksum read again) and its dataset in Galaxy (there, not deleted, ok, and the hash
 * Galaxy stored equal to the ledger's). Reads only: the ledger, the files and Galaxy are left as they are.
 */

/** Files looked at together: their disk reads share the --max-mb-per-second pace; Galaxy's requests go through the limiter. */
const AT_ONCE = 4;

export interface AuditedFile {
  file: string;
  library: string;
  folder: string;
  datasetId: string | null;
  linked: boolean;
  problems: Problem[];
}

export interface AuditReport {
  checked: number;
  matching: number;
  counts: Record<ProblemKind, number>;
  /** The files with a problem, by path. */
  files: AuditedFile[];
}

export interface AuditScope {
  /** Below this directory (relative to [import] dir), or this file; null: every file. */
  prefix: string | null;
  library: string | null;
}

/** Where the file of `row` is now, by [import] after_upload: kept in place, moved below a directory, or deleted (nothing to compare). */
export function placeOf(config: Pick<Config, 'import' | 'library' | 'upload' | 'folders'>, row: Pick<FileRecord, 'path'>): { full: string | null; place: Place; library: string; folder: string } {
  const route = routeFile(row.path, config);
  const after = config.import.after_upload;
  const full = after.action === 'keep' ? path.join(config.import.dir ?? '', row.path) : after.action === 'move' ? path.join(after.dir, row.path) : null;
  return { full, place: { link: route.link, mtime: after.action === 'keep' }, library: route.library, folder: folderText(route) };
}

/** The rows in scope: ok, a dataset recorded, below the prefix (whole path components) or routed to the library. */
export function inScope(rows: readonly FileRecord[], scope: AuditScope, config: Pick<Config, 'library' | 'upload' | 'folders'>): FileRecord[] {
  const prefix = scope.prefix?.replace(/\/+$/, '') ?? '';
  return rows.filter((r) => r.state === 'ok'
    && (prefix === '' || prefix === '.' || r.path === prefix || r.path.startsWith(`${prefix}/`))
    && (scope.library === null || routeFile(r.path, config).library === scope.library));
}

/**
 * Every row against disk and Galaxy, AT_ONCE at a time, folder by folder (each folder listed once,
 * its listing dropped once its files are done). A Galaxy that cannot be reached ends the audit (thrown).
 */
export async function auditFiles(rows: readonly FileRecord[], d: { config: Pick<Config, 'import' | 'library' | 'upload' | 'folders'>; galaxy: Pick<GalaxySide, 'folder' | 'look'>; pace: Pace }): Promise<AuditReport> {
  const sorted = [...rows].sort((a, b) => (a.folderId ?? '').localeCompare(b.folderId ?? '') || a.path.localeCompare(b.path));
  const left = new Map<string, number>();
  for (const r of sorted) left.set(r.folderId ?? '', (left.get(r.folderId ?? '') ?? 0) + 1);
  const listings = new Map<string, Promise<Map<string, FolderItem> | null>>();
  const report: AuditReport = { checked: 0, matching: 0, counts: Object.fromEntries(Object.keys(PROBLEMS).map((k) => [k, 0])) as Record<ProblemKind, number>, files: [] };
  const why = d.config.import.after_upload.action === 'delete' ? 'after_upload = delete' : '';
  const one = async (row: FileRecord): Promise<void> => {
    const key = row.folderId ?? '';
    let listing = listings.get(key);
    if (!listing) listings.set(key, (listing = d.galaxy.folder(row.folderId)));
    const at = placeOf(d.config, row);
    const [disk, galaxy] = await Promise.all([lookOnDisk(row, at.full, at.place, d.pace, why), listing.then((l) => d.galaxy.look(row, l))]);
    const remaining = (left.get(key) ?? 1) - 1;
    left.set(key, remaining);
    if (remaining === 0) listings.delete(key);
    const problems = compareFile(row, disk, galaxy, at.place);
    report.checked++;
    if (problems.length === 0) report.matching++;
    else report.files.push({ file: row.path, library: at.library, folder: at.folder, datasetId: row.datasetId, linked: at.place.link, problems });
    for (const kind of new Set(problems.map((p) => p.kind))) report.counts[kind]++;
  };
  const next = sorted[Symbol.iterator]();
  let failure: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    for (let n = next.next(); !n.done && failure === null; n = next.next()) {
      try {
        await one(n.value);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
  report.files.sort((a, b) => a.file.localeCompare(b.file));
  return report;
}

/** The report for people: counts, then one line per problem of each file. */
export function reportText(report: AuditReport, o: { scope: string; pace: string; disk: string; strict: boolean }): string {
  const lines = [`audit: ${report.checked} imported file${report.checked === 1 ? '' : 's'} checked (${o.scope}): on disk ${o.disk}${o.pace}, and in Galaxy`, ''];
  const width = Math.max(...Object.values(PROBLEMS).map((p) => p.length), 'matching'.length);
  lines.push(`  ${'matching'.padEnd(width)}  ${report.matching}`);
  for (const [kind, label] of Object.entries(PROBLEMS) as [ProblemKind, string][]) {
    if (report.counts[kind] > 0) lines.push(`  ${label.padEnd(width)}  ${report.counts[kind]}`);
  }
  if (report.files.length > 0) lines.push('', 'files with problems:');
  for (const f of report.files) {
    for (const p of f.problems) lines.push(`  ${f.file} (${f.library} ${f.folder}): ${PROBLEMS[p.kind]}: ${p.detail}`);
  }
  const failing = report.files.filter((f) => fails(f.problems, o.strict)).length;
  const unverified = report.files.filter((f) => f.problems.some((p) => UNVERIFIED.has(p.kind))).length;
  lines.push('', failing > 0
    ? `audit: ${failing} of ${report.checked} file${report.checked === 1 ? '' : 's'} ${failing === 1 ? 'differs or is missing' : 'differ or are missing'}${o.strict ? ' (or cannot be verified: --strict)' : ''}`
    : `audit: every file matches${unverified > 0 ? ` (${unverified} cannot be verified: no checksum or no hash in Galaxy; --strict fails on these)` : ''}`);
  return `${lines.join('\n')}\n`;
}

export interface AuditOptions extends AuditScope {
  /** Disk reads in MB (10^6 bytes) a second, all files together; 0: no bound. */
  maxMbPerSecond: number;
  strict: boolean;
  json: boolean;
}

/** Parsed --max-mb-per-second: a number from 0 up (0: as fast as the disk reads). */
export function parseRate(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--max-mb-per-second takes a number from 0 up (0: no bound), got ${JSON.stringify(text)}`);
  return n;
}

export async function auditCommand(config: Config, io: DaemonIo, o: AuditOptions): Promise<number> {
  if (o.prefix !== null && o.library !== null) throw new UsageError('audit takes a PATH-PREFIX or --library NAME, not both');
  const { key } = daemonSetup(config, io.env);
  const prefix = o.prefix === null ? null : relativePath(config, o.prefix);
  if (prefix !== null && (prefix.startsWith('../') || prefix === '..' || path.isAbsolute(prefix))) throw new UsageError(`${o.prefix} is not below the import directory ${config.import.dir ?? ''}`);
  const ledger = await openLedgerReadOnly(config, { log: createLogger('silent'), env: io.env, version: version(), clock: systemClock });
  const rows = ledger === null ? [] : inScope(ledger.inState('ok'), { prefix, library: o.library }, config);
  await ledger?.close();
  if (rows.length === 0 && (prefix !== null || o.library !== null)) {
    throw new UsageError(`the ledger (${ledgerWhere(config)}) holds no imported file ${prefix !== null ? `below ${prefix}` : `in the library ${o.library ?? ''}`}`);
  }
  const { limiter } = requestLimiter(config.upload.concurrency, config.upload.rate_per_second);
  const client = commandClient(config, key, limiter);
  try {
    const pace = new Pace(o.maxMbPerSecond * 1_000_000, systemClock);
    const report = await auditFiles(rows, { config, galaxy: new GalaxySide({ client, clock: systemClock }), pace });
    const failed = report.files.some((f) => fails(f.problems, o.strict));
    if (o.json) {
      io.stdout.write(`${JSON.stringify({
        scope: { prefix, library: o.library },
        checked: report.checked,
        matching: report.matching,
        failed,
        counts: report.counts,
        files: report.files.map((f) => ({
          file: f.file, library: f.library, folder: f.folder, dataset_id: f.datasetId, linked: f.linked,
          problems: f.problems.map((p) => ({ kind: p.kind, problem: PROBLEMS[p.kind], detail: p.detail })),
        })),
      }, null, 2)}\n`);
    } else {
      const deleted = config.import.after_upload.action === 'delete';
      io.stdout.write(reportText(report, {
        scope: prefix !== null ? `below ${prefix}` : o.library !== null ? `in the library ${o.library}` : 'all',
        disk: deleted ? 'not (after_upload = delete: the files are gone by design)' : 'read again',
        pace: deleted ? '' : o.maxMbPerSecond > 0 ? ` at most ${o.maxMbPerSecond} MB/s` : ' as fast as the disk reads',
        strict: o.strict,
      }));
    }
    return failed ? 1 : 0;
  } finally {
    await client.close();
  }
}
