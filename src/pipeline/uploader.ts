import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import { legacyDatasetName } from '../galaxy/names.js';
import type { FileRecord, Ledger } from '../ledger/ledger.js';
import type { Gate } from './gate.js';
import type { HistoryPool } from './histories.js';
import { isHistoryGone } from './histories.js';
import { backoffMs, classify } from './retry.js';
import type { Verdict } from './retry.js';
import type { Route } from './route.js';
import { folderText, routeKey } from './route.js';
import type { Target, Targets } from './targets.js';

/**
 * queue → submit → confirm → record. Ready files of one folder are batched
 * into one fetch request (one Galaxy job); each request is recorded in the
 * ledger before and after it is sent; the job and then each dataset's own
 * state are confirmed; failures are retried, split or recorded per file.
 */

export interface ReadyFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** When the file became ready (for the ready → ok latency). */
  readyAt: number;
}

export interface UploaderOptions {
  /** fetch: POST /api/tools/fetch with server_dir items; paths: the legacy upload_paths of absolute paths. */
  method: 'fetch' | 'paths';
  /** The import directory as Galaxy sees it (for method = paths). */
  importDir: string;
  batchSize: number;
  maxAttempts: number;
  backoffMaxMs: number;
  jobTimeoutMs: number;
  /** How long ready files wait for more of their folder before a batch is sent. */
  lingerMs: number;
  pollMinMs: number;
  pollMaxMs: number;
  /** When the ledger was started empty: look for each file in Galaxy before uploading it. */
  rebuild: boolean;
}

export interface UploaderDeps {
  client: GalaxyClient;
  ledger: Ledger;
  targets: Targets;
  histories: HistoryPool;
  gate: Gate;
  log: Logger;
  options: UploaderOptions;
  now?: () => number;
  random?: () => number;
  /** Runs after a file's dataset is ok (after_upload, unwatching). */
  afterOk?: (file: ReadyFile) => Promise<void>;
}

interface Batch {
  route: Route;
  key: string;
  files: ReadyFile[];
  timer: NodeJS.Timeout | null;
}

const TERMINAL_JOB = new Set(['ok', 'error', 'deleted', 'deleting', 'failed', 'stopped', 'skipped']);
const TERMINAL_DATASET = new Set(['ok', 'empty', 'error', 'discarded', 'failed_metadata', 'deferred']);

export class Uploader {
  readonly #d: UploaderDeps;
  readonly #o: UploaderOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #batches = new Map<string, Batch>();
  /** Upload requests on their way, by folder (route key). */
  readonly #sending = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  /** Paths queued or in flight, so a file is never in two batches. */
  readonly #active = new Set<string>();

  constructor(deps: UploaderDeps) {
    // Every waiting batch listens on this signal; hundreds may wait at once.
    setMaxListeners(0, this.#abort.signal);
    this.#d = deps;
    this.#o = deps.options;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /** Files queued or in flight. */
  get pending(): number {
    return this.#active.size;
  }

  has(relPath: string): boolean {
    return this.#active.has(relPath);
  }

  /** A ready file: record it as queued and put it in its folder's batch. */
  add(file: ReadyFile, route: Route): void {
    if (this.#abort.signal.aborted || this.#active.has(file.path)) return;
    this.#active.add(file.path);
    const { ledger } = this.#d;
    const prev = ledger.get(file.path);
    const fingerprintSame = prev !== undefined && prev.size === file.size && prev.mtimeMs === file.mtimeMs;
    ledger.put({
      path: file.path,
      size: file.size,
      mtimeMs: file.mtimeMs,
      state: 'queued',
      attempts: fingerprintSame ? prev.attempts : 0,
      lastError: fingerprintSame ? prev.lastError : null,
      libraryId: prev?.libraryId ?? null,
      folderId: prev?.folderId ?? null,
      datasetId: null,
      jobId: null,
      historyId: null,
      submittedAt: fingerprintSame ? prev.submittedAt : null,
      updatedAt: this.#now(),
    });
    this.#d.log.info({ event: 'upload.queued', file: file.path, library: route.library, folder: folderText(route), size: file.size }, 'upload queued');
    const key = routeKey(route);
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = { route, key, files: [], timer: null };
      this.#batches.set(key, batch);
    }
    batch.files.push(file);
    if (batch.files.length >= this.#o.batchSize) this.#flush(batch);
    // Natural batching: with no request of this folder on its way, send at the next turn (files
    // ready in the same turn go together); otherwise gather until that request is answered,
    // the batch is full, or lingerMs has passed.
    else batch.timer ??= setTimeout(() => this.#flush(batch), (this.#sending.get(key) ?? 0) === 0 ? 0 : this.#o.lingerMs);
  }

  /** A request of this folder is on its way (+1) or answered (-1); the answer sends what gathered meanwhile. */
  #inFlight(key: string, delta: 1 | -1): void {
    const n = (this.#sending.get(key) ?? 0) + delta;
    if (n > 0) {
      this.#sending.set(key, n);
      return;
    }
    this.#sending.delete(key);
    const waiting = this.#batches.get(key);
    if (waiting && waiting.files.length > 0) this.#flush(waiting);
  }

  /** After a restart: files the ledger says were submitted are confirmed, or looked for, not sent blindly again. */
  resume(records: FileRecord[], routeOf: (relPath: string) => Route): void {
    const groups = new Map<string, FileRecord[]>();
    for (const r of records) {
      const key = r.jobId !== null ? `job:${r.jobId}` : `history:${r.historyId ?? ''}:${r.submittedAt ?? ''}`;
      const g = groups.get(key) ?? [];
      g.push(r);
      groups.set(key, g);
    }
    for (const group of groups.values()) {
      const first = group[0];
      if (!first) continue;
      const files = group.map((r) => ({ path: r.path, size: r.size, mtimeMs: r.mtimeMs, readyAt: this.#now() }));
      for (const f of files) this.#active.add(f.path);
      // Only a request whose job is unknown is looked for in its history.
      if (first.historyId !== null && first.jobId === null) this.#d.histories.reserve(first.historyId);
      this.#track(this.#recover(files, routeOf(first.path), first));
    }
  }

  #flush(batch: Batch): void {
    if (batch.timer) clearTimeout(batch.timer);
    batch.timer = null;
    const files = batch.files.splice(0, this.#o.batchSize);
    if (batch.files.length === 0) this.#batches.delete(batch.key);
    else batch.timer = setTimeout(() => this.#flush(batch), 0);
    if (files.length > 0) this.#track(this.#process(files, batch.route));
  }

  #track(task: Promise<void>): void {
    const t = task.catch((err: unknown) => {
      this.#d.log.error({ event: 'daemon.error', err }, 'unexpected error in the upload pipeline');
    }).finally(() => {
      this.#tasks.delete(t);
    });
    this.#tasks.add(t);
  }

  /**
   * Stop: batches not yet sent stay `queued` in the ledger; requests in flight
   * are awaited up to `deadlineMs`, then abandoned: their files stay
   * `submitted`, which the next start confirms or looks for in Galaxy.
   */
  async stop(deadlineMs: number): Promise<void> {
    for (const batch of this.#batches.values()) if (batch.timer) clearTimeout(batch.timer);
    this.#batches.clear();
    this.#abort.abort();
    const all = Promise.allSettled([...this.#tasks]);
    await Promise.race([all, sleep(deadlineMs, undefined, { ref: false })]);
  }

  get #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  async #wait(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  #done(files: ReadyFile[]): void {
    for (const f of files) this.#active.delete(f.path);
  }

  #fail(file: ReadyFile, route: Route, reason: string, attempt: number): void {
    this.#d.ledger.update(file.path, { state: 'failed', lastError: reason });
    this.#d.log.error({ event: 'upload.failed', file: file.path, library: route.library, folder: folderText(route), attempt, reason }, 'upload failed');
    this.#done([file]);
  }

  /** A failed call: wait as the verdict says. Returns false when the pipeline is stopping. */
  async #afterFailure(verdict: Verdict, files: ReadyFile[], route: Route, attempt: number): Promise<boolean> {
    if (verdict.kind === 'blocked') {
      this.#d.gate.block(verdict.message);
      await this.#d.gate.wait();
      return !this.#stopped;
    }
    const delay = backoffMs(attempt, this.#o.backoffMaxMs, verdict.kind === 'transient' ? verdict.retryAfterMs : null, this.#random);
    for (const f of files) {
      this.#d.ledger.update(f.path, { state: 'retrying', lastError: verdict.message });
      this.#d.log.warn({ event: 'upload.retry', file: f.path, library: route.library, folder: folderText(route), attempt, reason: verdict.message, delay_ms: Math.round(delay) }, 'upload will be retried');
    }
    return this.#wait(delay);
  }

  /** Library and folder ids, retried while the failure is transient. Null when stopping or failed for good. */
  async #target(files: ReadyFile[], route: Route): Promise<Target | null> {
    for (let attempt = 1; ; attempt++) {
      await this.#d.gate.wait();
      if (this.#stopped) return null;
      try {
        return await this.#d.targets.resolve(route);
      } catch (err) {
        const verdict = classify(err);
        if (verdict.kind === 'permanent' || (verdict.kind === 'transient' && attempt >= this.#o.maxAttempts)) {
          for (const f of files) this.#fail(f, route, `cannot find or create library ${JSON.stringify(route.library)} folder ${folderText(route)}: ${verdict.message}`, attempt);
          return null;
        }
        if (!(await this.#afterFailure(verdict, [], route, attempt))) return null;
      }
    }
  }

  async #process(initial: ReadyFile[], route: Route): Promise<void> {
    let files = initial;
    /** Failed looks in Galaxy (the folder, a history) before sending: each waits longer. */
    let stalls = 0;
    for (;;) {
      if (this.#stopped || files.length === 0) return;
      const target = await this.#target(files, route);
      if (target === null) return;
      const { ledger } = this.#d;
      // Files sent before (a retry, a restart, `retry`) or a rebuilt ledger: Galaxy may hold them already.
      const recheck = files.filter((f) => this.#o.rebuild || (ledger.get(f.path)?.submittedAt ?? null) !== null);
      if (recheck.length > 0) {
        try {
          const adopted = await this.#adopt(recheck, target, route);
          files = files.filter((f) => !adopted.has(f.path));
        } catch (err) {
          if (!(await this.#afterFailure(classify(err), [], route, ++stalls))) return;
          continue;
        }
        if (files.length === 0) return;
      }
      const over = files.filter((f) => (ledger.get(f.path)?.attempts ?? 0) >= this.#o.maxAttempts);
      for (const f of over) this.#fail(f, route, `gave up after ${this.#o.maxAttempts} attempts: ${ledger.get(f.path)?.lastError ?? 'unknown error'}`, this.#o.maxAttempts);
      files = files.filter((f) => !over.includes(f));
      if (files.length === 0) return;

      let history: string;
      try {
        history = await this.#d.histories.acquire();
      } catch (err) {
        if (!(await this.#afterFailure(classify(err), [], route, ++stalls))) return;
        continue;
      }
      const submittedAt = this.#now();
      const attempt = Math.max(...files.map((f) => (ledger.get(f.path)?.attempts ?? 0) + 1));
      ledger.transaction(() => {
        for (const f of files) {
          const attempts = (ledger.get(f.path)?.attempts ?? 0) + 1;
          // upload_paths answers with the datasets at once: no job to look for by history after a crash.
          const historyId = this.#o.method === 'fetch' ? history : null;
          ledger.update(f.path, { state: 'submitted', attempts, libraryId: target.libraryId, folderId: target.folderId, historyId, submittedAt, jobId: null, datasetId: null });
        }
      });
      const shared = ledger.shared;
      if (shared) {
        // Several replicas: the rows naming this request are in the database before it is sent,
        // and only files this replica still holds go (another may have taken some over).
        try {
          await shared.commit(this.#abort.signal);
        } catch {
          this.#d.histories.release(history);
          return; // stopping: the rows say submitted; the next holder looks for the request in Galaxy
        }
        const lost = files.filter((f) => !shared.owns(f.path));
        if (lost.length > 0) {
          this.#done(lost);
          files = files.filter((f) => shared.owns(f.path));
          if (files.length === 0) {
            this.#d.histories.release(history);
            return;
          }
        }
      }
      for (const f of files) {
        this.#d.log.info({ event: 'upload.submitted', file: f.path, library: route.library, folder: folderText(route), attempt, size: f.size, history_id: this.#o.method === 'fetch' ? history : null }, 'upload submitted');
      }
      if (this.#o.method === 'paths') {
        this.#d.histories.release(history);
        const rest = await this.#submitPaths(files, route, target, attempt);
        if (rest === null) return;
        files = rest;
        continue;
      }
      let jobId: string | null = null;
      let failure: Verdict | null = null;
      const key = routeKey(route);
      this.#inFlight(key, 1);
      try {
        jobId = (await this.#d.client.fetchToFolder({
          historyId: history,
          folderId: target.folderId,
          items: files.map((f) => ({ serverDir: f.path, name: path.posix.basename(f.path), ext: route.fileType, dbkey: route.dbkey, linkDataOnly: route.link })),
        }).finally(() => this.#inFlight(key, -1))).jobId;
      } catch (err) {
        failure = classify(err);
        if (isHistoryGone(err)) {
          // Deleted or purged in Galaxy: a new history is made and the files are sent again
          // (the attempt counts, so this too ends after max_attempts).
          this.#d.histories.retire(history);
          this.#d.log.warn({ event: 'history.replaced', history_id: history, reason: failure.message }, 'the upload history was deleted or purged in Galaxy; a new one is made');
          failure = { kind: 'transient', uncertain: false, retryAfterMs: null, message: `upload history ${history} was deleted in Galaxy (${failure.message})` };
        }
        if (failure.kind === 'transient' && failure.uncertain) {
          try {
            jobId = await this.#acceptedJob(history);
          } catch (checkErr) {
            failure = classify(checkErr);
            // Still unknown whether Galaxy took it: keep the history reserved and look again after a pause.
            if (!(await this.#afterFailure(failure, files, route, attempt))) return;
            this.#track(this.#recover(files, route, { historyId: history, jobId: null }));
            return;
          }
        }
      }
      if (jobId !== null) {
        ledger.transaction(() => {
          ledger.rememberJob(history, jobId);
          for (const f of files) ledger.update(f.path, { jobId });
        });
        this.#d.histories.release(history);
        const rest = await this.#confirm(jobId, files, route, target, attempt);
        if (rest === null) return;
        files = rest;
        continue;
      }
      this.#unassign(files, history);
      if (failure === null) return;
      if (failure.kind === 'permanent') {
        if (files.length > 1) {
          await this.#split(files, route, failure.message);
          return;
        }
        for (const f of files) this.#fail(f, route, failure.message, attempt);
        return;
      }
      if (failure.kind === 'blocked') {
        // The key, not the files, is at fault: this attempt does not count.
        for (const f of files) ledger.update(f.path, { state: 'queued', attempts: Math.max(0, (ledger.get(f.path)?.attempts ?? 1) - 1) });
      }
      if (!(await this.#afterFailure(failure, files, route, attempt))) return;
    }
  }

  /**
   * method = paths: the legacy library contents upload of absolute paths. Galaxy
   * creates the datasets before it answers, so their ids come back at once and
   * a lost answer is found by the folder check of the next attempt.
   * Returns files to send again, or null when stopping.
   */
  async #submitPaths(files: ReadyFile[], route: Route, target: Target, attempt: number): Promise<ReadyFile[] | null> {
    let created;
    try {
      created = await this.#d.client.uploadPaths(target.libraryId, {
        folderId: target.folderId,
        paths: files.map((f) => path.join(this.#o.importDir, f.path)),
        fileType: route.fileType,
        dbkey: route.dbkey,
        linkDataOnly: route.link,
        tags: route.tags,
      });
    } catch (err) {
      const verdict = classify(err);
      if (verdict.kind === 'permanent') {
        if (files.length > 1) {
          await this.#split(files, route, verdict.message);
          return [];
        }
        for (const f of files) this.#fail(f, route, verdict.message, attempt);
        return [];
      }
      if (verdict.kind === 'blocked') {
        for (const f of files) this.#d.ledger.update(f.path, { state: 'queued', attempts: Math.max(0, (this.#d.ledger.get(f.path)?.attempts ?? 1) - 1) });
      }
      if (!(await this.#afterFailure(verdict, files, route, attempt))) return null;
      return files;
    }
    // Galaxy answers in the order of the paths sent.
    const known = new Map<string, string>();
    files.forEach((f, i) => {
      const item = created[i];
      if (item) {
        known.set(f.path, item.id);
        this.#d.ledger.update(f.path, { datasetId: item.id });
      }
    });
    return this.#confirm(null, files, route, target, attempt, known);
  }

  /** One bad file must not fail its neighbours: send the halves on their own. */
  /**
   * A request or job of several files failed as a whole: send each half on its own, down to
   * single files, whose failure is then final. The split does not count as an attempt for
   * its files: most of them failed only because another file of the batch did.
   */
  async #split(files: ReadyFile[], route: Route, reason: string, jobId: string | null = null): Promise<void> {
    const { ledger } = this.#d;
    ledger.transaction(() => {
      for (const f of files) ledger.update(f.path, { state: 'retrying', lastError: reason, attempts: Math.max(0, (ledger.get(f.path)?.attempts ?? 1) - 1) });
    });
    this.#d.log.warn({ event: 'upload.split', folder: folderText(route), library: route.library, files: files.length, job_id: jobId, reason }, 'batch failed; sending its halves separately');
    const half = Math.ceil(files.length / 2);
    await Promise.all([this.#process(files.slice(0, half), route), this.#process(files.slice(half), route)]);
  }

  /**
   * These files' request created no job in `history`: forget the history in their rows before
   * it goes back to the pool. Another request may use it next; were the daemon killed then, a
   * restart must not take that request's job for these files' (they are looked for by name
   * in their folder before being sent again, as after any failure).
   */
  #unassign(files: ReadyFile[], history: string): void {
    const { ledger } = this.#d;
    ledger.transaction(() => {
      for (const f of files) {
        if (ledger.get(f.path)?.historyId === history) ledger.update(f.path, { state: 'retrying', historyId: null });
      }
    });
    this.#d.histories.release(history);
  }

  /** After a lost answer: the job in this history that the ledger does not know, if Galaxy created one. */
  async #acceptedJob(history: string): Promise<string | null> {
    const known = this.#d.ledger.jobsOf(history);
    const jobs = await this.#d.client.listJobs({ historyId: history, toolId: '__DATA_FETCH__', limit: 50 });
    return jobs.find((j) => !known.has(j.id))?.id ?? null;
  }

  /** Restart recovery of a request that may or may not have reached Galaxy. */
  async #recover(files: ReadyFile[], route: Route, rec: Pick<FileRecord, 'historyId' | 'jobId'>): Promise<void> {
    let jobId = rec.jobId;
    for (let attempt = 1; jobId === null && rec.historyId !== null; attempt++) {
      await this.#d.gate.wait();
      if (this.#stopped) return;
      try {
        jobId = await this.#acceptedJob(rec.historyId);
        break;
      } catch (err) {
        if (!(await this.#afterFailure(classify(err), [], route, attempt))) return;
      }
    }
    if (jobId === null) {
      if (rec.historyId !== null) this.#unassign(files, rec.historyId);
      this.#d.log.info({ event: 'upload.recovered', files: files.map((f) => f.path), history_id: rec.historyId, reason: 'Galaxy has no job for the interrupted request; sending again' }, 'interrupted upload will be sent again');
      await this.#process(files, route);
      return;
    }
    if (rec.historyId !== null && rec.jobId === null) this.#d.histories.release(rec.historyId);
    this.#d.log.info({ event: 'upload.recovered', files: files.map((f) => f.path), history_id: rec.historyId, job_id: jobId, reason: 'Galaxy has the job of the interrupted request; confirming it' }, 'interrupted upload found in Galaxy');
    const found = jobId;
    const { ledger } = this.#d;
    if (rec.historyId !== null) ledger.rememberJob(rec.historyId, found);
    for (const f of files) ledger.update(f.path, { state: 'submitted', jobId: found });
    const target = await this.#target(files, route);
    if (target === null) return;
    const attempt = ledger.get(files[0]?.path ?? '')?.attempts ?? 1;
    const rest = await this.#confirm(found, files, route, target, attempt);
    if (rest !== null && rest.length > 0) await this.#process(rest, route);
  }

  /**
   * Datasets in the target folder that are these files already (same name
   * and size, ok, not claimed by another file): record them as ok instead of
   * uploading again.
   */
  async #adopt(files: ReadyFile[], target: Target, route: Route): Promise<Set<string>> {
    const items = await this.#d.client.folderContents(target.folderId);
    const claimed = this.#claims();
    const adopted = new Set<string>();
    const inProgress = new Map<string, string>();
    for (const f of files) {
      const base = path.posix.basename(f.path);
      const name = this.#o.method === 'paths' ? legacyDatasetName(base, route.link) : base;
      const match = items.find((i) => i.type === 'file' && i.name === name && i.raw_size === f.size && i.state === 'ok' && !claimed.has(i.id));
      if (!match) {
        // The legacy paths upload creates its datasets before answering: one still running is this file's lost upload.
        const running = this.#o.method === 'paths'
          ? items.find((i) => i.type === 'file' && i.name === name && !TERMINAL_DATASET.has(String(i.state)) && !claimed.has(i.id))
          : undefined;
        if (running) {
          claimed.add(running.id);
          inProgress.set(f.path, running.id);
        }
        continue;
      }
      claimed.add(match.id);
      adopted.add(f.path);
      await this.#tag([f], route, new Map([[f.path, match]]));
      this.#d.ledger.update(f.path, { state: 'ok', datasetId: match.id, libraryId: target.libraryId, folderId: target.folderId, lastError: null });
      this.#d.log.info({ event: 'upload.ok', file: f.path, library: route.library, folder: folderText(route), dataset_id: match.id, size: f.size, reason: 'already in Galaxy' }, 'file already in Galaxy');
      this.#done([f]);
      await this.#d.afterOk?.(f);
    }
    if (inProgress.size > 0) {
      const waiting = files.filter((f) => inProgress.has(f.path));
      for (const f of waiting) adopted.add(f.path);
      await this.#confirm(null, waiting, route, target, this.#d.ledger.get(waiting[0]?.path ?? '')?.attempts ?? 1, inProgress);
    }
    return adopted;
  }

  /**
   * Wait for the job, then for each file's own dataset. Returns the files to
   * send again (a failed multi-file job is split), or null when stopping.
   */
  async #confirm(jobId: string | null, files: ReadyFile[], route: Route, target: Target, attempt: number, known?: Map<string, string>): Promise<ReadyFile[] | null> {
    const { client, ledger, log } = this.#d;
    const started = this.#now();
    let delay = this.#o.pollMinMs;
    // The legacy paths upload has no job id to follow: its datasets exist already.
    let job: { state: string } | null = jobId === null ? { state: 'ok' } : null;
    let items: FolderItem[] = [];
    const deadline = started + this.#o.jobTimeoutMs;
    const matched = new Map<string, FolderItem>();
    for (;;) {
      if (this.#stopped) return null;
      await this.#d.gate.wait();
      try {
        if (jobId !== null && (job === null || !TERMINAL_JOB.has(job.state))) job = await client.showJob(jobId);
        if (job?.state === 'ok') {
          items = await client.folderContents(target.folderId);
          for (const [p, id] of known ?? []) {
            const item = items.find((i) => i.id === id);
            if (item) matched.set(p, item);
          }
          this.#match(files, items, target, matched);
          const unsettled = [...matched.values()].some((i) => !TERMINAL_DATASET.has(String(i.state)));
          if (!unsettled) break;
        } else if (job !== null && TERMINAL_JOB.has(job.state)) {
          break;
        }
      } catch (err) {
        const verdict = classify(err);
        if (verdict.kind === 'blocked') this.#d.gate.block(verdict.message);
        else log.warn({ event: 'upload.retry', job_id: jobId, reason: verdict.message }, 'checking the upload job failed; checking again');
      }
      if (this.#now() > deadline) {
        const state = job?.state ?? 'unknown';
        for (const f of files) {
          if (matched.get(f.path)?.state === 'ok') continue;
          this.#fail(f, route, `Galaxy ${jobId === null ? 'dataset' : `job ${jobId}`} still ${state} after ${Math.round(this.#o.jobTimeoutMs / 60_000)} min ([upload] job_timeout_minutes); run galaxy-importd retry once Galaxy's job handlers work`, attempt);
        }
        await this.#tag(files, route, matched);
        this.#recordOk(files, route, target, jobId, matched);
        return [];
      }
      if (!(await this.#wait(delay))) return null;
      delay = Math.min(this.#o.pollMaxMs, delay * 1.5);
    }
    if (job === null) return null;
    if (job.state !== 'ok' && jobId !== null) {
      let reason = `Galaxy job ${jobId} ended ${job.state}`;
      const full = await this.#detail(() => client.showJob(jobId, true));
      const stderr = (full?.stderr ?? full?.tool_stderr ?? '').trim();
      if (stderr) reason += `: ${stderr.slice(0, 500)}`;
      if (files.length > 1) {
        await this.#split(files, route, reason, jobId);
        return [];
      }
      for (const f of files) this.#fail(f, route, reason, attempt);
      return [];
    }
    await this.#tag(files, route, matched);
    this.#recordOk(files, route, target, jobId, matched);
    const unnamed = items.filter((i) => i.type === 'file' && i.state === 'error' && !ledger.isClaimed(i.id) && ![...matched.values()].includes(i));
    for (const f of files) {
      const item = matched.get(f.path);
      if (item?.state === 'ok') continue;
      let reason: string;
      if (item) {
        reason = `dataset ${item.id} ended ${String(item.state)}${await this.#info(target, item.id)}`;
        ledger.update(f.path, { datasetId: item.id });
      } else if (unnamed.length > 0) {
        // A failed fetch item leaves an "Unnamed dataset" in error instead of the named one (galaxy-api.md 9).
        const first = unnamed[0];
        reason = `Galaxy created no dataset named ${JSON.stringify(path.posix.basename(f.path))}; job ${jobId} left an error dataset${first ? await this.#info(target, first.id) : ''}`;
      } else {
        reason = `Galaxy's job ${jobId} ended ok but no dataset named ${JSON.stringify(path.posix.basename(f.path))} appeared in the folder`;
      }
      this.#fail(f, route, reason, attempt);
    }
    return [];
  }

  /**
   * [folder:NAME] tags: Galaxy's fetch API takes tags on library items but does not apply
   * them (docs/galaxy-notes.md), so they are set on each ok dataset that lacks them.
   */
  async #tag(files: ReadyFile[], route: Route, matched: Map<string, FolderItem>): Promise<void> {
    if (route.tags.length === 0) return;
    for (const f of files) {
      const item = matched.get(f.path);
      if (item?.state !== 'ok') continue;
      const have = Array.isArray(item.tags) ? item.tags.map(String) : [];
      if (route.tags.every((tag) => have.includes(tag))) continue;
      const done = await this.#detail(() => this.#d.client.updateLibraryDataset(item.id, { tags: route.tags }));
      if (done === null) {
        this.#d.log.warn({ event: 'upload.tags_failed', file: f.path, dataset_id: item.id, tags: route.tags }, 'could not set the dataset\'s tags; it is imported without them');
      }
    }
  }

  async #info(target: Target, datasetId: string): Promise<string> {
    const d = await this.#detail(() => this.#d.client.showLibraryContent(target.libraryId, datasetId));
    const info = typeof d?.misc_info === 'string' ? d.misc_info.trim() : '';
    return info ? `: ${info.slice(0, 500)}` : '';
  }

  /**
   * A detail for a failure's reason (a job's stderr, a dataset's info): asked up to three
   * times while Galaxy's answer is a transient failure. Null when it cannot be had; the
   * reason is then recorded without it.
   */
  async #detail<T>(ask: () => Promise<T>): Promise<T | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await ask();
      } catch (err) {
        if (attempt >= 3 || classify(err).kind !== 'transient' || !(await this.#wait(backoffMs(attempt, 2000, null, this.#random)))) return null;
      }
    }
  }

  /** Datasets claimed by files in the ledger, plus those claimed by this pass. */
  #claims(): { has(id: string): boolean; add(id: string): void } {
    const now = new Set<string>();
    return { has: (id) => now.has(id) || this.#d.ledger.isClaimed(id), add: (id) => void now.add(id) };
  }

  /** Pair each file with its dataset: same name, not claimed by another file; the same size first. */
  #match(files: ReadyFile[], items: FolderItem[], target: Target, matched: Map<string, FolderItem>): void {
    const claimed = this.#claims();
    for (const m of matched.values()) claimed.add(m.id);
    for (const f of files) {
      const prev = matched.get(f.path);
      if (prev) {
        const now = items.find((i) => i.id === prev.id);
        if (now) matched.set(f.path, now);
        continue;
      }
      const name = path.posix.basename(f.path);
      const candidates = items.filter((i) => i.type === 'file' && i.name === name && !claimed.has(i.id));
      const pick = candidates.find((i) => i.raw_size === f.size) ?? candidates[candidates.length - 1];
      if (pick) {
        matched.set(f.path, pick);
        claimed.add(pick.id);
      }
    }
  }

  #recordOk(files: ReadyFile[], route: Route, target: Target, jobId: string | null, matched: Map<string, FolderItem>): void {
    for (const f of files) {
      const item = matched.get(f.path);
      if (item?.state !== 'ok') continue;
      this.#d.ledger.update(f.path, { state: 'ok', datasetId: item.id, jobId, lastError: null });
      this.#d.log.info({
        event: 'upload.ok', file: f.path, library: route.library, folder: folderText(route), job_id: jobId, dataset_id: item.id, size: f.size,
        duration_ms: this.#now() - f.readyAt,
      }, 'upload ok');
      this.#done([f]);
      void this.#d.afterOk?.(f);
    }
  }
}
