import { accessSync, constants as fsc, promises as fsp, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { FileRecord, FileState } from '../ledger/ledger.js';
import { DONE_STATES } from '../ledger/ledger.js';
import type { EntryKind } from '../watch/walk.js';
import type { Fingerprint } from './settle.js';

/**
 * Admission's rules, in their one order, for the daemon (admit.ts) and the dry run (plan.ts)
 * alike, so that the two cannot drift: the name (rules and the ready marker), a symlink's
 * target, the stat (gone, or a name that is not UTF-8), the type, the ledger's fingerprint, the
 * first start's backlog; once settled, readability.
 */

/**
 * Name rules: which paths are never imported. Patterns use * and ? and match
 * whole path components, so `.*` also covers hidden directories and rsync's
 * `.name.XXXXXX` temporaries.
 */
export function compileIgnore(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  // One expression for all patterns: a walk tests 100,000 names.
  const re = new RegExp(`^(?:${patterns.map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')).join('|')})$`, 's');
  return (name) => re.test(name);
}

/** Why a relative path is never imported, or null when it may be. */
export function ignoredReason(relPath: string, isIgnored: (name: string) => boolean, readyMarker: string | null): string | null {
  const parts = relPath.split('/');
  const name = parts[parts.length - 1] ?? '';
  if (readyMarker !== null && name === readyMarker) return 'ready marker';
  const hit = parts.find((p) => isIgnored(p));
  return hit === undefined ? null : `name matches [import] ignore (${hit})`;
}

/** A name that is not valid UTF-8 reaches us with U+FFFD in place of its bad bytes, so the name we have opens nothing. */
export const UNDECODABLE = 'the name is not valid UTF-8 (shown with \uFFFD for the bad bytes), so it cannot be opened or given to Galaxy: rename it with UTF-8 characters';

/** Why a symlink is never imported (its target is missing, or outside the import directory), or null when it may be. */
export async function symlinkSkip(full: string, realImportDir: string): Promise<string | null> {
  let real: string;
  try {
    real = await fsp.realpath(full);
  } catch {
    return 'symlink whose target does not exist (or a symlink loop)';
  }
  const inside = path.relative(realImportDir, real);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    return `symlink leaves the import directory (points to ${real}); Galaxy would import it with an admin key, so galaxy-importd refuses it`;
  }
  return null;
}

/** Why this user cannot read a settled file, with what to do, or null when it can. */
export function unreadableReason(full: string): string | null {
  try {
    accessSync(full, fsc.R_OK);
    return null;
  } catch (err) {
    return `not readable by this user (${(err as NodeJS.ErrnoException).code ?? 'error'}): fix its permissions, then run galaxy-importd retry`;
  }
}

/**
 * What a file's stat and its ledger row say before it settles: a directory; skipped (not a
 * regular file, or the first start's backlog with backlog = skip); done (the ledger holds this
 * very version); or a candidate. `changed`: a done version of it was replaced.
 */
export type StatVerdict =
  | { kind: 'directory' }
  | { kind: 'done'; state: FileState }
  | { kind: 'skip'; reason: string; changed: string | null }
  | { kind: 'candidate'; changed: string | null };

export function statVerdict(st: Stats, prev: Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined, skipBacklog: boolean): StatVerdict {
  if (st.isDirectory()) return { kind: 'directory' };
  if (!st.isFile()) return { kind: 'skip', reason: 'not a regular file (FIFO, socket or device)', changed: null };
  if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs && DONE_STATES.has(prev.state)) return { kind: 'done', state: prev.state };
  const changed = prev && DONE_STATES.has(prev.state) && prev.state !== 'skipped' && prev.state !== 'missing' ? `was ${prev.state} with size ${prev.size}` : null;
  if (skipBacklog) return { kind: 'skip', reason: 'present at the very first start and [import] backlog = skip', changed };
  return { kind: 'candidate', changed };
}

/** What admission makes of a path, before it settles. */
export type Decision =
  /** A name rule: never imported, not recorded. */
  | { kind: 'ignored'; reason: string }
  /** The ready marker itself: its directory may go. */
  | { kind: 'marker' }
  /** Gone while it was looked at. */
  | { kind: 'gone' }
  | { kind: 'directory' }
  /** The ledger holds this very version. */
  | { kind: 'done'; state: FileState; fp: Fingerprint }
  /** Recorded skipped, with why (`changed`: a done version of it was replaced; `stat`: its fingerprint is the file's, not a symlink's or none). */
  | { kind: 'skip'; reason: string; fp: Fingerprint; changed: string | null; stat: boolean }
  /** To settle; `prev`: the ledger's row of it. */
  | { kind: 'candidate'; fp: Fingerprint; changed: string | null; prev: Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined };

export interface RulesOptions {
  importDir: string;
  /** The import directory with its symlinks resolved. */
  realImportDir: string;
  ignore: readonly string[];
  readyMarker: string | null;
  /** The ledger's look-up (none: no ledger yet). */
  fingerprint(relPath: string): Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined;
  /** A path whose done row does not count (a checksum list not read in this process): it settles again. */
  reread?(relPath: string, fp: Fingerprint): boolean;
}

export class Rules {
  readonly #o: RulesOptions;
  readonly isIgnored: (name: string) => boolean;

  constructor(o: RulesOptions) {
    this.#o = o;
    this.isIgnored = compileIgnore(o.ignore);
  }

  /** The name's decision, or null when the name may be imported. */
  name(relPath: string): Decision | null {
    const reason = ignoredReason(relPath, this.isIgnored, this.#o.readyMarker);
    if (reason === null) return null;
    return reason === 'ready marker' ? { kind: 'marker' } : { kind: 'ignored', reason };
  }

  /**
   * The whole decision, in order. `kind`: what the walk knows of the entry (null for a live event:
   * it is looked at); `lstat`: the watcher's lstat of it a moment ago, not taken again; `backlog`:
   * found by the very first start's walk with [import] backlog = skip.
   */
  async decide(relPath: string, o: { kind: EntryKind | null; lstat?: Stats | undefined; backlog: boolean }): Promise<Decision> {
    const named = this.name(relPath);
    if (named !== null) return named;
    const full = path.join(this.#o.importDir, relPath);
    // The walk already knows a plain file from a symlink; only live events need the lstat.
    let lst = o.lstat ?? null;
    if (o.kind !== 'file' && lst === null) {
      try {
        lst = await fsp.lstat(full);
      } catch {
        return this.unstatable(relPath);
      }
    }
    if (lst?.isSymbolicLink()) {
      const reason = await symlinkSkip(full, this.#o.realImportDir);
      if (reason !== null) return { kind: 'skip', reason, fp: { size: 0, mtimeMs: lst.mtimeMs }, changed: null, stat: false };
    }
    let st: Stats;
    if (lst !== null && !lst.isSymbolicLink()) st = lst;
    else {
      try {
        st = await fsp.stat(full);
      } catch {
        return this.unstatable(relPath);
      }
    }
    return this.stat(relPath, st, o.backlog);
  }

  /** The walk's fast path for a plain file whose name passed: one synchronous stat. */
  statNow(relPath: string, backlog: boolean): Decision & { st?: Stats } {
    const st = statSync(path.join(this.#o.importDir, relPath), { throwIfNoEntry: false });
    return st ? { ...this.stat(relPath, st, backlog), st } : this.unstatable(relPath);
  }

  /** What the stat and the ledger's row say. */
  stat(relPath: string, st: Stats, backlog: boolean): Decision {
    const fp = { size: st.size, mtimeMs: st.mtimeMs };
    const prev = this.#o.fingerprint(relPath);
    // A checksum list not read in this process is read, done or of the first start's backlog.
    const reread = this.#o.reread?.(relPath, fp) === true;
    const v = statVerdict(st, prev, backlog && !reread);
    if (v.kind === 'directory') return v;
    if (v.kind === 'done' && reread) return { kind: 'candidate', fp, changed: null, prev };
    if (v.kind === 'done') return { kind: 'done', state: v.state, fp };
    if (v.kind === 'skip') return { kind: 'skip', reason: v.reason, fp, changed: v.changed, stat: true };
    return { kind: 'candidate', fp, changed: v.changed, prev };
  }

  /**
   * A path that cannot be looked at: gone, or a name that is not valid UTF-8, which reaches us
   * with U+FFFD in place of its bad bytes, so the name we have opens nothing: said, not dropped.
   */
  unstatable(relPath: string): Decision {
    return relPath.includes('\uFFFD') ? { kind: 'skip', reason: UNDECODABLE, fp: { size: 0, mtimeMs: 0 }, changed: null, stat: false } : { kind: 'gone' };
  }

  /** Once settled: why it cannot be sent (not readable), or null. */
  settled(relPath: string): string | null {
    return unreadableReason(path.join(this.#o.importDir, relPath));
  }
}
