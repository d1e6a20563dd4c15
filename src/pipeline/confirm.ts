import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import { CLOCK_SLACK_MS, galaxyTime } from '../galaxy/folder-pages.js';
import type { Emit } from '../observe/events.js';
import type { Details } from './datasets.js';
import { TERMINAL_DATASET, TERMINAL_JOB, matchDatasets } from './datasets.js';
import type { Files, ReadyFile } from './files.js';
import type { JobLooks } from './job-looks.js';
import type { Leftovers } from './leftovers.js';
import type { JobBreaker } from './breaker.js';
import { alignedDelay } from './grid.js';
import type { Backoff } from '../retry.js';
import { classify } from './retry.js';
import { isGalaxyDown } from '../galaxy/errors.js';
import { StoppedError, backoffMs, retry } from '../retry.js';
import type { Route } from './route.js';
import type { Target } from './targets.js';
import type { StoredHashes, StoredVerdict } from './stored-hashes.js';

/**
 * confirm: wait for the job, then for each file's own dataset in the folder, and record each
 * file ok or failed. A multi-file job that failed as a whole is handed back to be split.
 */

/**
 * `interrupted`: the job ended in error with no message after Galaxy was seen down while it ran
 * (a restart kills the local runner's jobs): not the files' fault, the request goes again whole.
 */
export type Confirmed = { kind: 'done' } | { kind: 'stopped' } | { kind: 'split'; reason: string; jobId: string } | { kind: 'interrupted'; reason: string; jobId: string };

/**
 * The looks at a job (issue 29): a job of many files cannot end at once, so its first look waits
 * FIRST_LOOK_MS_PER_FILE for each file beyond FIRST_LOOK_FREE_FILES (75 files: the poll's 250 ms; 1,000: 9.5 s): a job of
 * 1,000 small files ran 22-65 s here (bench/RESULTS.md). Then the pauses grow by the poll's factor up to its cap (7.5 s),
 * until LOOKS_AT_CAP_PER_FILE looks per file of the job, the first included (8 for 1,000 files, 80 for 10,000), then again
 * up to a fifth of its run, at most a minute: a job whose run its files explain is found at most 7.5 s after it ended (a
 * little more on the grid, grid.ts; a fifth of a 2,500-file job's 157 s run was 31 s), one stuck far longer a few looks per doubling.
 */
export const LATE_SHARE = 0.2;
export const LONGEST_PAUSE_MS = 60_000;
export const FIRST_LOOK_MS_PER_FILE = 10;
export const FIRST_LOOK_FREE_FILES = 50;
export const LOOKS_AT_CAP_PER_FILE = 0.008;

export function pollFor(poll: Backoff, jobFiles: number): Backoff {
  return { ...poll, firstMs: Math.max(poll.firstMs, (jobFiles - FIRST_LOOK_FREE_FILES) * FIRST_LOOK_MS_PER_FILE) };
}

/** The pause before look `n + 1` at a job of `jobFiles` files that has run `elapsedMs`; past the looks its files explain, growing again. */
export function lookPause(poll: Backoff, n: number, elapsedMs: number, jobFiles = 1): number {
  const over = n - Math.floor(jobFiles * LOOKS_AT_CAP_PER_FILE);
  const late = over < 0 ? 0 : Math.min(LONGEST_PAUSE_MS, elapsedMs * LATE_SHARE, poll.capMs * (poll.factor ?? 2) ** (over + 1));
  return backoffMs(n, { ...poll, capMs: Math.max(poll.capMs, late) });
}

/** What Galaxy says of a fetch item whose file does not match its hashes (galaxy/util/hash_util.py, verify_hash). */
const CHANGED_AFTER_SETTLE = /Failed to validate upload with \[([^\]]*)\] - expected \[([^\]]*)\] got \[([^\]]*)\]/;

export interface ConfirmDeps {
  client: Pick<GalaxyClient, 'folderContents' | 'recentDatasets'>;
  /** Where the job looks go: shared with the other batches in flight. */
  jobs: Pick<JobLooks, 'look'>;
  files: Pick<Files, 'ok' | 'failed' | 'datasetKnown' | 'resettled'>;
  details: Pick<Details, 'info' | 'stderr' | 'finish' | 'describe'>;
  gate: { wait(): Promise<void>; block(message: string): void };
  isClaimed: (datasetId: string) => boolean;
  clock: Pick<Clock, 'now' | 'sleep'>;
  signal: AbortSignal;
  emit: Emit;
  jobTimeoutMs: number;
  /**
   * When the job is looked at: after `firstMs`, then `factor` times later each time, up to
   * `capMs`, each pause stretched onto the looks' shared grid (grid.ts, alignedDelay).
   */
  poll: Backoff;
  /** After a file's dataset is ok (after_upload). */
  afterOk: (file: ReadyFile) => Promise<void>;
  /** A file Galaxy found changed since its checksum was taken (it settles again: admission looks at it). */
  changed: (relPath: string) => void;
  /** The name Galaxy gives a file's dataset (submit.ts, the Submitter's). */
  datasetName: (file: ReadyFile, route: Route) => string;
  /** What a failed job or dataset left in the folder, deleted (leftovers.ts). */
  leftovers: Pick<Leftovers, 'ofFailedJob' | 'delete'>;
  /** Told how each job ended: jobs that keep failing pause uploads (breaker.ts). */
  breaker: Pick<JobBreaker, 'ended'>;
  /**
   * method = paths: whose job verifies nothing, so each ok dataset's hash that Galaxy stores after
   * the job is compared with its file's checksum (stored-hashes.ts); absent for fetch, whose job verifies.
   */
  stored?: Pick<StoredHashes, 'verifyAll'>;
}

/** A look found the job or a dataset still going. */
class NotYet extends Error {}

export class Confirmer {
  readonly #d: ConfirmDeps;

  constructor(deps: ConfirmDeps) {
    this.#d = deps;
  }

  /**
   * `jobId` null: the legacy paths upload, whose datasets (`o.known`) exist already. `o.justSent`:
   * the request went out a moment ago, so the first look waits the poll's first pause (a job is
   * never done at once; the look would be a request for nothing). `o.historyId`: the upload
   * history the job runs in, so that its looks can share a listing with other jobs of it.
   * `o.shared`: the job holds other folders' files too, so a job that failed as a whole is handed
   * back to be split even for one file here (the bad file may be another folder's).
   * `o.jobFiles`: the files of the whole job (all its folders'), which size the looks (pollFor).
   */
  async confirm(
    jobId: string | null, files: ReadyFile[], route: Route, target: Target, attempt: number,
    o: { known?: ReadonlyMap<string, string>; justSent?: boolean; historyId?: string | null; shared?: boolean; jobFiles?: number } = {},
  ): Promise<Confirmed> {
    const { clock } = this.#d;
    const poll = pollFor(this.#d.poll, o.jobFiles ?? files.length);
    const known = o.known;
    const started = clock.now();
    const deadline = started + this.#d.jobTimeoutMs;
    if (o.justSent === true && !(await clock.sleep(alignedDelay(clock.now(), poll.firstMs), this.#d.signal))) return { kind: 'stopped' };
    let job: { state: string; create_time?: unknown } | null = jobId === null ? { state: 'ok' } : null;
    // Galaxy cannot have updated a job just sent before it was sent (give or take the clocks); once looked at, its own create_time says.
    const since = (): number | null => (job !== null ? galaxyTime(job.create_time) : o.justSent === true ? started - CLOCK_SLACK_MS : null);
    let items: FolderItem[] = [];
    const matched = new Map<string, FolderItem>();
    /** A look found Galaxy down (not answering, or a proxy's 5xx in its place) while the job ran. */
    const galaxy: { down: string | null } = { down: null };
    const look = async (): Promise<void> => {
      if (jobId !== null && (job === null || !TERMINAL_JOB.has(job.state))) job = await this.#d.jobs.look({ jobId, historyId: o.historyId ?? null, sinceMs: since() });
      if (job === null || !TERMINAL_JOB.has(job.state)) throw new NotYet();
      if (job.state !== 'ok') return;
      items = await this.#datasets(target, files, route, known, galaxyTime(job.create_time));
      for (const [p, id] of known ?? []) {
        const item = items.find((i) => i.id === id);
        if (item) matched.set(p, item);
      }
      matchDatasets(files, items, matched, this.#d.isClaimed, (f) => this.#d.datasetName(f, route));
      if ([...matched.values()].some((i) => !TERMINAL_DATASET.has(String(i.state)))) throw new NotYet();
    };
    try {
      await retry(look, {
        clock,
        signal: this.#d.signal,
        before: () => this.#d.gate.wait(),
        onFailure: (err, n) => {
          if (!(err instanceof NotYet)) {
            if (job === null || !TERMINAL_JOB.has(job.state)) galaxy.down ??= isGalaxyDown(err) ? (err as Error).message : null;
            const verdict = classify(err);
            if (verdict.kind === 'blocked') this.#d.gate.block(verdict.message);
            else this.#d.emit({ type: 'job.check_failed', job_id: jobId, reason: verdict.message });
          }
          return clock.now() > deadline ? null : alignedDelay(clock.now(), lookPause(poll, n, clock.now() - started, o.jobFiles ?? files.length));
        },
      });
    } catch (err) {
      if (err instanceof StoppedError) return { kind: 'stopped' };
      // Past job_timeout_minutes: what is ok is recorded ok, the rest failed.
      const state = job?.state ?? 'unknown';
      for (const f of files) {
        if (matched.get(f.path)?.state === 'ok') continue;
        this.#d.files.failed(f, route, `Galaxy ${jobId === null ? 'dataset' : `job ${jobId}`} still ${state} after ${Math.round(this.#d.jobTimeoutMs / 60_000)} min ([upload] job_timeout_minutes); run galaxy-importd retry once Galaxy's job handlers work`, attempt);
      }
      await this.#ok(files, route, jobId, matched, attempt);
      return { kind: 'done' };
    }
    const ended = job?.state ?? 'unknown';
    if (ended !== 'ok' && jobId !== null) {
      // Its datasets, whatever their state (ok ones may be empty or cut short), are not these files':
      // deleted before the files go again, so the folder keeps one dataset per file.
      await this.#d.leftovers.ofFailedJob(jobId, galaxyTime(job?.create_time), files, route, target);
      const stderr = await this.#d.details.stderr(jobId);
      if (stderr === '' && galaxy.down !== null) {
        // Not counted by the breaker: a restart says nothing of Galaxy's disks or job handlers.
        return { kind: 'interrupted', jobId, reason: `Galaxy job ${jobId} ended ${ended} with no message after Galaxy was down while it ran (${galaxy.down}): a restart kills the jobs it was running, so the files go again` };
      }
      const reason = `Galaxy job ${jobId} ended ${ended}${stderr || ` with no message: see Galaxy's log for job ${jobId} (its job handler's), and the free space of Galaxy's file_path, new_file_path and job_working_directory (galaxy-importd check shows file_path's where it can read galaxy.yml)`}`;
      if (files.length > 1 || o.shared === true) {
        this.#d.breaker.ended(jobId, false, reason);
        return { kind: 'split', reason, jobId };
      }
      for (const f of files) this.#d.files.failed(f, route, reason, attempt);
      this.#d.breaker.ended(jobId, false, reason, files, route);
      return { kind: 'done' };
    }
    if (jobId !== null) this.#d.breaker.ended(jobId, true, '');
    await this.#ok(files, route, jobId, matched, attempt);
    await this.#notOk(files, route, target, jobId, attempt, items, matched);
    return { kind: 'done' };
  }

  /**
   * The folder's datasets that can be these files': those updated since shortly before the job
   * was created, newest first, until each file has a dataset of its name and size (one page,
   * usually, however large the folder). A file still without a dataset of its name makes one
   * look at the whole folder before it is called failed: a job handler's clock behind the web
   * server's by more than CLOCK_SLACK_MS would otherwise hide its dataset.
   */
  async #datasets(target: Target, files: readonly ReadyFile[], route: Route, known: ReadonlyMap<string, string> | undefined, jobCreated: number): Promise<FolderItem[]> {
    const nameOf = (f: ReadyFile): string => this.#d.datasetName(f, route);
    const wanted = files.map((f) => `${nameOf(f)}\0${f.size}`);
    const knownIds = [...(known?.values() ?? [])];
    const recent = await this.#d.client.recentDatasets(target.folderId, {
      sinceMs: Number.isNaN(jobCreated) ? null : jobCreated - CLOCK_SLACK_MS,
      limit: Math.min(500, 2 * files.length + 20),
      enough: (seen) => {
        const have = new Set(seen.map((i) => `${i.name}\0${String(i.raw_size)}`));
        const ids = new Set(seen.map((i) => i.id));
        return wanted.every((w) => have.has(w)) && knownIds.every((id) => ids.has(id));
      },
    });
    // Oldest first, as in the whole listing: matchDatasets takes the last of several candidates.
    recent.reverse();
    const named = new Set(recent.map((i) => i.name));
    if (files.every((f) => named.has(nameOf(f)))) return recent;
    return await this.#d.client.folderContents(target.folderId);
  }

  async #ok(files: readonly ReadyFile[], route: Route, jobId: string | null, matched: ReadonlyMap<string, FolderItem>, attempt: number): Promise<void> {
    // Access and tags first: a dataset is restricted as soon as its job ended, whatever its hash (method = paths) shows later.
    const unrestricted = await this.#d.details.finish(files, route, matched);
    const stored = this.#d.stored ? await this.#d.stored.verifyAll(files.filter((f) => !unrestricted.has(f.path)), route, matched) : new Map<string, StoredVerdict>();
    for (const f of files) {
      const item = matched.get(f.path);
      if (item?.state !== 'ok') continue;
      const v = stored.get(f.path);
      // Stopping: the file stays as the ledger has it (submitted); the next start confirms it.
      if (v?.kind === 'stopped') continue;
      if (v?.kind === 'mismatch') {
        // Never ok with other bytes: the dataset is deleted. A file that changed goes again once
        // stable; one that did not was converted by Galaxy, and would end the same way again.
        await this.#d.leftovers.delete([item], route, jobId);
        const what = `the ${v.hashFunction} hash Galaxy computed of dataset ${item.id} after its job is ${v.got}, the file's checksum ${v.expected}`;
        this.#mismatch(f, v);
        if (v.file !== 'unchanged') {
          this.#changed(f, what);
          continue;
        }
        this.#d.files.failed(f, route, `Galaxy stored other bytes than the file's, which has not changed since it settled: ${what}. The legacy upload (method = paths) converts some files (it decompresses a compressed file of an uncompressed type, sorts an unsorted BAM: tools/data_source/upload.py); the dataset was deleted. Use method = fetch, which imports the bytes as they are, then galaxy-importd retry`, attempt);
        continue;
      }
      const why = unrestricted.get(f.path);
      if (why !== undefined) {
        if (why !== null) this.#d.files.failed(f, route, why, attempt);
        continue;
      }
      // A lab sees in Galaxy which checksum its dataset was found to have (fetch: the info sent with the item).
      if (v?.kind === 'verified') await this.#d.details.describe(f.path, item.id, v.info);
      this.#d.files.ok(f, route, item.id, { jobId, ...(v === undefined ? {} : { verified: v.kind === 'verified' }) });
      void this.#d.afterOk(f);
    }
  }

  /** Galaxy's bytes differ from the checksum sent or taken (its job's check, or its stored hash). */
  #mismatch(f: ReadyFile, m: { hashFunction: string; expected: string; got: string | null }): void {
    this.#d.emit({ type: 'checksum.mismatch', file: f.path, by: 'galaxy', hash_function: m.hashFunction, expected: m.expected, got: m.got });
  }

  /** The file changed after it settled: it settles again (its dataset was deleted). */
  #changed(f: ReadyFile, reason: string): void {
    this.#d.files.resettled(f, `changed after it settled: Galaxy read other bytes than those of its checksum (${reason})`);
    this.#d.changed(f.path);
  }


  /** Each file whose dataset did not end ok, failed with what Galaxy says of it. */
  async #notOk(
    files: readonly ReadyFile[], route: Route, target: Target, jobId: string | null, attempt: number,
    items: readonly FolderItem[], matched: ReadonlyMap<string, FolderItem>,
  ): Promise<void> {
    const taken = new Set([...matched.values()].map((i) => i.id));
    const unnamed = items.filter((i) => i.type === 'file' && i.state === 'error' && !this.#d.isClaimed(i.id) && !taken.has(i.id));
    for (const f of files) {
      const item = matched.get(f.path);
      if (item?.state === 'ok') continue;
      const name = JSON.stringify(this.#d.datasetName(f, route));
      let reason: string;
      if (item) {
        reason = `dataset ${item.id} ended ${String(item.state)}${await this.#d.details.info(target, item.id)}`;
        this.#d.files.datasetKnown(f.path, item.id);
        await this.#d.leftovers.delete([item], route, jobId);
      } else if (unnamed[0]) {
        // A failed fetch item leaves an "Unnamed dataset" in error instead of the named one (galaxy-api.md 9).
        const left = unnamed.shift() as FolderItem;
        reason = `Galaxy created no dataset named ${name}; job ${jobId} left an error dataset${await this.#d.details.info(target, left.id)}`;
        await this.#d.leftovers.delete([left], route, jobId);
      } else {
        reason = `Galaxy's job ${jobId} ended ok but no dataset named ${name} appeared in the folder`;
      }
      const mismatch = CHANGED_AFTER_SETTLE.exec(reason);
      if (mismatch) {
        // The job's check failed: its dataset is deleted (above); the file settles again and goes once stable.
        this.#mismatch(f, { hashFunction: mismatch[1] ?? '', expected: mismatch[2] ?? '', got: mismatch[3] ?? null });
        this.#changed(f, reason);
        continue;
      }
      this.#d.files.failed(f, route, reason, attempt);
    }
  }
}
