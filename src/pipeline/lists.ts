import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Clock, Timer } from '../clock.js';
import type { Emit } from '../observe/events.js';
import type { Files } from './files.js';
import type { ManifestBook, Provided } from './manifest-book.js';
import { MANIFEST_MAX_BYTES } from './manifest-book.js';
import type { ManifestEntry } from './manifests.js';
import { checksumOf } from './checksum.js';
import type { Fingerprint } from './settle.js';

/**
 * Provider checksum lists in the pipeline ([import] manifests), for ready.ts: a settled list is
 * read into the book (manifest-book.ts); a settled file is looked up in it. With
 * `manifest_required`, a file no list speaks for yet waits for one (up to `manifest_wait_seconds`),
 * and a file that a list beside or above it leaves out fails. Files a list names that are not in
 * the import directory `settle_seconds` after it was read are recorded `missing` (a warning line,
 * `status`, the status page, the files metric) until they arrive.
 */

export interface ListsDeps {
  importDir: string;
  book: ManifestBook;
  /** [import] manifest_required. */
  required: boolean;
  /** [import] manifest_wait_seconds, in ms. */
  waitMs: number;
  /** [import] import_manifests: the lists are imported too. */
  importLists: boolean;
  /** [import] settle_seconds, in ms: how long after a list is read a file it names may still arrive. */
  settleMs: number;
  files: Pick<Files, 'rejected' | 'missing' | 'record'>;
  stat(relPath: string): Fingerprint | null;
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  emit: Emit;
  /** A file that waited for its list goes on (ready.ts takes it again). */
  retake(relPath: string, fp: Fingerprint): void;
  /** A waiting file left (failed at its deadline): idle may hold. */
  shrank?: () => void;
}

/** Why a checksum list is not imported. */
export const LIST_SKIPPED = 'a checksum list ([import] manifests): read, and the files it names are checked against it; not imported ([import] import_manifests = false)';

/** What the lists say of a settled file. */
export type Lookup =
  | { kind: 'provided'; provided: Provided }
  /** No list speaks for it: it goes as it is. */
  | { kind: 'none' }
  /** manifest_required and no list yet: it waits. */
  | { kind: 'wait' }
  /** manifest_required and a list beside or above it leaves it out: it fails. */
  | { kind: 'unlisted'; reason: string };

export class Lists {
  readonly #d: ListsDeps;
  readonly #waiting = new Map<string, { fp: Fingerprint; timer: Timer }>();
  readonly #checks = new Set<Timer>();
  /** Lists found and settling, not read yet: the files below them wait for them. */
  readonly #pending = new Set<string>();

  constructor(d: ListsDeps) {
    this.#d = d;
  }

  /** Files waiting for their list. */
  get waiting(): number {
    return this.#waiting.size;
  }

  isList(relPath: string): boolean {
    return this.#d.book.listPath(relPath);
  }

  /**
   * A settled checksum list: read into the book, and the files waiting for it go on. Returns
   * whether the list is to be imported as well ([import] import_manifests); if not, its row says
   * it was read (skipped).
   */
  async read(relPath: string, fp: Fingerprint): Promise<boolean> {
    let reason: string;
    try {
      if (fp.size > MANIFEST_MAX_BYTES) throw new Error(`larger than ${MANIFEST_MAX_BYTES / 1024 / 1024} MiB`);
      const text = await fsp.readFile(path.join(this.#d.importDir, relPath), 'utf8');
      const before = this.#d.book.filesOf(relPath);
      const { entries, problems } = this.#d.book.load(relPath, fp, text);
      this.#unlisted(relPath, before);
      this.#pending.delete(relPath);
      for (const p of problems.slice(0, 20)) this.#d.emit({ type: 'manifest.problem', file: relPath, line: p.line, reason: p.reason });
      this.#d.emit({ type: 'manifest.read', file: relPath, entries: entries.length, problems: problems.length });
      this.#release(relPath);
      const check = this.#d.clock.setTimeout(() => {
        this.#checks.delete(check);
        this.#missing(relPath);
      }, this.#d.settleMs);
      this.#checks.add(check);
      this.#late(relPath, entries);
      reason = LIST_SKIPPED;
    } catch (err) {
      this.#d.book.forget(relPath);
      this.#pending.delete(relPath);
      this.#release(relPath);
      reason = `a checksum list ([import] manifests) that could not be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the files it names go unchecked by it until it can be`;
    }
    if (this.#d.importLists) return true;
    this.#d.files.rejected(relPath, fp, 'skipped', reason);
    return false;
  }

  /** A list was found and settles (admission): files below it that settle first wait for it to be read. */
  expect(relPath: string): void {
    this.#pending.add(relPath);
  }

  /** A list found went, or will not be read: the files waiting for it go on. */
  dropped(relPath: string): void {
    if (this.#pending.delete(relPath)) this.#release(relPath);
  }

  /** A path was deleted (the watcher): a list read before no longer speaks for anything, and the files it said were missing are not looked for. */
  deleted(relPath: string): void {
    if (!this.isList(relPath)) return;
    this.dropped(relPath);
    const named = this.#d.book.filesOf(relPath);
    this.#d.book.forget(relPath);
    this.#unlisted(relPath, named);
  }

  /** What the lists say of a settled file. */
  lookup(relPath: string): Lookup {
    if (this.isList(relPath)) return { kind: 'none' };
    // A list above it settling (a new one, or a new version of one read before): its word counts.
    if (this.#pendingOver(relPath) !== null) return { kind: 'wait' };
    const provided = this.#d.book.entry(relPath);
    if (provided) return { kind: 'provided', provided };
    if (!this.#d.required) return { kind: 'none' };
    const list = this.#d.book.covering(relPath);
    if (list === null) return { kind: 'wait' };
    return { kind: 'unlisted', reason: `not named in its checksum list ${list}, and [import] manifest_required = true: add its line to the list (or set manifest_required = false), then run galaxy-importd retry` };
  }

  /**
   * The file waits until a list speaks for its directory (one settling above it, or any with
   * manifest_required). At its deadline: with manifest_required it fails; without, a list still
   * not read is given up on and the file goes on.
   */
  wait(relPath: string, fp: Fingerprint): void {
    const old = this.#waiting.get(relPath);
    if (old) this.#d.clock.clearTimeout(old.timer);
    const timer = this.#d.clock.setTimeout(() => {
      this.#waiting.delete(relPath);
      const s = Math.round(this.#d.waitMs / 1000);
      if (!this.#d.required) {
        // A list above it still not read is given up on: it and every file waiting for it go on.
        const late = this.#pendingOver(relPath);
        if (late !== null) this.dropped(late);
        this.#d.retake(relPath, fp);
        return;
      }
      this.#d.files.rejected(relPath, fp, 'failed', `no checksum list named it within ${s} s ([import] manifest_required = true, manifest_wait_seconds = ${s}): put the list in its directory, then run galaxy-importd retry`);
      this.#d.shrank?.();
    }, this.#d.waitMs);
    this.#waiting.set(relPath, { fp, timer });
  }

  close(): void {
    for (const w of this.#waiting.values()) this.#d.clock.clearTimeout(w.timer);
    for (const t of this.#checks) this.#d.clock.clearTimeout(t);
    this.#waiting.clear();
    this.#checks.clear();
  }

  /**
   * Files the list names that were imported before it was read (without manifest_required): their
   * ledger checksum, where of the list's function, is compared; a difference is said (the
   * dataset holds bytes the provider did not write: galaxy-importd audit, and a look, tell more).
   */
  #late(list: string, entries: readonly ManifestEntry[]): void {
    for (const e of entries) {
      const row = this.#d.files.record(e.file);
      const had = row?.state === 'ok' ? checksumOf(row.checksum) : null;
      if (had === null || had.hashFunction !== e.hashFunction || had.hex === e.hex) continue;
      this.#d.emit({ type: 'checksum.mismatch', file: e.file, by: 'list', hash_function: e.hashFunction, expected: e.hex, got: had.hex, list, line: e.line, imported: true });
    }
  }

  /** Files recorded `missing` by this list that it no longer names: no longer looked for. */
  #unlisted(list: string, named: readonly string[]): void {
    for (const file of named) {
      if (this.#d.book.entry(file) !== undefined) continue;
      const row = this.#d.files.record(file);
      if (row?.state === 'missing') this.#d.files.rejected(file, row, 'skipped', `no longer named by the checksum list ${list}: not looked for`);
    }
  }

  /** A list found and not read yet in the file's directory or one above it, or null. */
  #pendingOver(relPath: string): string | null {
    for (const list of this.#pending) {
      const dir = path.posix.dirname(list);
      if (dir === '.' || relPath.startsWith(`${dir}/`)) return list;
    }
    return null;
  }

  /** A list was read: the files waiting below its directory go on. */
  #release(list: string): void {
    const dir = path.posix.dirname(list);
    for (const [relPath, w] of [...this.#waiting]) {
      if (dir !== '.' && !relPath.startsWith(`${dir}/`)) continue;
      this.#d.clock.clearTimeout(w.timer);
      this.#waiting.delete(relPath);
      this.#d.retake(relPath, w.fp);
    }
  }

  /** `settle_seconds` after a list was read: the files it names that are not there, and never were, are `missing`. */
  #missing(list: string): void {
    for (const file of this.#d.book.filesOf(list)) {
      const p = this.#d.book.entry(file);
      if (p?.list !== list || this.#d.stat(file) !== null) continue;
      const row = this.#d.files.record(file);
      if (row === undefined || row.state === 'missing') this.#d.files.missing(file, list, p.line);
    }
  }
}
