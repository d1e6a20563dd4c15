import { promises as fsp } from 'node:fs';
import type { Clock } from '../clock.js';
import type { FileRecord } from '../ledger/ledger.js';
import { checksumFile, checksumName, checksumOf } from '../pipeline/checksum.js';
import type { DiskLook, Place } from './audit-compare.js';
import { sameVersion } from './audit-compare.js';

/**
 * `audit` on disk: each file's size and mtime, and, when they are still the ledger's, its
 * checksum read again at a bounded rate (--max-mb-per-second), a chunk at a time.
 */

/**
 * Reads paced to `bytesPerSecond` (0: no bound) for every reader together: each chunk read is
 * paid for before the next, and time not spent reading is not saved up, so no burst follows a pause.
 */
export class Pace {
  readonly #rate: number;
  readonly #clock: Pick<Clock, 'now' | 'sleep'>;
  #paidUntil = 0;

  constructor(bytesPerSecond: number, clock: Pick<Clock, 'now' | 'sleep'>) {
    if (!(bytesPerSecond >= 0)) throw new TypeError(`Expected \`bytesPerSecond\` to be a number from 0 and up, got \`${bytesPerSecond}\``);
    this.#rate = bytesPerSecond;
    this.#clock = clock;
  }

  /** Count `bytes` just read; resolves once reading them keeps within the rate. */
  async paid(bytes: number): Promise<void> {
    if (this.#rate === 0) return;
    const now = this.#clock.now();
    this.#paidUntil = Math.max(this.#paidUntil, now) + (bytes / this.#rate) * 1000;
    if (this.#paidUntil > now) await this.#clock.sleep(this.#paidUntil - now);
  }
}

/** The file at `full` (null: not kept on disk, `why`), as audit-compare.ts compares it with `row`. */
export async function lookOnDisk(row: FileRecord, full: string | null, place: Place, pace: Pace, why = ''): Promise<DiskLook> {
  if (full === null) return { kind: 'not-kept', why };
  let st;
  try {
    st = await fsp.stat(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing', where: full };
    return { kind: 'unreadable', where: full, reason: (err as Error).message };
  }
  if (!st.isFile()) return { kind: 'unreadable', where: full, reason: 'not a regular file' };
  const now = { size: st.size, mtimeMs: st.mtimeMs };
  const recorded = checksumOf(row.checksum);
  if (recorded === null || !sameVersion(row, now, place)) return { kind: 'present', where: full, ...now, hex: null };
  try {
    return { kind: 'present', where: full, ...now, hex: (await checksumFile(full, checksumName(recorded.hashFunction), { onChunk: (n) => pace.paid(n) })).hex };
  } catch (err) {
    return { kind: 'unreadable', where: full, reason: (err as Error).message };
  }
}
