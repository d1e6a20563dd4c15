import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import type { Emit } from '../observe/events.js';
import type { Details } from './datasets.js';
import { existingDatasets } from './datasets.js';
import type { Files, ReadyFile } from './files.js';
import type { HistoryPool } from './histories.js';
import { retry, StoppedError } from './retry.js';
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
  client: Pick<GalaxyClient, 'listJobs' | 'folderContents'>;
  files: Pick<Files, 'ok' | 'jobKnown' | 'unassigned'>;
  ledger: { jobsOf(historyId: string): Set<string>; isClaimed(datasetId: string): boolean };
  histories: Pick<HistoryPool, 'release'>;
  submitter: Pick<Submitter, 'datasetName' | 'createsFirst'>;
  details: Pick<Details, 'tag'>;
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
  readonly #listings = new Map<string, { at: number; items: Promise<FolderItem[]> }>();

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
    const { ok, running } = existingDatasets(files, items, (f) => this.#d.submitter.datasetName(f, route), { running: this.#d.submitter.createsFirst, isClaimed: (id) => this.#d.ledger.isClaimed(id) });
    const adopted = new Set<string>(running.keys());
    for (const f of files) {
      const match = ok.get(f.path);
      if (!match) continue;
      adopted.add(f.path);
      await this.#d.details.tag([f], route, new Map([[f.path, match]]));
      this.#d.files.ok(f, route, match.id, { found: target });
      await this.#d.afterOk(f);
    }
    return { adopted, running };
  }

  /**
   * For files never sent that a rebuilt ledger must look for: one look at the whole folder
   * serves its next batches for REBUILD_LISTING_MS, so a backlog of a thousand batches into a
   * folder of 50,000 datasets reads it once, not a thousand times. The datasets this process
   * makes meanwhile are in the ledger, and so never taken for a file's.
   */
  #shared(folderId: string): Promise<FolderItem[]> {
    const now = this.#d.clock.now();
    for (const [id, l] of this.#listings) if (now - l.at >= REBUILD_LISTING_MS) this.#listings.delete(id);
    const hit = this.#listings.get(folderId);
    if (hit) return hit.items;
    // One look in flight per folder: the batches that start together wait for the same answer.
    const items = this.#d.client.folderContents(folderId).then((all) => all.filter((i) => i.type === 'file').map((i) => {
      const slim: FolderItem = { id: i.id, type: i.type, name: i.name, tags: i.tags };
      if (i.state !== undefined) slim.state = i.state;
      if (i.raw_size !== undefined) slim.raw_size = i.raw_size;
      return slim;
    }));
    items.catch(() => this.#listings.delete(folderId));
    this.#listings.set(folderId, { at: now, items });
    return items;
  }
}
