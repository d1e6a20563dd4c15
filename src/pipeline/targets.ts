import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import { groupBy } from '../group.js';
import type { Coordinator } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { Access } from './access.js';
import type { Files, ReadyFile } from './files.js';
import type { Verdict } from './retry.js';
import { classify, waitAs } from './retry.js';
import { StoppedError, retry } from '../retry.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import { TurnGather } from './turn.js';

export interface Target {
  libraryId: string;
  /** F-prefixed. */
  folderId: string;
  /** This process created the folder: it holds only what this process sent (and recorded). */
  madeHere?: boolean;
}

interface Library {
  id: string;
  /** F-prefixed. */
  rootFolderId: string;
}

export type TargetClient = Pick<GalaxyClient, 'listLibraries' | 'createLibrary' | 'subfolders' | 'createFolder'>;

/** How long after making a folder, or reading its subfolders, this process alone (no replicas) makes folders under it without a look first. */
export const FRESH_MS = 60_000;

/**
 * Finds or creates each route's library and folder path, once: concurrent
 * callers for the same library or folder share one lookup (single-flight),
 * answers are cached, and a failed lookup is forgotten so the next call asks
 * Galaxy again. A creation is preceded by a fresh lookup (but for the case below), so a creation
 * whose answer was lost (accepted, then a 502) is found, not repeated. Creation runs under
 * the coordinator's lock, so that two replicas never create the same library or folder.
 * A folder's subfolders are read once, at its first use as a parent (its pages up to its first
 * dataset: folder-pages.ts), never the library's whole listing, which names every dataset in it:
 * finding a folder in a library of 100,000 datasets costs what it does in an empty one. The
 * fresh look before creating a folder reads the parent's subfolders again.
 * A folder this process just created (a new library's root too) is not read: it holds nothing.
 * With the ledger to itself (no replicas) a creation under a folder made, or whose subfolders were
 * read, less than FRESH_MS before is not preceded by a look either: nobody else knows a folder
 * just made, and nothing but a person in Galaxy's pages could have made it since that read (a
 * backlog's folders are made within seconds). A creation tried before (its answer lost) looks first.
 * With a clock, the fresh looks at one parent asked in one turn are one read, which starts after
 * each of them was asked (so after each lock was taken): a backlog's hundred new folders under a
 * library's root cost one look at the root, not a hundred.
 */
export class Targets {
  readonly #client: TargetClient;
  readonly #description: string;
  readonly #emit: Emit;
  readonly #libraries = new Map<string, Promise<Library>>();
  /** Per folder id (F-prefixed): its subfolders' ids by name, as read once (and added to since). */
  readonly #children = new Map<string, Promise<Map<string, string>>>();
  readonly #inflight = new Map<string, Promise<string>>();
  /** Folders (library roots too) this process made, by id: what they hold, it sent. */
  readonly #madeHere = new Set<string>();
  /** When each folder's subfolders were last known, by folder id: made here, or read (the read's start). */
  readonly #knownAt = new Map<string, number>();
  readonly #clock: Pick<Clock, 'now'>;
  /** Folder paths (library id, path) whose creation was asked for already: a retry looks first. */
  readonly #tried = new Set<string>();

  readonly #lock: Pick<Coordinator, 'withLock' | 'replica'>;
  readonly #access: Pick<Access, 'library' | 'roleId'> | null;
  readonly #libraryAccess: (library: string) => string | null;
  readonly #looks: TurnGather<{ parentId: string; resolve: (items: FolderItem[]) => void; reject: (err: unknown) => void }> | null;

  constructor(o: {
    client: TargetClient; libraryDescription: string; emit: Emit; lock: Pick<Coordinator, 'withLock' | 'replica'>; access?: Pick<Access, 'library' | 'roleId'>;
    libraryAccess?: (library: string) => string | null; clock?: Pick<Clock, 'setTimeout' | 'now'>;
  }) {
    this.#clock = o.clock ?? systemClock;
    this.#looks = o.clock === undefined ? null : new TurnGather(o.clock, (waiting) => {
      for (const [parentId, group] of groupBy(waiting, (w) => w.parentId)) {
        this.#client.subfolders(parentId).then((items) => group.forEach((w) => w.resolve(items)), (err: unknown) => group.forEach((w) => w.reject(err)));
      }
    });
    this.#client = o.client;
    this.#description = o.libraryDescription;
    this.#emit = o.emit;
    this.#lock = o.lock;
    this.#access = o.access ?? null;
    this.#libraryAccess = o.libraryAccess ?? (() => null);
  }

  /**
   * The route's library and folder ids. With access: the library is restricted first (access.ts),
   * and the datasets' role must exist, so that nothing is sent that could not be restricted.
   */
  async resolve(route: Route): Promise<Target> {
    const lib = await this.#library(route.library);
    const libraryRole = this.#libraryAccess(route.library);
    if (this.#access !== null) {
      if (libraryRole !== null) await this.#access.library({ id: lib.id, name: route.library }, libraryRole);
      if (route.access !== null) await this.#access.roleId(route.access);
    }
    let folderId = lib.rootFolderId;
    let pathSoFar = '';
    for (const segment of route.folder) {
      pathSoFar += `/${segment}`;
      folderId = await this.#folder(lib.id, folderId, pathSoFar, segment);
    }
    return { libraryId: lib.id, folderId, madeHere: this.#madeHere.has(folderId) };
  }

  /** Forget everything cached (a library or folder was deleted in Galaxy). */
  reset(): void {
    this.#libraries.clear();
    this.#children.clear();
    this.#knownAt.clear();
  }

  #library(name: string): Promise<Library> {
    let p = this.#libraries.get(name);
    if (!p) {
      p = this.#findOrCreateLibrary(name);
      this.#libraries.set(name, p);
      p.catch(() => this.#libraries.delete(name));
    }
    return p;
  }

  async #findOrCreateLibrary(name: string): Promise<Library> {
    return this.#lock.withLock(`library\u0000${name}`, () => this.#findOrCreateLibraryNow(name));
  }

  async #findOrCreateLibraryNow(name: string): Promise<Library> {
    const found = (await this.#client.listLibraries(false)).filter((l) => l.name === name);
    const first = found[0];
    if (first) {
      if (found.length > 1) this.#emit({ type: 'library.duplicate', library: name, id: first.id });
      return { id: first.id, rootFolderId: first.root_folder_id };
    }
    const created = await this.#client.createLibrary(name, this.#description);
    this.#made(created.root_folder_id);
    this.#emit({ type: 'library.created', library: name, id: created.id });
    return { id: created.id, rootFolderId: created.root_folder_id };
  }

  /** The subfolders of `parentId` by name, read at its first use as a parent (shared by every caller). */
  #childrenOf(parentId: string): Promise<Map<string, string>> {
    let p = this.#children.get(parentId);
    if (!p) {
      this.#knownAt.set(parentId, this.#clock.now());
      p = this.#client.subfolders(parentId).then((items) => {
        const map = new Map<string, string>();
        // Duplicate folder names are possible in Galaxy: the first listed wins, consistently.
        for (const f of items) if (!map.has(f.name)) map.set(f.name, f.id);
        return map;
      });
      this.#children.set(parentId, p);
      p.catch(() => this.#children.delete(parentId));
    }
    return p;
  }

  #folder(libraryId: string, parentId: string, fullPath: string, name: string): Promise<string> {
    const key = `${libraryId}\u0000${fullPath}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = (async () => {
        const cached = (await this.#childrenOf(parentId)).get(name);
        if (cached) return cached;
        return this.#lock.withLock(`folder\u0000${key}`, () => this.#createFolder(parentId, fullPath, name, key));
      })();
      this.#inflight.set(key, p);
      void p.finally(() => this.#inflight.delete(key)).catch(() => undefined);
    }
    return p;
  }

  /**
   * Under the lock: look again, then create. Another process, or an earlier attempt whose answer
   * was lost, may have made the folder; the look is asked for now, after the lock was taken
   * (not under a parent made or read less than FRESH_MS ago, alone: see the class). Of several
   * subfolders of that name, the first listed wins, as in #childrenOf.
   */
  async #createFolder(parentId: string, fullPath: string, name: string, key: string): Promise<string> {
    const known = await this.#childrenOf(parentId);
    const had = known.get(name);
    if (had !== undefined) return had;
    const knownFresh = this.#lock.replica === null && this.#clock.now() - (this.#knownAt.get(parentId) ?? -Infinity) < FRESH_MS && !this.#tried.has(key);
    if (!knownFresh) {
      const looks = this.#looks;
      const fresh = looks === null ? this.#client.subfolders(parentId) : new Promise<FolderItem[]>((resolve, reject) => looks.add({ parentId, resolve, reject }));
      const existing = (await fresh).find((f) => f.name === name);
      if (existing) {
        known.set(name, existing.id);
        return existing.id;
      }
    }
    this.#tried.add(key);
    const created = await this.#client.createFolder(parentId, name);
    known.set(name, created.id);
    this.#made(created.id);
    this.#emit({ type: 'folder.created', folder: fullPath, id: created.id });
    return created.id;
  }

  /** A folder (a library's root too) just made here: it holds nothing, so it needs no read. */
  #made(folderId: string): void {
    this.#madeHere.add(folderId);
    this.#knownAt.set(folderId, this.#clock.now());
    this.#children.set(folderId, Promise.resolve(new Map<string, string>()));
  }
}

/**
 * Library and folder ids, retried while the failure is transient (each wait as `onFailure` says,
 * after the gate). Null when stopping, or failed for good: its files are then recorded failed.
 */
export async function targetOf(
d: {
  targets: Pick<Targets, 'resolve'>; files: Pick<Files, 'failed'>; gate: { wait(): Promise<void> }; clock: Clock; signal: AbortSignal; maxAttempts: number;
  onFailure(err: unknown, attempt: number, route: Route): number | Promise<void>;
  /** Whether a failure met Galaxy down as a whole (retry.ts, isOutage): then it counts no attempt. */
  outage(verdict: Verdict): Promise<boolean>;
},
files: readonly ReadyFile[],
route: Route,
): Promise<Target | null> {
  const fail = (message: string, attempt: number): null => {
    for (const f of files) d.files.failed(f, route, `cannot find or create library ${JSON.stringify(route.library)} folder ${folderText(route)}: ${message}`, attempt);
    return null;
  };
  let counted = 0;
  try {
    return await retry(() => d.targets.resolve(route), {
      clock: d.clock,
      signal: d.signal,
      before: () => d.gate.wait(),
      onFailure: (err, attempt) => {
        const verdict = classify(err);
        if (verdict.kind === 'permanent') return fail(verdict.message, attempt);
        if (verdict.kind !== 'transient') return d.onFailure(err, attempt, route);
        // While Galaxy is down the files wait as long as it lasts, backing off (said by onFailure).
        return d.outage(verdict).then(async (down) => {
          if (!down && ++counted >= d.maxAttempts) {
            fail(verdict.message, counted);
            throw new Error('gave up: recorded failed');
          }
          if (!(await waitAs(d.onFailure(err, attempt, route), d.clock, d.signal))) throw new StoppedError();
        });
      },
    });
  } catch {
    return null; // stopping, or recorded failed above
  }
}
