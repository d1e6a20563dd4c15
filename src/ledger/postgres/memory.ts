import type pg from 'pg';
import type { Clock } from '../../clock.js';
import type { FileRecord, FileState } from '../ledger.js';
import { zeroCounts } from '../ledger.js';
import type { Row } from '../rows.js';
import { fromRow, ROW_COLUMNS } from '../rows.js';
import { relDirOf } from '../../paths.js';

/** Changes made and not yet written: taken by the writer, given back when the write failed. */
export interface Unwritten {
  paths: string[];
  jobs: [string, string][];
  meta: Map<string, string>;
}

/**
 * The shared ledger's rows in memory: the Ledger's reads stay synchronous and cheap, and
 * each change is marked for the writer (write-behind.ts) through `changed()`.
 */
export class MemoryRows {
  readonly #rows = new Map<string, FileRecord>();
  /** dataset id → path of the row that names it. */
  readonly #datasets = new Map<string, string>();
  readonly #jobs = new Map<string, Set<string>>();
  readonly #meta = new Map<string, string>();
  #dirty = new Set<string>();
  #dirtyJobs: [string, string][] = [];
  #dirtyMeta = new Map<string, string>();
  /** Stamps `updatedAt` on `update()`: the time a change is made at. */
  readonly #clock: Pick<Clock, 'now'>;

  constructor(clock: Pick<Clock, 'now'>) {
    this.#clock = clock;
  }

  /** A change was made (the store schedules its write). */
  protected changed(): void {
    // nothing to write in memory alone
  }

  /** Everything the database holds, replacing what memory had. */
  async load(pool: pg.Pool): Promise<void> {
    this.#rows.clear();
    this.#datasets.clear();
    this.#jobs.clear();
    this.#meta.clear();
    const files = await pool.query<Row>(`SELECT ${ROW_COLUMNS} FROM importd_files`);
    for (const r of files.rows) this.#set(fromRow(r));
    const jobs = await pool.query<{ job_id: string; history_id: string }>('SELECT job_id, history_id FROM importd_jobs');
    for (const j of jobs.rows) this.knowJob(j.history_id, j.job_id);
    const meta = await pool.query<{ key: string; value: string }>('SELECT key, value FROM importd_meta');
    for (const m of meta.rows) this.#meta.set(m.key, m.value);
  }

  /** A row as the database has it, unless this process changed it since (its change wins). */
  learn(r: FileRecord): void {
    if (!this.#dirty.has(r.path)) this.#set(r);
  }

  isDirty(p: string): boolean {
    return this.#dirty.has(p);
  }

  knowJob(historyId: string, jobId: string): void {
    let s = this.#jobs.get(historyId);
    if (!s) {
      s = new Set();
      this.#jobs.set(historyId, s);
    }
    s.add(jobId);
  }

  /** The changes to write now. */
  take(): Unwritten {
    const out = { paths: [...this.#dirty].sort(), jobs: this.#dirtyJobs, meta: this.#dirtyMeta };
    this.#dirty = new Set();
    this.#dirtyJobs = [];
    this.#dirtyMeta = new Map();
    return out;
  }

  /** A write failed: its changes are pending again (newer ones made meanwhile win). */
  giveBack(u: Unwritten): void {
    for (const p of u.paths) this.#dirty.add(p);
    this.#dirtyJobs = [...u.jobs, ...this.#dirtyJobs];
    for (const [k, v] of u.meta) if (!this.#dirtyMeta.has(k)) this.#dirtyMeta.set(k, v);
  }

  #set(r: FileRecord): void {
    const old = this.#rows.get(r.path);
    if (old?.datasetId && old.datasetId !== r.datasetId && this.#datasets.get(old.datasetId) === r.path) this.#datasets.delete(old.datasetId);
    if (r.datasetId) this.#datasets.set(r.datasetId, r.path);
    this.#rows.set(r.path, r);
  }

  get(p: string): FileRecord | undefined {
    return this.#rows.get(p);
  }

  fingerprint(p: string): Pick<FileRecord, 'state' | 'size' | 'mtimeMs'> | undefined {
    return this.#rows.get(p);
  }

  put(record: FileRecord): void {
    this.#set({ ...record });
    this.#dirty.add(record.path);
    this.changed();
  }

  update(p: string, fields: Partial<Omit<FileRecord, 'path'>>): void {
    const old = this.#rows.get(p);
    if (!old) return;
    this.#set({ ...old, ...fields, updatedAt: fields.updatedAt ?? this.#clock.now() });
    this.#dirty.add(p);
    this.changed();
  }

  /**
   * Changes made in one synchronous function are written in one database transaction: the
   * writer takes its snapshot between turns, never in the middle of `fn`.
   */
  transaction(fn: () => void): void {
    fn();
  }

  inState(...states: FileState[]): FileRecord[] {
    const want = new Set(states);
    return [...this.#rows.values()].filter((r) => want.has(r.state)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  firstInState(state: FileState, limit: number): FileRecord[] {
    const out: FileRecord[] = [];
    for (const r of this.#rows.values()) {
      if (out.length >= limit) break;
      if (r.state === state) out.push(r);
    }
    return out;
  }

  counts(): Record<FileState, number> {
    const out = zeroCounts();
    for (const r of this.#rows.values()) out[r.state]++;
    return out;
  }

  countsByDirectory(): { dir: string; state: FileState; count: number; verified: number }[] {
    const m = new Map<string, { dir: string; state: FileState; count: number; verified: number }>();
    for (const r of this.#rows.values()) {
      const dir = relDirOf(r.path);
      const k = `${dir}\u0000${r.state}`;
      const e = m.get(k);
      if (e) [e.count, e.verified] = [e.count + 1, e.verified + Number(r.verified)];
      else m.set(k, { dir, state: r.state, count: 1, verified: Number(r.verified) });
    }
    return [...m.values()].sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : a.state < b.state ? -1 : a.state > b.state ? 1 : 0));
  }

  isClaimed(datasetId: string): boolean {
    return this.#datasets.has(datasetId);
  }

  rememberJob(historyId: string, jobId: string): void {
    if (this.#jobs.get(historyId)?.has(jobId)) return;
    this.knowJob(historyId, jobId);
    this.#dirtyJobs.push([historyId, jobId]);
    this.changed();
  }

  jobsOf(historyId: string): Set<string> {
    return new Set(this.#jobs.get(historyId));
  }

  getMeta(key: string): string | undefined {
    return this.#meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.#meta.set(key, value);
    this.#dirtyMeta.set(key, value);
    this.changed();
  }
}
