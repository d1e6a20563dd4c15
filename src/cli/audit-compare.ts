import type { FileRecord } from '../ledger/ledger.js';
import { checksumOf } from '../pipeline/checksum.js';

/**
 * `audit`'s verdicts, without I/O: a file's ledger row against what is on disk now and what
 * Galaxy holds now (audit-disk.ts and audit-galaxy.ts look; audit.ts reports).
 */

/** What audit finds wrong with a file: its key in --json, and its words in the report. */
export const PROBLEMS = {
  missing_on_disk: 'missing on disk',
  unreadable_on_disk: 'unreadable on disk',
  changed_on_disk: 'changed on disk',
  bytes_changed_on_disk: 'changed on disk (same size and mtime)',
  no_checksum: 'no checksum',
  missing_in_galaxy: 'missing in Galaxy',
  deleted_in_galaxy: 'deleted in Galaxy',
  not_ok_in_galaxy: 'not ok in Galaxy',
  no_hash_in_galaxy: 'no hash in Galaxy',
  galaxy_hash_differs: "Galaxy's hash differs",
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

/**
 * Not a difference but a file that cannot be shown to be whole: imported without a checksum, or
 * Galaxy keeps none. Reported always; they make the audit fail only with --strict (an upgrade
 * from a release without checksums would otherwise fail every audit for files it cannot fix).
 */
export const UNVERIFIED: ReadonlySet<ProblemKind> = new Set<ProblemKind>(['no_checksum', 'no_hash_in_galaxy']);

export interface Problem {
  kind: ProblemKind;
  detail: string;
}

/** The file at its place now: `present` with its checksum when size and mtime are the ledger's and the ledger has one (else null). */
export type DiskLook =
  | { kind: 'not-kept'; why: string }
  | { kind: 'missing'; where: string }
  | { kind: 'unreadable'; where: string; reason: string }
  | { kind: 'present'; where: string; size: number; mtimeMs: number; hex: string | null };

export interface StoredHashes {
  /** The state of the dataset under the library dataset (a stored hash counts only when it is ok). */
  state: string;
  hashes: readonly { hashFunction: string; hex: string }[];
}

/** The file's dataset in Galaxy now; `storage` null when not asked (deleted, not ok, or no checksum to compare). */
export type GalaxyLook =
  | { kind: 'missing'; detail: string }
  | { kind: 'found'; deleted: boolean; state: string; movedTo: string | null; storage: StoredHashes | { error: string } | null };

/** Where the file is to be found and how to compare it: `mtime` false once moved (a copy across file systems takes a new mtime). */
export interface Place {
  link: boolean;
  mtime: boolean;
}

/** Whether the file on disk is the version the ledger recorded (so that its bytes are worth reading). */
export function sameVersion(row: Pick<FileRecord, 'size' | 'mtimeMs'>, now: { size: number; mtimeMs: number }, place: Pick<Place, 'mtime'>): boolean {
  return now.size === row.size && (!place.mtime || Math.trunc(now.mtimeMs) === Math.trunc(row.mtimeMs));
}

const short = (hex: string): string => (hex.length > 16 ? `${hex.slice(0, 16)}…` : hex);
const when = (ms: number): string => new Date(ms).toISOString();

/** For a linked dataset (link_data_only) the file on disk is the dataset: a change to it is a change to Galaxy's data. */
const LINKED = "; linked (link_data_only): Galaxy's dataset is this file, so the dataset itself changed";

function diskProblems(row: FileRecord, look: DiskLook, place: Place): Problem[] {
  const linked = place.link ? LINKED : '';
  switch (look.kind) {
    case 'not-kept':
      return [];
    case 'missing':
      return [{ kind: 'missing_on_disk', detail: `${look.where} does not exist${linked}` }];
    case 'unreadable':
      return [{ kind: 'unreadable_on_disk', detail: `${look.where}: ${look.reason}` }];
    default:
      break;
  }
  if (!sameVersion(row, look, place)) {
    const changes = [
      ...(look.size !== row.size ? [`size ${row.size} → ${look.size} bytes`] : []),
      ...(place.mtime && Math.trunc(look.mtimeMs) !== Math.trunc(row.mtimeMs) ? [`mtime ${when(row.mtimeMs)} → ${when(look.mtimeMs)}`] : []),
    ];
    return [{ kind: 'changed_on_disk', detail: `${changes.join(', ')}${linked}` }];
  }
  const recorded = checksumOf(row.checksum);
  if (recorded === null || look.hex === null || look.hex === recorded.hex.toLowerCase()) return [];
  return [{ kind: 'bytes_changed_on_disk', detail: `${recorded.hashFunction} ${short(recorded.hex)} in the ledger, ${short(look.hex)} on disk${linked}` }];
}

function galaxyProblems(row: FileRecord, look: GalaxyLook): Problem[] {
  if (look.kind === 'missing') return [{ kind: 'missing_in_galaxy', detail: look.detail }];
  const moved = look.movedTo === null ? '' : ` (now in folder ${look.movedTo})`;
  if (look.deleted) return [{ kind: 'deleted_in_galaxy', detail: `dataset ${row.datasetId ?? '?'}${moved}` }];
  if (look.state !== 'ok') return [{ kind: 'not_ok_in_galaxy', detail: `dataset ${row.datasetId ?? '?'} is ${look.state}${moved}` }];
  const recorded = checksumOf(row.checksum);
  if (recorded === null || look.storage === null) return [];
  if ('error' in look.storage) return [{ kind: 'not_ok_in_galaxy', detail: `Galaxy did not show the stored hashes of dataset ${row.datasetId ?? '?'}: ${look.storage.error}` }];
  if (look.storage.state !== 'ok') return [{ kind: 'not_ok_in_galaxy', detail: `the data of dataset ${row.datasetId ?? '?'} is ${look.storage.state}${moved}` }];
  const same = look.storage.hashes.filter((h) => h.hashFunction === recorded.hashFunction);
  if (same.length === 0) {
    const others = look.storage.hashes.map((h) => h.hashFunction);
    const why = row.verified ? '' : ' (sent without it: method = paths, or found already in Galaxy)';
    return [{ kind: 'no_hash_in_galaxy', detail: `Galaxy keeps no ${recorded.hashFunction} of dataset ${row.datasetId ?? '?'}${others.length ? `, only ${others.join(', ')}` : ''}${why}` }];
  }
  if (same.some((h) => h.hex.toLowerCase() === recorded.hex.toLowerCase())) return [];
  return [{ kind: 'galaxy_hash_differs', detail: `${recorded.hashFunction} ${short(recorded.hex)} in the ledger, ${same.map((h) => short(h.hex)).join(', ')} in Galaxy` }];
}

/** Every problem of one file (none: it matches), disk first, then Galaxy. */
export function compareFile(row: FileRecord, disk: DiskLook, galaxy: GalaxyLook, place: Place): Problem[] {
  const problems = [...diskProblems(row, disk, place), ...galaxyProblems(row, galaxy)];
  if (checksumOf(row.checksum) === null) {
    problems.push({ kind: 'no_checksum', detail: row.checksum === null ? 'the ledger has no checksum of this version ([upload] checksum = none, or imported before checksums)' : `the ledger's checksum ${row.checksum} is of a kind this version does not know` });
  }
  return problems;
}

/** Whether the audit fails: any difference; with `strict`, a file that cannot be verified too. */
export function fails(problems: readonly Problem[], strict: boolean): boolean {
  return problems.some((p) => strict || !UNVERIFIED.has(p.kind));
}
