import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import type { Emit } from '../observe/events.js';
import type { Access } from './access.js';
import type { ReadyFile } from './files.js';
import { classify } from './retry.js';
import { StoppedError, backoffMs, retry } from '../retry.js';
import type { Route } from './route.js';
import type { Target } from './targets.js';

/** Pairing files with the datasets of their folder, and the details a failure's reason quotes. */

export const TERMINAL_JOB: ReadonlySet<string> = new Set(['ok', 'error', 'deleted', 'deleting', 'failed', 'stopped', 'skipped']);
export const TERMINAL_DATASET: ReadonlySet<string> = new Set(['ok', 'empty', 'error', 'discarded', 'failed_metadata', 'deferred']);

/** Dataset ids taken: by files in the ledger (`isClaimed`), plus those taken by this pass. */
export function claimSet(isClaimed: (id: string) => boolean): { has(id: string): boolean; add(id: string): void } {
  const now = new Set<string>();
  return { has: (id) => now.has(id) || isClaimed(id), add: (id) => void now.add(id) };
}

/** Pair each file with its dataset: same name, not claimed by another file; the same size first. */
export function matchDatasets(
  files: readonly ReadyFile[], items: readonly FolderItem[], matched: Map<string, FolderItem>,
  isClaimed: (id: string) => boolean, nameOf: (file: ReadyFile) => string,
): void {
  const claimed = claimSet(isClaimed);
  for (const m of matched.values()) claimed.add(m.id);
  for (const f of files) {
    const prev = matched.get(f.path);
    if (prev) {
      const now = items.find((i) => i.id === prev.id);
      if (now) matched.set(f.path, now);
      continue;
    }
    const name = nameOf(f);
    const candidates = items.filter((i) => i.type === 'file' && i.name === name && !claimed.has(i.id));
    const pick = candidates.find((i) => i.raw_size === f.size) ?? candidates[candidates.length - 1];
    if (pick) {
      matched.set(f.path, pick);
      claimed.add(pick.id);
    }
  }
}

/**
 * Datasets in the folder that are these files already, from an earlier attempt: `ok` ones (same
 * name and size) and, for the legacy paths upload, which creates its datasets before answering,
 * `running` ones (same name, not yet terminal): a lost answer's upload, still going.
 */
export function existingDatasets(
  files: readonly ReadyFile[], items: readonly FolderItem[], nameOf: (f: ReadyFile) => string,
  o: { running: boolean; isClaimed: (id: string) => boolean },
): { ok: Map<string, FolderItem>; running: Map<string, string> } {
  const claimed = claimSet(o.isClaimed);
  const ok = new Map<string, FolderItem>();
  const running = new Map<string, string>();
  for (const f of files) {
    const name = nameOf(f);
    const match = items.find((i) => i.type === 'file' && i.name === name && i.raw_size === f.size && i.state === 'ok' && !claimed.has(i.id));
    if (match) {
      claimed.add(match.id);
      ok.set(f.path, match);
      continue;
    }
    const going = o.running ? items.find((i) => i.type === 'file' && i.name === name && !TERMINAL_DATASET.has(String(i.state)) && !claimed.has(i.id)) : undefined;
    if (going) {
      claimed.add(going.id);
      running.set(f.path, going.id);
    }
  }
  return { ok, running };
}

export type DetailClient = Pick<GalaxyClient, 'showJob' | 'showLibraryContent' | 'updateLibraryDataset'>;

/** Failed jobs whose stderr is remembered, so that the folders of one job ask for it once. */
const STDERRS_KEPT = 32;

/**
 * What a failure's reason quotes (a job's stderr, a dataset's info), and the tags and access an
 * ok dataset gets (finish). Each Galaxy call is asked up to three times while its failure is transient;
 * a detail that cannot be had is left out of the reason.
 */
export class Details {
  readonly #client: DetailClient;
  readonly #stderrs = new Map<string, Promise<string>>();
  readonly #access: Pick<Access, 'dataset'>;
  readonly #o: { clock: Pick<Clock, 'sleep'>; signal: AbortSignal; emit: Emit; random?: () => number };

  constructor(client: DetailClient, access: Pick<Access, 'dataset'>, o: { clock: Pick<Clock, 'sleep'>; signal: AbortSignal; emit: Emit; random?: () => number }) {
    this.#client = client;
    this.#access = access;
    this.#o = o;
  }

  /** A Galaxy call, asked again while its failure is transient (three times in all); throws the last failure. */
  async #persist<T>(ask: () => Promise<T>): Promise<T> {
    return await retry(ask, {
      clock: this.#o.clock,
      signal: this.#o.signal,
      onFailure: (err, attempt) => (attempt >= 3 || classify(err).kind !== 'transient' ? null : backoffMs(attempt, { firstMs: 1000, capMs: 2000, jitter: true }, null, this.#o.random)),
    });
  }

  async #ask<T>(ask: () => Promise<T>): Promise<T | null> {
    try {
      return await this.#persist(ask);
    } catch {
      return null;
    }
  }

  /** ": <the dataset's info>", or '' without one. */
  async info(target: Target, datasetId: string): Promise<string> {
    const d = await this.#ask(() => this.#client.showLibraryContent(target.libraryId, datasetId));
    const info = typeof d?.misc_info === 'string' ? d.misc_info.trim() : '';
    return info ? `: ${info.slice(0, 500)}` : '';
  }

  /** ": <the job's stderr>", or '' without one; asked once for the folders of one job (the last few jobs are remembered). */
  stderr(jobId: string): Promise<string> {
    let asked = this.#stderrs.get(jobId);
    if (asked === undefined) {
      asked = this.#ask(() => this.#client.showJob(jobId, true)).then((full) => {
        const stderr = (full?.stderr ?? full?.tool_stderr ?? '').trim();
        return stderr ? `: ${stderr.slice(0, 500)}` : '';
      });
      this.#stderrs.set(jobId, asked);
      for (const old of this.#stderrs.keys()) {
        if (this.#stderrs.size <= STDERRS_KEPT) break;
        this.#stderrs.delete(old);
      }
    }
    return asked;
  }

  /** The dataset's info set to `info` (method = paths: the checksum its stored hash matched); a failure leaves it imported, with a warning. */
  async describe(file: string, datasetId: string, info: string): Promise<void> {
    const done = await this.#ask(() => this.#client.updateLibraryDataset(datasetId, { misc_info: info }));
    if (done === null) this.#o.emit({ type: 'upload.info_failed', file, dataset_id: datasetId, info });
  }

  /**
   * What each ok dataset gets before its file is recorded ok. [folder:NAME] tags: Galaxy's fetch
   * API takes tags on library items but does not apply them (docs/galaxy-notes.md), so they are
   * set on each ok dataset that lacks them; a failure leaves it imported, with a warning. Access:
   * the dataset is restricted to the route's role, or made public when the route has none and
   * Galaxy restricted it (access.ts, dataset); a failure keeps its file from ok.
   * Returns the files whose dataset could not be restricted, with why (null when stopping: the
   * file is to be left as the ledger has it). `restrict: false`: a
   * dataset found in Galaxy that this ledger never sent (a rebuilt ledger) may predate access,
   * and is left as it is (check reports it).
   */
  async finish(files: readonly ReadyFile[], route: Route, matched: ReadonlyMap<string, FolderItem>, o: { restrict: boolean } = { restrict: true }): Promise<Map<string, string | null>> {
    const unrestricted = new Map<string, string | null>();
    for (const f of files) {
      const item = matched.get(f.path);
      if (item?.state !== 'ok') continue;
      const have = Array.isArray(item.tags) ? item.tags.map(String) : [];
      if (route.tags.length > 0 && !route.tags.every((tag) => have.includes(tag))) {
        const done = await this.#ask(() => this.#client.updateLibraryDataset(item.id, { tags: route.tags }));
        if (done === null) this.#o.emit({ type: 'upload.tags_failed', file: f.path, dataset_id: item.id, tags: route.tags });
      }
      const role = route.access;
      if (!o.restrict || (role === null && item.is_unrestricted !== false)) continue;
      try {
        await this.#persist(() => this.#access.dataset(item, role));
      } catch (err) {
        // Stopping: the file stays as the ledger has it (submitted); the next start confirms and restricts it.
        if (err instanceof StoppedError || this.#o.signal.aborted) unrestricted.set(f.path, null);
        else if (role === null) unrestricted.set(f.path, `dataset ${item.id} is in Galaxy but could not be made readable by everybody, as its library's access (none) says: ${classify(err).message}. Galaxy gave it the importing user's default permissions (private); galaxy-importd retry makes it public without uploading again`);
        else unrestricted.set(f.path, `dataset ${item.id} is in Galaxy but could not be restricted to the role ${JSON.stringify(role)} (access): ${classify(err).message}. Until it is, it is readable as Galaxy made it (by everyone who sees its library, or only by the importing user); galaxy-importd retry restricts it without uploading again`);
      }
    }
    return unrestricted;
  }
}
