import type { Clock } from '../clock.js';
import type { FileRecord, FileRows, FileState } from '../ledger/ledger.js';
import type { DaemonEvent, Emit } from '../observe/events.js';
import type { Fingerprint, ReadyFile } from './settle.js';
import type { TransitionName } from './transitions.js';
import { TRANSITIONS, TransitionError, allowed, fromAny } from './transitions.js';

/**
 * The machinery under `Files` (files.ts): the state a transition leaves (held here for files on
 * their way in this process, else the ledger's), the table's check, the ledger writes stamped by
 * one clock, and what the pipeline reads of a file. `Files` names the transitions.
 */

export interface FilesDeps {
  ledger: FileRows;
  emit: Emit;
  clock: Pick<Clock, 'now'>;
  /** Called when a file is no longer queued or in flight here (idle). */
  shrank?: () => void;
  /** The coordinator's claim (claims.ts); unset, every file is this process's. */
  claim?: (file: { path: string; size: number; mtimeMs: number }) => Promise<boolean>;
  /**
   * What to do with a transition the table does not allow; unset, it is thrown (tests). The
   * daemon reports it and carries it out, so that a defect of the table never strands a file.
   */
  unexpected?: (err: TransitionError) => void;
}

/** Transitions the table allows from every state. */
const FROM_ANY = new Set((Object.keys(TRANSITIONS) as TransitionName[]).filter(fromAny));

function thrown(err: Error): never {
  throw err;
}

export class FileStates {
  protected readonly d: Required<FilesDeps>;
  /** Paths queued or in flight in this process, with what the pipeline asks of them often (the ledger's row holds the same). */
  protected readonly held = new Map<string, { attempts: number; submittedAt: number | null; state: FileState }>();

  constructor(deps: FilesDeps) {
    this.d = { shrank: () => undefined, claim: () => Promise.resolve(true), unexpected: thrown, ...deps };
  }

  /** The state a transition leaves: held here for files on their way, else the ledger's. */
  protected from(relPath: string): FileState | null {
    const held = this.held.get(relPath);
    return held ? held.state : (this.d.ledger.get(relPath)?.state ?? null);
  }

  /** The table's word on leaving `from` by `name` (a function: read only when the table does not allow every state). */
  protected check(name: TransitionName, relPath: string, from: FileState | null | (() => FileState | null)): void {
    if (typeof from === 'function') {
      if (FROM_ANY.has(name)) return;
      from = from();
    }
    if (!allowed(name, from)) this.d.unexpected(new TransitionError(relPath, name, from));
  }

  /** A transition of a file on its way here: checked, written (with `fields`), and held. */
  protected move(name: TransitionName, relPath: string, to: FileState, fields: Partial<Omit<FileRecord, 'path' | 'state'>> = {}): void {
    this.check(name, relPath, this.from(relPath));
    this.update(relPath, { state: to, ...fields });
    const held = this.held.get(relPath);
    if (held) held.state = to;
  }

  /** A new row (a new version of the file, or none before), stamped by this clock: what `fields` does not say is unknown. */
  protected put(relPath: string, fp: Fingerprint, state: FileState, fields: Partial<Omit<FileRecord, 'path' | 'size' | 'mtimeMs' | 'state'>>): void {
    const none = { attempts: 0, lastError: null, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, checksum: null, verified: false };
    this.d.ledger.put({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, state, ...none, ...fields, updatedAt: this.d.clock.now() });
  }

  /** Every change of a row, stamped by this one clock (the ledger's own stamps only writes from elsewhere). */
  protected update(relPath: string, fields: Partial<Omit<FileRecord, 'path'>>): void {
    this.d.ledger.update(relPath, { updatedAt: this.d.clock.now(), ...fields });
  }

  /** Files queued or in flight. */
  get active(): number {
    return this.held.size;
  }

  has(relPath: string): boolean {
    return this.held.has(relPath);
  }

  record(relPath: string): FileRecord | undefined {
    return this.d.ledger.get(relPath);
  }

  attempts(relPath: string): number {
    return this.held.get(relPath)?.attempts ?? this.d.ledger.get(relPath)?.attempts ?? 0;
  }

  /** When its last request was sent, or null before any. */
  submittedAt(relPath: string): number | null {
    const held = this.held.get(relPath);
    return held ? held.submittedAt : (this.d.ledger.get(relPath)?.submittedAt ?? null);
  }

  /** A transition that ends the file's way in this process: it leaves the window. */
  protected leave(name: TransitionName, file: ReadyFile, to: FileState, fields: Partial<Omit<FileRecord, 'path' | 'state'>>, event: DaemonEvent): void {
    this.move(name, file.path, to, fields);
    this.held.delete(file.path);
    this.d.emit(event);
    this.d.shrank();
  }

  /** The last attempt does not count: one fewer, here and (by the caller) in the ledger. */
  protected uncount(relPath: string): number {
    const attempts = Math.max(0, this.attempts(relPath) - 1);
    const held = this.held.get(relPath);
    if (held) held.attempts = attempts;
    return attempts;
  }

  inState(...states: FileState[]): FileRecord[] {
    return this.d.ledger.inState(...states);
  }
}
