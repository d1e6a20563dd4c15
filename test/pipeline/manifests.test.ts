import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseManifest } from '../../src/pipeline/manifests.js';
import { tempDir } from '../helpers.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Whether coreutils' tools are here (they are on Debian; the test says so when they are not). */
const coreutils = ((): boolean => {
  try {
    execFileSync('md5sum', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('provider checksum lists', () => {
  it('reads GNU text and binary mode, names with spaces, CRLF, a BOM, comments and blank lines, relative to the list\'s directory', () => {
    const text = `\uFEFF# from the provider\r\n${md5('a')}  reads_R1.fastq.gz\r\n${md5('b')} *reads R2 (copy).fastq.gz\r\n\r\n${sha256('c')}  sub/c.txt\r\n`;
    const { entries, problems } = parseManifest(text, 'run1/md5.txt');

    assert.deepEqual(problems, []);
    assert.deepEqual(entries, [
      { file: 'run1/reads_R1.fastq.gz', hashFunction: 'MD5', hex: md5('a'), line: 2 },
      { file: 'run1/reads R2 (copy).fastq.gz', hashFunction: 'MD5', hex: md5('b'), line: 3 },
      { file: 'run1/sub/c.txt', hashFunction: 'SHA-256', hex: sha256('c'), line: 5 },
    ]);
  });

  it('reads BSD lines (MD5 (name) = hex, SHA256, SHA512, SHA1), a name with parentheses, and upper-case hex as lower-case', () => {
    const sha512 = createHash('sha512').update('d').digest('hex');
    const sha1 = createHash('sha1').update('e').digest('hex');
    const text = [`MD5 (a (1).txt) = ${md5('a').toUpperCase()}`, `SHA256 (b.txt) = ${sha256('b')}`, `SHA512 (d.txt) = ${sha512}`, `SHA1 (e.txt) = ${sha1}`].join('\n');
    const { entries, problems } = parseManifest(text, 'MD5SUMS');

    assert.deepEqual(problems, []);
    assert.deepEqual(entries.map((e) => [e.file, e.hashFunction, e.hex]), [['a (1).txt', 'MD5', md5('a')], ['b.txt', 'SHA-256', sha256('b')], ['d.txt', 'SHA-512', sha512], ['e.txt', 'SHA-1', sha1]]);
  });

  it('a list named after one file may hold its digest alone', () => {
    const { entries } = parseManifest(`${md5('x')}\n`, 'run1/reads.fastq.gz.md5');
    assert.deepEqual(entries, [{ file: 'run1/reads.fastq.gz', hashFunction: 'MD5', hex: md5('x'), line: 1 }]);
  });

  it('says which lines are not entries, and why: a digest of another length, a BSD tag of a digest of another length, an unknown function, a name leaving the directory, text', () => {
    const text = [`${md5('a').slice(1)}  short.txt`, `SHA256 (b.txt) = ${md5('b')}`, `CRC32 (c.txt) = 1234abcd`, `${md5('d')}  ../outside.txt`, `${md5('e')}  /etc/passwd`, 'total 12', `${md5('f')}  ok.txt`].join('\n');
    const { entries, problems } = parseManifest(text, 'run1/md5.txt');

    assert.deepEqual(entries.map((e) => e.file), ['run1/ok.txt']);
    assert.deepEqual(problems.map((p) => p.line), [1, 2, 3, 4, 5, 6]);
    assert.match(problems[0]?.reason ?? '', /31 hex digits/);
    assert.match(problems[1]?.reason ?? '', /32 hex digits is not SHA-256/);
    assert.match(problems[2]?.reason ?? '', /unknown hash function CRC32/);
    assert.match(problems[3]?.reason ?? '', /leaves the list's directory/);
    assert.match(problems[4]?.reason ?? '', /leaves the list's directory/);
    assert.match(problems[5]?.reason ?? '', /not a checksum line/);
  });

  it('reads what coreutils itself writes (md5sum, md5sum -b, sha256sum --tag, and a name with a backslash and a newline), with the digests it computed', { skip: coreutils ? false : 'coreutils (md5sum, sha256sum) is not installed here' }, (t) => {
    const dir = tempDir(t);
    const names = ['plain.txt', 'with space.txt', 'back\\slash.txt', 'new\nline.txt'];
    for (const n of names) writeFileSync(path.join(dir, n), `bytes of ${n}`);
    const run = (cmd: string, args: string[]): string => execFileSync(cmd, [...args, ...names], { cwd: dir, encoding: 'utf8' });
    const lists = { text: run('md5sum', []), binary: run('md5sum', ['-b']), bsd: run('sha256sum', ['--tag']) };

    const want = (fn: 'md5' | 'sha256') => names.map((n) => [n, createHash(fn).update(`bytes of ${n}`).digest('hex')]);
    for (const [mode, text] of Object.entries(lists)) {
      const { entries, problems } = parseManifest(text, 'md5.txt');
      assert.deepEqual(problems, [], mode);
      assert.deepEqual(entries.map((e) => [e.file, e.hex]), want(mode === 'bsd' ? 'sha256' : 'md5'), `${mode}: ${text}`);
    }
  });
});
