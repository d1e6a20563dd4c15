import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { hashLater, newDataset } from './datasets.js';
import { metadataFor, sniff } from './datatypes.js';
import { GalaxyError } from './errors.js';
import { newFolder } from './folders.js';
import type { DatasetRec, DatasetState, FolderRec, JobFault, JobItem, JobRec, JobState, User } from './records.js';
import type { Store } from './store.js';
import { now } from './store.js';

/**
 * Jobs (`new → queued → running → ok | error`) of the fetch API and the legacy uploads, their
 * views (GET /api/jobs) and their runner: timers move a job along, then it reads its files
 * into library datasets; job faults (JobFault) make it fail or hang.
 */

const TERMINAL_JOB: ReadonlySet<JobState> = new Set(['ok', 'error']);

/** Galaxy's hash function names, and Node's. */
const NODE_HASH: Readonly<Record<string, string>> = { 'MD5': 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' };

async function readForJob(file: string, verify: readonly { hashFunction: string; hex: string }[]): Promise<{ size: number; sha256: string; head: Buffer; mismatch: string | null }> {
  const hash = createHash('sha256');
  const others = verify.map((h) => ({ ...h, hash: createHash(NODE_HASH[h.hashFunction] ?? 'sha256') }));
  let size = 0;
  const chunks: Buffer[] = [];
  let headBytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (const o of others) o.hash.update(chunk);
    size += chunk.length;
    if (headBytes < 1 << 20) {
      chunks.push(chunk);
      headBytes += chunk.length;
    }
  }
  // data_fetch.py: each item hash verified against the file imported; a mismatch is the item's error.
  const bad = others.map((o) => ({ ...o, got: o.hash.digest('hex') })).find((o) => o.got !== o.hex);
  const mismatch = bad === undefined ? null : `Failed to validate upload with [${bad.hashFunction}] - expected [${bad.hex}] got [${bad.got}]`;
  return { size, sha256: hash.digest('hex'), head: Buffer.concat(chunks), mismatch };
}

export function newJob(s: Store, user: User, toolId: JobRec['toolId'], historyId: number | null): JobRec {
  const t = now();
  const job: JobRec = { id: s.next('job'), userId: user.id, toolId, historyId, state: 'new', items: [], stderr: '', createTime: t, updateTime: t, stuck: false };
  s.codec.encode(job.id);
  s.jobs.set(job.id, job);
  return job;
}

/** A job as GET /api/jobs lists it; `show`: as GET /api/jobs/{id} shows it (more keys). */
export function jobDict(s: Store, job: JobRec, full: boolean, show = false): Record<string, unknown> {
  const base: Record<string, unknown> = {
    model_class: 'Job',
    id: s.codec.encode(job.id),
    history_id: job.historyId === null ? null : s.codec.encode(job.historyId),
    tool_id: job.toolId,
    state: job.state,
    exit_code: TERMINAL_JOB.has(job.state) ? (job.state === 'ok' ? 0 : 1) : null,
    create_time: job.createTime,
    update_time: job.updateTime,
    galaxy_version: s.settings.version.split('.').slice(0, 2).join('.'),
    external_id: String(10_000 + job.id),
    handler: null,
    job_runner_name: null,
    command_line: job.toolId === 'upload1' ? 'python upload.py' : 'python data_fetch.py --request-version 1',
    user_email: null,
    // Galaxy 26.1 names the user in a job's own view only.
    user_id: show ? s.codec.encode(job.userId) : null,
  };
  if (show) {
    // A fetch job into a library lists no outputs, ever: the datasets are found in the folder.
    Object.assign(base, {
      command_version: null,
      params: { request_version: '"1"', request_json: '"{}"', file_count: '"0"', files: '[]', paramfile: 'null' },
      inputs: {},
      outputs: {},
      copied_from_job_id: null,
      output_collections: {},
    });
  }
  if (full) {
    Object.assign(base, { stdout: '', stderr: job.stderr, job_stdout: '', job_stderr: '', tool_stdout: '', tool_stderr: job.stderr, job_messages: [] });
  }
  return base;
}

/**
 * GET /api/jobs: the key's own jobs (every job for admins), most recently updated first,
 * filtered like Galaxy's index (managers/jobs.py index_query): `date_range_min` keeps jobs
 * whose update_time is at or after it (a naive UTC time, or one with a zone).
 */
export function listJobs(s: Store, user: User | null, q: URLSearchParams): unknown[] {
  if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
  const historyId = q.get('history_id');
  const history = historyId === null ? null : s.codec.decode(historyId, 'history id');
  const states = q.getAll('state').flatMap((v) => v.split(','));
  const tool = q.get('tool_id');
  const limit = q.has('limit') ? Number(q.get('limit')) : 500;
  const offset = q.has('offset') ? Number(q.get('offset')) : 0;
  const minText = q.get('date_range_min');
  const min = minText === null ? null : Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(minText) ? minText : `${minText}Z`);
  if (min !== null && Number.isNaN(min)) throw new GalaxyError(400, 400008, `Invalid datetime: ${minText}`);
  const updated = (j: JobRec): number => Date.parse(`${j.updateTime.slice(0, 23)}Z`);
  return [...s.jobs.values()]
    .filter((j) => (user.admin || j.userId === user.id) && (history === null || j.historyId === history))
    .filter((j) => (states.length === 0 || states.includes(j.state)) && (tool === null || j.toolId === tool))
    .filter((j) => min === null || updated(j) >= min)
    .sort((a, b) => updated(b) - updated(a) || b.id - a.id)
    .slice(offset, offset + limit)
    .map((j) => jobDict(s, j, false));
}

export function showJob(s: Store, encoded: string, full: boolean): unknown {
  const job = s.jobs.get(s.codec.decode(encoded, 'job id'));
  if (!job) throw new GalaxyError(404, 404001, 'Job not found.');
  return jobDict(s, job, full, true);
}

/** Every fault that matches one of the job's items (a job of several folders can meet several). */
function faultsFor(s: Store, job: JobRec): JobFault[] {
  const importDir = s.settings.libraryImportDir ?? '/';
  const hits: JobFault[] = [];
  for (const fault of s.jobFaults) {
    if (fault.times !== undefined && fault.times <= 0) continue;
    const re = new RegExp(fault.match);
    const hit = job.items.some((it) => re.test(path.relative(importDir, it.fullPath)) || (it.name !== null && re.test(it.name)));
    if (hit) {
      if (fault.times !== undefined) fault.times--;
      hits.push(fault);
    }
  }
  return hits;
}

function later(s: Store, ms: number, fn: () => void): void {
  if (s.closed) return;
  const t = setTimeout(() => {
    s.timers.delete(t);
    fn();
  }, ms);
  s.timers.add(t);
}

export function schedule(s: Store, job: JobRec): void {
  const faults = job.state === 'new' ? faultsFor(s, job) : [];
  if (faults.some((f) => f.outcome === 'stuck')) job.stuck = true;
  later(s, 0, () => {
    setJob(s, job, 'queued');
    if (job.stuck) return;
    later(s, s.settings.jobQueuedMs, () => {
      if (TERMINAL_JOB.has(job.state)) return; // killed meanwhile (killUnfinishedJobs)
      setJob(s, job, 'running');
      setDatasets(s, job, 'running');
      later(s, s.settings.jobRunMs, () => {
        if (TERMINAL_JOB.has(job.state)) return;
        void runJob(s, job, faults);
      });
    });
  });
}

/** Restart the timers of unfinished jobs, after a restore. */
export function resumeJobs(s: Store): void {
  for (const job of s.jobs.values()) {
    if (TERMINAL_JOB.has(job.state) || job.stuck) continue;
    job.state = 'new';
    schedule(s, job);
  }
}

/**
 * What a real Galaxy's local job runner does at start-up to the jobs it was running (its
 * recover(), galaxy/jobs/runners/local.py): each unfinished job, stuck ones included, ends
 * `error` with no stderr (the reason, "This job was killed when Galaxy was restarted", is only in
 * the job's info, which the API shows in the admin job list alone), its datasets in error.
 */
export function killUnfinishedJobs(s: Store): number {
  let killed = 0;
  for (const job of s.jobs.values()) {
    if (TERMINAL_JOB.has(job.state)) continue;
    job.stuck = false;
    job.stderr = '';
    setDatasets(s, job, 'error');
    setJob(s, job, 'error');
    killed++;
  }
  return killed;
}

/** Stop the runner: no timer fires after this, and a job being read stops at its next item. */
export function stopJobs(s: Store): void {
  s.closed = true;
  for (const t of s.timers) clearTimeout(t);
  s.timers.clear();
}

function setJob(s: Store, job: JobRec, state: JobState): void {
  job.state = state;
  job.updateTime = now();
  s.onChange();
}

function setDatasets(s: Store, job: JobRec, state: DatasetState): void {
  for (const it of job.items) {
    const d = it.datasetId === null ? undefined : s.datasets.get(it.datasetId);
    if (d) {
      d.state = state;
      d.updateTime = now();
    }
  }
}

async function runJob(s: Store, job: JobRec, faults: readonly JobFault[]): Promise<void> {
  const fault = faults.find((f) => f.outcome === 'job-error');
  if (fault) {
    job.stderr = fault.message ?? 'Job failed: the emulator was told to fail it.';
    for (const it of job.items) {
      const d = it.datasetId === null ? undefined : s.datasets.get(it.datasetId);
      if (d) {
        d.state = 'error';
        d.info = job.stderr;
      }
    }
    setJob(s, job, 'error');
    return;
  }
  const user = s.users.get(job.userId);
  if (faults.some((f) => f.outcome === 'disk-full')) {
    job.items.forEach((it, i) => {
      const folder = s.folders.get(it.folderId);
      if (!folder || it.kind === 'directory') return;
      let size = 0;
      try {
        size = i === 0 ? 0 : Math.floor(statSync(it.fullPath).size / 3);
      } catch {
        // gone: an empty dataset all the same
      }
      const d = itemDataset(s, it, folder, it.name ?? path.basename(it.fullPath), user, job.id, 'ok');
      Object.assign(d, { ext: 'txt', fileSize: size, updateTime: now() });
    });
    job.stderr = '';
    setJob(s, job, 'error');
    return;
  }
  for (const it of job.items) {
    if (s.closed || job.state !== 'running') return;
    const rel = path.relative(s.settings.libraryImportDir ?? '/', it.fullPath);
    const hit = faults.find((f) => f.outcome === 'dataset-error' && new RegExp(f.match).test(rel));
    const forced = hit ? (hit.message ?? 'The emulator was told to fail this dataset.') : null;
    if (it.kind === 'directory') await runDirectory(s, job, it, user);
    else await runFile(s, job, it, user, forced);
  }
  if (s.closed || job.state !== 'running') return;
  setJob(s, job, 'ok');
}

async function runFile(s: Store, job: JobRec, it: JobItem, user: User | undefined, forcedError: string | null): Promise<void> {
  const folder = s.folders.get(it.folderId);
  if (!folder) return;
  let d = it.datasetId === null ? undefined : s.datasets.get(it.datasetId);
  const fail = (message: string): void => {
    // A failed fetch item leaves the job ok and creates an "Unnamed dataset" in error (galaxy-api.md 9).
    d ??= itemDataset(s, it, folder, 'Unnamed dataset', user, job.id, 'error');
    d.state = 'error';
    d.info = message;
    d.updateTime = now();
  };
  if (forcedError !== null) return fail(forcedError);
  let st;
  try {
    st = await fsp.stat(it.fullPath);
  } catch (err) {
    return fail(`Failed to fetch ${it.fullPath}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) return fail(`${it.fullPath} is a directory; use items_from: directory to import its contents.`);
  let read;
  try {
    read = await readForJob(it.fullPath, it.hashes ?? []);
  } catch (err) {
    return fail(`Failed to read ${it.fullPath}: ${(err as Error).message}`);
  }
  const name = it.name ?? path.basename(it.fullPath);
  if (read.mismatch !== null) {
    // The dataset keeps the item's name, in error with the message as its info (discover.py, DiscoveredFileError).
    d ??= itemDataset(s, it, folder, name, user, job.id, 'error');
    storeHashes(s, d, it);
    return fail(read.mismatch);
  }
  d ??= itemDataset(s, it, folder, name, user, job.id, 'running');
  storeHashes(s, d, it);
  const ext = it.ext === 'auto' ? sniff(name, read.head) : it.ext;
  const meta = metadataFor(ext, read.head, it.dbkey);
  Object.assign(d, {
    state: 'ok',
    ext,
    dbkey: it.dbkey,
    fileSize: read.size,
    sha256: read.sha256,
    blurb: meta.blurb,
    info: it.info || meta.info,
    peek: meta.peek,
    metadata: meta.fields,
    updateTime: now(),
  } satisfies Partial<DatasetRec>);
  // With Celery, Galaxy hashes an upload's dataset after its job (calculate_dataset_hash: upload,
  // hash_function: sha256), unless the fetch item's hashes were stored (galaxy/jobs/__init__.py).
  if (!d.hashes?.length) hashLater(s, d, 'SHA-256');
}

/** The item's hashes as the dataset's DatasetHash rows: Galaxy keeps them whether they matched or not (docs/galaxy-notes.md, "Checksums"). */
function storeHashes(s: Store, d: DatasetRec, it: JobItem): void {
  if (!it.hashes?.length) return;
  d.hashes = it.hashes.map((h) => ({ id: s.next('dataset_hash'), hashFunction: h.hashFunction, hex: h.hex }));
}

async function runDirectory(s: Store, job: JobRec, it: JobItem, user: User | undefined): Promise<void> {
  const walk = async (dir: string, folderId: number): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        const parent = s.folders.get(folderId);
        if (!parent) continue;
        const sub = newFolder(s, parent.libraryId, folderId, e.name, '');
        await walk(full, sub.id);
      } else {
        await runFile(s, job, { ...it, kind: 'file', folderId, fullPath: full, name: e.name, datasetId: null }, user, null);
      }
    }
  };
  try {
    await walk(it.fullPath, it.folderId);
  } catch (err) {
    const folder = s.folders.get(it.folderId);
    if (folder) {
      const d = newDataset(s, folder, 'Unnamed dataset', it.fullPath, false, user, job.id, 'error');
      d.info = `Failed to list ${it.fullPath}: ${(err as Error).message}`;
    }
  }
}

/**
 * The dataset a job item creates, remembered on the item: a job resumed after a restart
 * finishes the same dataset instead of making a second one (Galaxy's job handlers resume a
 * job; they do not import its files twice).
 */
function itemDataset(s: Store, it: JobItem, folder: FolderRec, name: string, user: User | undefined, jobId: number, state: DatasetState): DatasetRec {
  const d = newDataset(s, folder, name, it.fullPath, it.link, user, jobId, state);
  it.datasetId = d.id;
  return d;
}
