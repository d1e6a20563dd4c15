import type { Clock } from '../clock.js';
import type { GalaxyClient } from '../galaxy/client.js';
import type { Coordinator } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { Route } from './route.js';

export interface Target {
  libraryId: string;
  /** F-prefixed. */
  folderId: string;
  /** This process created the folder: it holds only what this process sent (and recorded). */
  madeHere?: boolean;
}

export type TargetClient = Pick<GalaxyClient, 'listLibraries' | 'createLibrary' | 'libraryContents' | 'createFolder'>;

/**
 * Finds or creates each route's library and folder path, once: concurrent
 * callers for the same library or folder share one lookup (single-flight),
 * answers are cached, and a failed lookup is forgotten so the next call asks
 * Galaxy again. Every creation is preceded by a fresh lookup, so a creation
 * whose answer was lost (accepted, then a 502) is found, not repeated. Creation runs under
 * the coordinator's lock, so that two replicas never create the same library or folder.
 */
export class Targets {
  readonly #client: TargetClient;
  readonly #description: string;
  readonly #emit: Emit;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #libraries = new Map<string, Promise<{ id: string; rootFolderId: string }>>();
  /** Per library id: full folder path ('/', '/a/b') → folder id. */
  readonly #folders = new Map<string, Promise<Map<string, string>>>();
  readonly #inflight = new Map<string, Promise<string>>();
  /** Per library id: the folder list being fetched now, if any, and when it was asked for. */
  readonly #refreshing = new Map<string, { list: Promise<Map<string, string>>; startedAt: number }>();
  /** Per folder key: when creating it last failed (it may exist anyway: look with a list asked for later). */
  readonly #createFailedAt = new Map<string, number>();
  /** Folders (library roots too) this process created: what they hold, it sent. */
  readonly #made = new Set<string>();

  readonly #lock: Pick<Coordinator, 'withLock'>;

  constructor(o: { client: TargetClient; libraryDescription: string; emit: Emit; lock: Pick<Coordinator, 'withLock'>; clock: Pick<Clock, 'now'> }) {
    this.#client = o.client;
    this.#description = o.libraryDescription;
    this.#emit = o.emit;
    this.#lock = o.lock;
    this.#clock = o.clock;
  }

  async resolve(route: Route): Promise<Target> {
    const lib = await this.#library(route.library);
    let folderId = lib.rootFolderId;
    let pathSoFar = '';
    for (const segment of route.folder) {
      pathSoFar += `/${segment}`;
      folderId = await this.#folder(lib.id, folderId, pathSoFar, segment);
    }
    return { libraryId: lib.id, folderId, madeHere: this.#made.has(folderId) };
  }

  /** Forget everything cached (a library or folder was deleted in Galaxy). */
  reset(): void {
    this.#libraries.clear();
    this.#folders.clear();
  }

  #library(name: string): Promise<{ id: string; rootFolderId: string }> {
    let p = this.#libraries.get(name);
    if (!p) {
      p = this.#findOrCreateLibrary(name);
      this.#libraries.set(name, p);
      p.catch(() => this.#libraries.delete(name));
    }
    return p;
  }

  async #findOrCreateLibrary(name: string): Promise<{ id: string; rootFolderId: string }> {
    return this.#lock.withLock(`library\u0000${name}`, () => this.#findOrCreateLibraryNow(name));
  }

  async #findOrCreateLibraryNow(name: string): Promise<{ id: string; rootFolderId: string }> {
    const found = (await this.#client.listLibraries(false)).filter((l) => l.name === name);
    const first = found[0];
    if (first) {
      if (found.length > 1) this.#emit({ type: 'library.duplicate', library: name, id: first.id });
      return { id: first.id, rootFolderId: first.root_folder_id };
    }
    const created = await this.#client.createLibrary(name, this.#description);
    this.#made.add(created.root_folder_id);
    this.#emit({ type: 'library.created', library: name, id: created.id });
    return { id: created.id, rootFolderId: created.root_folder_id };
  }

  #folderMap(libraryId: string, refresh: boolean, notBefore = 0): Promise<Map<string, string>> {
    // A library's contents list every dataset in it: misses that arrive while a fresh list is
    // on its way share it (one list for a thousand new folders, not one each), unless they
    // need a list asked for after a failed creation.
    const fetching = this.#refreshing.get(libraryId);
    if (fetching && fetching.startedAt > notBefore) return fetching.list;
    let p = refresh ? undefined : this.#folders.get(libraryId);
    if (!p) {
      p = this.#client.libraryContents(libraryId).then((entries) => {
        const map = new Map<string, string>();
        // Duplicate folder names are possible in Galaxy: the first listed wins, consistently.
        for (const e of entries) if (e.type === 'folder' && !map.has(e.name)) map.set(e.name, e.id);
        return map;
      });
      this.#folders.set(libraryId, p);
      const entry = { list: p, startedAt: this.#clock.now() };
      this.#refreshing.set(libraryId, entry);
      void p.finally(() => {
        if (this.#refreshing.get(libraryId) === entry) this.#refreshing.delete(libraryId);
      }).catch(() => undefined);
      p.catch(() => this.#folders.delete(libraryId));
    }
    return p;
  }

  #folder(libraryId: string, parentId: string, fullPath: string, name: string): Promise<string> {
    const key = `${libraryId}\u0000${fullPath}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = (async () => {
        const cached = (await this.#folderMap(libraryId, false)).get(fullPath);
        if (cached) return cached;
        return this.#lock.withLock(`folder\u0000${key}`, (since) => this.#createFolder(libraryId, parentId, fullPath, name, key, since));
      })();
      this.#inflight.set(key, p);
      void p.finally(() => this.#inflight.delete(key)).catch(() => undefined);
    }
    return p;
  }

  /** `lockedAt`: the list must be one asked for after this (another replica may have created it before we held the lock). */
  async #createFolder(libraryId: string, parentId: string, fullPath: string, name: string, key: string, lockedAt: number): Promise<string> {
        // Look again before creating: another process, or an earlier attempt whose answer was lost, may have made it.
        const fresh = await this.#folderMap(libraryId, true, Math.max(lockedAt, this.#createFailedAt.get(key) ?? 0));
        const existing = fresh.get(fullPath);
        if (existing) return existing;
        let created;
        try {
          created = await this.#client.createFolder(parentId, name);
        } catch (err) {
          this.#createFailedAt.set(key, this.#clock.now());
          throw err;
        }
        this.#createFailedAt.delete(key);
        fresh.set(fullPath, created.id);
        this.#made.add(created.id);
        this.#emit({ type: 'folder.created', folder: fullPath, id: created.id });
        return created.id;
  }
}
