import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Clock } from '../clock.js';
import type { FileRecord } from '../ledger/ledger.js';
import { CHECKSUMS, CHUNK_BYTES, checksumOf } from '../pipeline/checksum.js';
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

/**
 * The file's checksum by the function of Galaxy's name (`SHA-256`), read through `pace`. The
 * daemon's own checksumFile (pipeline/checksum.ts) reads as fast as the disk allows, which an
 * audit of a whole import directory beside a busy Galaxy must not.
 */
export async function pacedChecksum(full: string, galaxyName: string, pace: Pace): Promise<string> {
  const fn = Object.values(CHECKSUMS).find((c) => c.galaxy === galaxyName);
  if (!fn) throw new TypeError(`no hash function is named ${galaxyName}`);
  const fh = await fsp.open(full, 'r');
  try {
    const hash = createHash(fn.node);
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      await pace.paid(bytesRead);
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
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
    return { kind: 'present', where: full, ...now, hex: await pacedChecksum(full, recorded.hashFunction, pace) };
  } catch (err) {
    return { kind: 'unreadable', where: full, reason: (err as Error).message };
  }
}
