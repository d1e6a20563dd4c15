import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHECKSUMS, checksumFile } from '../../src/pipeline/checksum.js';
import { tempDir } from '../helpers.js';

describe('checksumFile', () => {
  it('streams a file of several chunks to the digest of its bytes, for each function, in Galaxy\'s name, with the bytes read', async (t) => {
    const file = path.join(tempDir(t), 'reads.fastq');
    const bytes = randomBytes(300_000);
    writeFileSync(file, bytes);
    for (const fn of Object.keys(CHECKSUMS) as (keyof typeof CHECKSUMS)[]) {
      const sum = await checksumFile(file, fn, { chunkBytes: 65_536 });
      assert.deepEqual(sum, { hashFunction: CHECKSUMS[fn].galaxy, hex: createHash(fn).update(bytes).digest('hex'), size: bytes.length });
    }
  });

  it('with the size it settled at as a hint, reads a small file whole in one go, and a file that grew since in full', async (t) => {
    const file = path.join(tempDir(t), 'small.txt');
    writeFileSync(file, 'twelve bytes');
    assert.deepEqual(await checksumFile(file, 'md5', { sizeHint: 12 }), { hashFunction: 'MD5', hex: createHash('md5').update('twelve bytes').digest('hex'), size: 12 });
    const grown = randomBytes(200_000);
    writeFileSync(file, grown);
    assert.deepEqual(await checksumFile(file, 'sha256', { sizeHint: 12, chunkBytes: 65_536 }), { hashFunction: 'SHA-256', hex: createHash('sha256').update(grown).digest('hex'), size: grown.length });
  });

  it('rejects for a file that cannot be read, and when stopped', async (t) => {
    const dir = tempDir(t);
    await assert.rejects(checksumFile(path.join(dir, 'missing'), 'sha256'), { code: 'ENOENT' });
    const file = path.join(dir, 'big');
    writeFileSync(file, randomBytes(4 << 20));
    const stop = new AbortController();
    const sum = checksumFile(file, 'sha256', { signal: stop.signal, chunkBytes: 65_536 });
    stop.abort();
    await assert.rejects(sum, { name: 'AbortError' });
  });
});
