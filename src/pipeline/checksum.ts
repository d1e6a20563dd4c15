import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { HashFunction } from './manifests.js';

/**
 * A file's checksum, streamed in chunks (bounded memory whatever the file's size): the bytes are
 * read by libuv's thread pool, hashed between reads on the event loop, which other work shares
 * chunk by chunk. `[upload] checksum` names the function; Galaxy verifies it in the fetch job
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

/** The checksum of the file at `full`; rejects when it cannot be read, or `signal` aborts. */
export function checksumFile(full: string, fn: keyof typeof CHECKSUMS, o: { signal?: AbortSignal; chunkBytes?: number } = {}): Promise<Checksum> {
  const { node, galaxy } = CHECKSUMS[fn];
  return new Promise((resolve, reject) => {
    const hash = createHash(node);
    let size = 0;
    const stream = createReadStream(full, { highWaterMark: o.chunkBytes ?? CHUNK_BYTES, ...(o.signal ? { signal: o.signal } : {}) });
    stream.on('data', (chunk: string | Buffer) => {
      size += chunk.length;
      hash.update(chunk);
    });
    stream.on('error', reject);
    stream.on('end', () => resolve({ hashFunction: galaxy, hex: hash.digest('hex'), size }));
  });
}
