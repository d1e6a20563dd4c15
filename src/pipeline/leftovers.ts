import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import { CLOCK_SLACK_MS } from '../galaxy/folder-pages.js';
import type { Emit } from '../observe/events.js';
import type { ReadyFile } from './files.js';
import { classify } from './retry.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import type { Target } from './targets.js';

/**
 * What a failed attempt left in the folder, deleted by the daemon, since it made it, so that the
 * folder keeps one live dataset per file: the one whose file is recorded ok. A fetch job that
 * ends in error can leave library datasets of its files in any state, `ok` among them, of 0
 * bytes or cut short (Galaxy's `file_path` full: docs/galaxy-notes.md); a file whose dataset ended
 * in error leaves that dataset. Each is found in its file's folder by the job's time and the
 * file's name, and deleted only when no file of the ledger holds it. A deletion that fails is
 * said (`upload.leftover_kept`, with the id) and left to the admin: it never holds up a file.
 */

export type LeftoverClient = Pick<GalaxyClient, 'recentDatasets' | 'deleteLibraryDataset'>;

export interface LeftoverDeps {
  client: LeftoverClient;
  /** A dataset id some file of the ledger holds (ok, or known as its dataset). */
  isClaimed: (datasetId: string) => boolean;
  /** The name Galaxy gives a file's dataset (submit.ts). */
  datasetName: (file: ReadyFile, route: Route) => string;
  emit: Emit;
}

export class Leftovers {
  readonly #d: LeftoverDeps;

  constructor(deps: LeftoverDeps) {
    this.#d = deps;
  }

  /**
   * A job that ended in error (`jobCreatedMs`: its create_time, Galaxy's clock): the datasets of
   * these files' names made in this folder since shortly before it, in any state, that no file
   * of the ledger holds. Returns how many were deleted.
   */
  async ofFailedJob(jobId: string, jobCreatedMs: number, files: readonly ReadyFile[], route: Route, target: Target): Promise<number> {
    const names = new Set(files.map((f) => this.#d.datasetName(f, route)));
    let found: FolderItem[];
    try {
      found = await this.#d.client.recentDatasets(target.folderId, {
        sinceMs: Number.isNaN(jobCreatedMs) ? null : jobCreatedMs - CLOCK_SLACK_MS,
        limit: Math.min(500, 2 * files.length + 20),
        enough: () => false,
      });
    } catch (err) {
      this.#d.emit({ type: 'upload.leftover_kept', library: route.library, folder: folderText(route), job_id: jobId, dataset_id: null, reason: `could not list the folder's newest datasets: ${classify(err).message}` });
      return 0;
    }
    const leftovers = found.filter((i) => i.type === 'file' && i.deleted !== true && names.has(i.name) && !this.#d.isClaimed(i.id));
    return await this.delete(leftovers, route, jobId);
  }

  /** Delete `items` (this daemon's leftovers); returns how many were deleted. */
  async delete(items: readonly FolderItem[], route: Route, jobId: string | null): Promise<number> {
    let deleted = 0;
    for (const item of items) {
      try {
        await this.#d.client.deleteLibraryDataset(item.id);
        deleted++;
        this.#d.emit({ type: 'upload.leftover_deleted', library: route.library, folder: folderText(route), job_id: jobId, dataset_id: item.id, name: item.name, state: String(item.state ?? 'unknown'), size: typeof item.raw_size === 'number' ? item.raw_size : null });
      } catch (err) {
        this.#d.emit({ type: 'upload.leftover_kept', library: route.library, folder: folderText(route), job_id: jobId, dataset_id: item.id, reason: classify(err).message });
      }
    }
    return deleted;
  }
}
