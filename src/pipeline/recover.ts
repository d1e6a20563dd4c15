import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import { CLOCK_SLACK_MS, galaxyTime } from '../galaxy/folder-pages.js';
import type { Emit } from '../observe/events.js';
import type { Details } from './datasets.js';
import { existingDatasets } from './datasets.js';
import type { Files, ReadyFile } from './files.js';
import type { HistoryPool } from './histories.js';
import { retry, StoppedError } from '../retry.js';
import type { Route } from './route.js';
import type { Submitter } from './submit.js';
import type { Target } from './targets.js';

/**
 * recover: did an earlier request for these files reach Galaxy? After a lost answer or a
 * restart, the history the request named tells (a job the ledger does not know is that
 * request's); before a file is sent again, its folder tells (a dataset of its name and size).
 * Nothing is sent twice on a guess.
 */

export type Recovered = { kind: 'stopped' } | { kind: 'resend' } | { kind: 'job'; jobId: string };

export interface RecoverDeps {
  client: Pick<GalaxyClient, 'listJobs' | 'folderContents' | 'recentDatasets'>;
  files: Pick<Files, 'ok' | 'failed' | 'attempts' | 'submittedAt' | 'jobKnown' | 'unassigned' | 'record'>;
  ledger: { jobsOf(historyId: string): Set<string>; isClaimed(datasetId: string): boolean };
  histories: Pick<HistoryPool, 'release'>;
  submitter: Pick<Submitter, 'datasetName' | 'createsFirst'>;
  details: Pick<Details, 'finish'>;
  clock: Pick<Clock, 'sleep' | 'now'>;
  signal: AbortSignal;
  emit: Emit;
  gate: { wait(): Promise<void> };
  /** How to wait after a failed look (waitOutGalaxy). */
  onFailure(err: unknown, attempt: number, route: Route): number | Promise<void>;
  afterOk: (file: ReadyFile) => Promise<void>;
}

/** How long a rebuilt ledger's look at a folder serves the next batches of that folder. */
export const REBUILD_LISTING_MS = 10 * 60_000;

export class Recovery {
  readonly #d: RecoverDeps;
  /** Folder listings of a rebuild (existing `shared`), the fields matching needs only. */
  readonly #listings = new Map<string, { at: number; view: Promise<FolderView> }>();

  constructor(deps: RecoverDeps) {
    this.#d = deps;
  }

  /** After a lost answer: the job in this history that the ledger does not know, if Galaxy created one. */
  async acceptedJob(historyId: string): Promise<string | null> {
    const known = this.#d.ledger.jobsOf(historyId);
    const jobs = await this.#d.client.listJobs({ historyId, toolId: '__DATA_FETCH__', limit: 50 });
    return jobs.find((j) => !known.has(j.id))?.id ?? null;
  }

  /** A request that may or may not have reached Galaxy, whose history is known (jobId null) or whose job is. */
  async recover(files: readonly ReadyFile[], route: Route, rec: { historyId: string | null; jobId: string | null }): Promise<Recovered> {
    let jobId = rec.jobId;
    if (jobId === null && rec.historyId !== null) {
      const historyId = rec.historyId;
      try {
        jobId = await retry(() => this.acceptedJob(historyId), {
          clock: this.#d.clock,
          signal: this.#d.signal,
          before: () => this.#d.gate.wait(),
          onFailure: (err, attempt) => this.#d.onFailure(err, attempt, route),
        });
      } catch (err) {
        if (err instanceof StoppedError) return { kind: 'stopped' };
        throw err;
      }
    }
    if (jobId === null) {
      if (rec.historyId !== null) {
        this.#d.files.unassigned(files, rec.historyId);
        this.#d.histories.release(rec.historyId);
      }
      this.#d.emit({ type: 'upload.recovered', files: files.map((f) => f.path), history_id: rec.historyId, reason: 'Galaxy has no job for the interrupted request; sending again' });
      return { kind: 'resend' };
    }
    if (rec.historyId !== null && rec.jobId === null) this.#d.histories.release(rec.historyId);
    this.#d.emit({ type: 'upload.recovered', files: files.map((f) => f.path), history_id: rec.historyId, job_id: jobId, reason: 'Galaxy has the job of the interrupted request; confirming it' });
    this.#d.files.jobKnown(files, rec.historyId, jobId);
    return { kind: 'job', jobId };
  }

  /**
   * Files sent before (a retry, a restart, `retry`) or a rebuilt ledger: datasets in the folder
   * that are these files already are recorded ok instead of uploading again. `running`: those
   * of a lost paths upload still going, to be confirmed rather than sent.
   */
  async existing(files: readonly ReadyFile[], target: Target, route: Route, o: { shared?: boolean } = {}): Promise<{ adopted: Set<string>; running: Map<string, string> }> {
    const items = o.shared === true ? await this.#shared(target.folderId) : await this.#d.client.folderContents(target.folderId);
    const nameOf = (f: ReadyFile): string => this.#d.submitter.datasetName(f, route);
    // A file's own dataset (a paths upload records it as Galaxy answers, before its job ran) is not taken by another.
    const own = new Set(files.map((f) => this.#d.files.record(f.path)?.datasetId).filter((id): id is string => typeof id === 'string'));
    const { ok, running } = existingDatasets(files, items, nameOf, { running: this.#d.submitter.createsFirst, isClaimed: (id) => !own.has(id) && this.#d.ledger.isClaimed(id) });
    const adopted = new Set<string>(running.keys());
    for (const f of files) {
      const match = ok.get(f.path);
      if (!match) continue;
      adopted.add(f.path);
      const why = (await this.#d.details.finish([f], route, new Map([[f.path, match]]), { restrict: this.#d.files.submittedAt(f.path) !== null })).get(f.path);
      if (why !== undefined) {
        if (why !== null) this.#d.files.failed(f, route, why, this.#d.files.attempts(f.path));
        continue;
      }
      this.#d.files.ok(f, route, match.id, { found: target });
      await this.#d.afterOk(f);
    }
    return { adopted, running };
  }

  /**
   * For files never sent that a rebuilt ledger must look for: one look at the whole folder
   * serves its next batches for REBUILD_LISTING_MS, brought up to date for each by the datasets
   * updated since its newest (one page: folder-pages.ts). So a backlog of a thousand batches
   * into a folder of 50,000 datasets reads it whole once, and each batch still sees what the
   * batches before it made (a file replaced during its upload may find its new version there).
   */
  #shared(folderId: string): Promise<FolderItem[]> {
    const now = this.#d.clock.now();
    for (const [id, l] of this.#listings) if (now - l.at >= REBUILD_LISTING_MS) this.#listings.delete(id);
    const hit = this.#listings.get(folderId);
    // Chained on the last look, so that batches starting together share it.
    const view = hit ? hit.view.then((v) => this.#since(folderId, v)) : this.#d.client.folderContents(folderId).then((all) => merge({ items: new Map(), newest: -Infinity }, all));
    view.catch(() => this.#listings.delete(folderId));
    this.#listings.set(folderId, { at: hit?.at ?? now, view });
    return view.then((v) => [...v.items.values()]);
  }

  async #since(folderId: string, view: FolderView): Promise<FolderView> {
    const recent = await this.#d.client.recentDatasets(folderId, { sinceMs: Number.isFinite(view.newest) ? view.newest - CLOCK_SLACK_MS : null, limit: 100, enough: () => false });
    return merge(view, recent);
  }
}

/** A folder's datasets as last seen, and the newest `update_time` among them (Galaxy's clock). */
interface FolderView {
  items: Map<string, FolderItem>;
  newest: number;
}

/** The view with `seen` in it: each dataset kept with the fields matching needs only. */
function merge(view: FolderView, seen: readonly FolderItem[]): FolderView {
  for (const i of seen) {
    if (i.type !== 'file') continue;
    const slim: FolderItem = { id: i.id, type: i.type, name: i.name, tags: i.tags };
    if (i.is_unrestricted !== undefined) slim.is_unrestricted = i.is_unrestricted;
    if (i.state !== undefined) slim.state = i.state;
    if (i.raw_size !== undefined) slim.raw_size = i.raw_size;
    view.items.set(i.id, slim);
    const t = galaxyTime(i.update_time);
    if (t > view.newest) view.newest = t;
  }
  return view;
}
