import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import type { RecentOptions } from '../galaxy/folder-pages.js';
import { galaxyTime } from '../galaxy/folder-pages.js';
import { groupBy } from '../group.js';
import { TurnGather } from './turn.js';

/**
 * Folder looks, shared. Each request's confirmation reads its folder's newest datasets
 * (confirm.ts); files of one folder arriving one at a time are several requests' parts, whose
 * confirmations fall due together (grid.ts, alignedDelay), and each read the same page.
 * Here the looks at one folder asked in one turn are one read: from the earliest `sinceMs` of
 * them, as many items as they ask together (at most a page of 500), until every one of them has
 * enough. Each gets what its own `sinceMs` admits, so a shared look never shows a confirmation
 * an older dataset its own look would have left out.
 */

interface Waiter extends RecentOptions {
  folderId: string;
  resolve: (items: FolderItem[]) => void;
  reject: (err: unknown) => void;
}

/** Items asked for in one shared look at most (a page; the emulator's and Galaxy's limit allow it). */
const SHARED_LIMIT = 500;

export class FolderLooks {
  readonly #client: Pick<GalaxyClient, 'recentDatasets'>;
  readonly #turn: TurnGather<Waiter>;

  constructor(client: Pick<GalaxyClient, 'recentDatasets'>, clock: Pick<Clock, 'setTimeout'>) {
    this.#client = client;
    this.#turn = new TurnGather(clock, (waiting) => {
      for (const [folderId, group] of groupBy(waiting, (w) => w.folderId)) void this.#look(folderId, group);
    });
  }

  /** The folder's datasets updated lately, newest first (GalaxyClient.recentDatasets), read with the other looks at it of this turn. */
  recentDatasets(folderId: string, o: RecentOptions): Promise<FolderItem[]> {
    return new Promise((resolve, reject) => this.#turn.add({ ...o, folderId, resolve, reject }));
  }

  async #look(folderId: string, group: Waiter[]): Promise<void> {
    const [one] = group;
    if (group.length === 1 && one) {
      await this.#client.recentDatasets(folderId, one).then(one.resolve, one.reject);
      return;
    }
    const bounds = group.map((w) => w.sinceMs);
    const sinceMs = bounds.some((b) => b === null) ? null : Math.min(...(bounds as number[]));
    // Each item's time read once, whatever the number of looks and pages.
    const times = new Map<FolderItem, number>();
    const timeOf = (i: FolderItem): number => {
      let t = times.get(i);
      if (t === undefined) times.set(i, (t = galaxyTime(i.update_time)));
      return t;
    };
    const admitted = (w: Waiter, seen: readonly FolderItem[]): FolderItem[] => (w.sinceMs === null ? [...seen] : seen.filter((i) => !(timeOf(i) < (w.sinceMs as number))));
    let items: FolderItem[];
    try {
      items = await this.#client.recentDatasets(folderId, {
        sinceMs,
        limit: Math.min(SHARED_LIMIT, group.reduce((n, w) => n + w.limit, 0)),
        enough: (seen) => group.every((w) => w.enough(admitted(w, seen))),
      });
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    for (const w of group) w.resolve(admitted(w, items));
  }
}
