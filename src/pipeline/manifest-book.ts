import path from 'node:path';
import type { HashFunction, ManifestEntry, ManifestProblem } from './manifests.js';
import { parseManifest } from './manifests.js';
import { compileIgnore } from './rules.js';
import type { Fingerprint } from './settle.js';

/**
 * The provider checksum lists read so far ([import] manifests), by the files they name: a file a
 * list names is checked against the list's digest once it has settled (ready.ts), and sent with
 * it, so that Galaxy verifies it too. A list is read again when it changes (a new size or mtime);
 * the newest reading of each list is the one that counts. Held in memory: about 150 bytes a
 * listed file.
 */

/** A provider's digest of one file: which list, which line. */
export interface Provided {
  hashFunction: HashFunction;
  hex: string;
  /** The list's path relative to the import directory. */
  list: string;
  line: number;
}

/** Lists larger than this are not read (a checksum list of a million files is about 100 MB). */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;

export class ManifestBook {
  /** Whether a file name (the last component) is a checksum list's. */
  readonly isList: (name: string) => boolean;
  readonly #byFile = new Map<string, Provided>();
  readonly #lists = new Map<string, { fp: Fingerprint; files: string[] }>();

  constructor(patterns: readonly string[]) {
    this.isList = compileIgnore(patterns);
  }

  /** Whether `relPath` names a checksum list. */
  listPath(relPath: string): boolean {
    return this.isList(path.posix.basename(relPath));
  }

  /** Whether this version of the list was read in this process. */
  read(relPath: string, fp: Fingerprint): boolean {
    const l = this.#lists.get(relPath);
    return l !== undefined && l.fp.size === fp.size && l.fp.mtimeMs === fp.mtimeMs;
  }

  /** The list's text read: its entries replace those of its last reading. */
  load(relPath: string, fp: Fingerprint, text: string): { entries: ManifestEntry[]; problems: ManifestProblem[] } {
    const parsed = parseManifest(text, relPath);
    this.forget(relPath);
    for (const e of parsed.entries) this.#byFile.set(e.file, { hashFunction: e.hashFunction, hex: e.hex, list: relPath, line: e.line });
    this.#lists.set(relPath, { fp, files: parsed.entries.map((e) => e.file) });
    return parsed;
  }

  /** The list is gone (or unreadable): its entries no longer count. */
  forget(relPath: string): void {
    const old = this.#lists.get(relPath);
    if (!old) return;
    for (const f of old.files) if (this.#byFile.get(f)?.list === relPath) this.#byFile.delete(f);
    this.#lists.delete(relPath);
  }

  /** The files the list's last reading named. */
  filesOf(list: string): readonly string[] {
    return this.#lists.get(list)?.files ?? [];
  }

  /** The provider's digest of a file, when a list read so far names it. */
  entry(relPath: string): Provided | undefined {
    return this.#byFile.get(relPath);
  }

  /** The nearest list read so far in the file's directory or one above it (within the import directory), or null. */
  covering(relPath: string): string | null {
    let best: string | null = null;
    let depth = -1;
    for (const list of this.#lists.keys()) {
      const dir = path.posix.dirname(list);
      const inside = dir === '.' || relPath.startsWith(`${dir}/`);
      const d = dir === '.' ? 0 : dir.split('/').length;
      if (inside && d > depth) [best, depth] = [list, d];
    }
    return best;
  }
}
