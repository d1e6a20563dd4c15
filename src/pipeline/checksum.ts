import { createHash, hash as hashOnce } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { HashFunction } from './manifests.js';

/**
 * A file's checksum, read in chunks (bounded memory whatever the file's size): the bytes are
 * read by libuv's thread pool, hashed between reads on the event loop, which other work shares
 * chunk by chunk (bench/hash.ts: a worker thread was no faster, and kept the loop waiting no less). `[upload] checksum` names the function; Galaxy verifies it in the fetch job
 * (the item's `hashes`, galaxy/tools/data_fetch.py).
 */

/** `[upload] checksum` values and Node's names for them. */
export const CHECKSUMS: Readonly<Record<'md5' | 'sha1' | 'sha256' | 'sha512', { node: string; galaxy: HashFunction }>> = {
  md5: { node: 'md5', galaxy: 'MD5' },
  sha1: { node: 'sha1', galaxy: 'SHA-1' },
  sha256: { node: 'sha256', galaxy: 'SHA-256' },
  sha512: { node: 'sha512', galaxy: 'SHA-512' },
};

/** Chunks of 1 MiB: few turns of the event loop per file, little memory (bench/hash.ts measured 64 KiB to 4 MiB). */
export const CHUNK_BYTES = 1 << 20;

export interface Checksum {
  hashFunction: HashFunction;
  hex: string;
  /** Bytes read: a file that grew or shrank while it was read is not the file that settled. */
  size: number;
}

export interface ChecksumOptions {
  signal?: AbortSignal;
  chunkBytes?: number;
  sizeHint?: number;
  /** After each chunk read, with its size: the next read waits for it (`audit` paces its reads so). */
  onChunk?: (bytes: number) => Promise<void>;
}

/** A checksum as the ledger keeps it: `<Galaxy's hash function>:<hex>` (`SHA-256:9f86…`). */
export function checksumText(c: { hashFunction: HashFunction; hex: string }): string {
  return `${c.hashFunction}:${c.hex}`;
}

/** The ledger's text back as a checksum; null for none (or a text this version does not know). */
export function checksumOf(text: string | null): { hashFunction: HashFunction; hex: string } | null {
  const at = text?.indexOf(':') ?? -1;
  if (text === null || at < 0) return null;
  const hashFunction = text.slice(0, at) as HashFunction;
  return Object.values(CHECKSUMS).some((c) => c.galaxy === hashFunction) ? { hashFunction, hex: text.slice(at + 1) } : null;
}

/** `[upload] checksum`'s name of a Galaxy hash function. */
export function checksumName(hf: HashFunction): keyof typeof CHECKSUMS {
  const found = (Object.keys(CHECKSUMS) as (keyof typeof CHECKSUMS)[]).find((k) => CHECKSUMS[k].galaxy === hf);
  if (found === undefined) throw new Error(`unknown hash function ${hf}`);
  return found;
}

/**
 * The checksum of the file at `full`; rejects when it cannot be read, or `signal` aborts.
 * `sizeHint`: the size it settled at: a file smaller than a chunk is read into a buffer of its
 * own size in one read (a fresh 1 MiB buffer per small file cost more than its hashing: bench).
 */
export async function checksumFile(full: string, fn: keyof typeof CHECKSUMS, o: ChecksumOptions = {}): Promise<Checksum> {
  const { size, sums } = await checksumsOf(full, [fn], o);
  const [sum] = sums;
  if (sum === undefined) throw new Error('no checksum');
  return { ...sum, size };
}

/** Several checksums of the file at `full` in one reading of it (a provider's MD5 and the daemon's SHA-256), in the order of `fns`. */
export async function checksumsOf(
  full: string, fns: readonly (keyof typeof CHECKSUMS)[], o: ChecksumOptions = {},
): Promise<{ size: number; sums: { hashFunction: HashFunction; hex: string }[] }> {
  const chunk = o.chunkBytes ?? CHUNK_BYTES;
  o.signal?.throwIfAborted();
  const fh = await fsp.open(full, 'r');
  try {
    let hashes: ReturnType<typeof createHash>[] | null = null;
    // One more byte than the hint: a read that fills the buffer says the file grew, and goes on.
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunk, o.sizeHint === undefined ? chunk : o.sizeHint + 1)));
    let size = 0;
    for (;;) {
      o.signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      // A file read whole by its first read is hashed in one call each, with no Hash object (a backlog's small files).
      if (hashes === null && bytesRead < buf.length && !o.onChunk) {
        const whole = buf.subarray(0, bytesRead);
        return { size: bytesRead, sums: fns.map((fn) => ({ hashFunction: CHECKSUMS[fn].galaxy, hex: hashOnce(CHECKSUMS[fn].node, whole, 'hex') })) };
      }
      hashes ??= fns.map((fn) => createHash(CHECKSUMS[fn].node));
      if (bytesRead === 0) break;
      size += bytesRead;
      for (const h of hashes) h.update(buf.subarray(0, bytesRead));
      if (o.onChunk) await o.onChunk(bytesRead);
      // A short read of a regular file is its end.
      if (bytesRead < buf.length) break;
    }
    const done = hashes ?? fns.map((fn) => createHash(CHECKSUMS[fn].node));
    return { size, sums: fns.map((fn, i) => ({ hashFunction: CHECKSUMS[fn].galaxy, hex: done[i]?.digest('hex') ?? '' })) };
  } finally {
    await fh.close();
  }
}
