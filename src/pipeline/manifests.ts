import path from 'node:path';

/**
 * Provider checksum lists (`md5.txt`, `md5sum.txt`, `MD5SUMS`, `*.md5`, `sha256sums.txt`, …):
 * what sequencing providers ship with their data. Both common formats are read: GNU coreutils'
 * (`<hex>  <name>` in text mode, `<hex> *<name>` in binary mode, a leading `\` when the name has
 * escapes) and BSD's (`MD5 (<name>) = <hex>`); a list named after one file (`reads.fastq.gz.md5`)
 * may hold its digest alone. The hash function is known by the digest's length (MD5, SHA-1,
 * SHA-256, SHA-512), or named by BSD's tag. CRLF line ends, a byte-order mark, blank lines and
 * `#` comments are allowed. Names are relative to the list's own directory.
 */

/** Galaxy's names of the hash functions (the fetch API's `hash_function`). */
export type HashFunction = 'MD5' | 'SHA-1' | 'SHA-256' | 'SHA-512';

export interface ManifestEntry {
  /** The file's path relative to the import directory ('/'-separated). */
  file: string;
  hashFunction: HashFunction;
  /** Lower-case hex (Galaxy compares it as such). */
  hex: string;
  /** 1-based line of the list, for a message that names it. */
  line: number;
}

export interface ManifestProblem {
  line: number;
  text: string;
  reason: string;
}

const BY_LENGTH: ReadonlyMap<number, HashFunction> = new Map([[32, 'MD5'], [40, 'SHA-1'], [64, 'SHA-256'], [128, 'SHA-512']]);
const BY_TAG: ReadonlyMap<string, HashFunction> = new Map([['MD5', 'MD5'], ['SHA1', 'SHA-1'], ['SHA256', 'SHA-256'], ['SHA512', 'SHA-512'], ['SHA2-256', 'SHA-256'], ['SHA2-512', 'SHA-512']]);

/** A list of one file, named after it: `NAME.md5`, `NAME.sha256`, … */
const SINGLE = /\.(md5|sha1|sha256|sha512)$/i;
const GNU = /^(\\?)([0-9a-fA-F]+) [ *](.+)$/;
const BSD = /^(\\?)([A-Z0-9-]+) ?\((.+)\) ?= ?([0-9a-fA-F]+)$/;

/** GNU's escapes in a name whose line starts with `\`: `\\` and `\n` (and `\r` in newer coreutils). */
function unescapeGnu(name: string): string {
  return name.replace(/\\([\\nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));
}

/**
 * The entries of a checksum list found at `listPath` (relative to the import directory), and the
 * lines that are not entries. A name that leaves the list's directory (`../x`, `/x`) is a problem,
 * not an entry: a list speaks only for the files beside it and below it.
 */
export function parseManifest(text: string, listPath: string): { entries: ManifestEntry[]; problems: ManifestProblem[] } {
  const dir = path.posix.dirname(listPath.split(path.sep).join('/'));
  const entries: ManifestEntry[] = [];
  const problems: ManifestProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (l.trim() === '' || l.trimStart().startsWith('#')) return;
    let escaped: boolean;
    let hex: string;
    let name: string;
    let fn: HashFunction | undefined;
    const bsd = BSD.exec(l);
    const gnu = bsd === null ? GNU.exec(l) : null;
    if (bsd !== null) {
      [escaped, name, hex] = [bsd[1] === '\\', bsd[3] ?? '', bsd[4] ?? ''];
      fn = BY_TAG.get(bsd[2] ?? '');
      if (fn === undefined) {
        problems.push({ line, text: l, reason: `unknown hash function ${bsd[2] ?? ''} (MD5, SHA1, SHA256 and SHA512 are known)` });
        return;
      }
    } else if (gnu !== null) {
      [escaped, hex, name] = [gnu[1] === '\\', gnu[2] ?? '', gnu[3] ?? ''];
      fn = BY_LENGTH.get(hex.length);
    } else if (/^[0-9a-fA-F]+$/.test(l.trim()) && SINGLE.test(listPath)) {
      // `reads.fastq.gz.md5` holding the digest alone: it is the digest of `reads.fastq.gz`.
      [escaped, hex, name] = [false, l.trim(), path.posix.basename(listPath).replace(SINGLE, '')];
      fn = BY_LENGTH.get(hex.length);
    } else {
      problems.push({ line, text: l, reason: 'not a checksum line (`<hex>  <name>`, or `MD5 (<name>) = <hex>`)' });
      return;
    }
    if (fn === undefined || BY_LENGTH.get(hex.length) !== fn) {
      problems.push({ line, text: l, reason: `a digest of ${hex.length} hex digits is not ${fn ?? 'MD5 (32), SHA-1 (40), SHA-256 (64) or SHA-512 (128)'}` });
      return;
    }
    if (escaped) name = unescapeGnu(name);
    const file = path.posix.normalize(path.posix.join(dir, name));
    if (path.posix.isAbsolute(name) || file === '..' || file.startsWith('../') || (dir === '.' ? false : !file.startsWith(`${dir}/`))) {
      problems.push({ line, text: l, reason: 'the name leaves the list\'s directory: a list speaks only for the files beside and below it' });
      return;
    }
    entries.push({ file, hashFunction: fn, hex: hex.toLowerCase(), line });
  });
  return { entries, problems };
}
