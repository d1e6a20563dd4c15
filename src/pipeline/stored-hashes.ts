import PQueue from 'p-queue';
import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import type { ReadyFile } from './files.js';
import type { Route } from './route.js';
import { folderText } from './route.js';
import type { Emit } from '../observe/events.js';
import type { Backoff } from '../retry.js';
import { StoppedError, backoffMs, retry } from '../retry.js';
import type { HashFunction } from './manifests.js';
import { classify } from './retry.js';
import { checksumFile, checksumName } from './checksum.js';

/**
 * verify, for method = paths: the legacy library upload (upload1) takes no hashes, so its job
 * checks nothing. A Galaxy that runs Celery computes the hash of each upload's dataset after the
 * job (`calculate_dataset_hash: upload`, its default, with `hash_function: sha256`) and stores it
 * with the dataset (galaxy/jobs/__init__.py). It is read back (GET /api/datasets/{ldda}/storage)
 * and compared with the file's checksum: equal, the bytes in Galaxy are those that settled.
 * Where Galaxy stored another function's hash, or none within `autoWaitMs` (calculate_dataset_hash
 * set to never), it is asked for ours once (PUT /api/datasets/{ldda}/hash, a Celery task too).
 * Without Celery Galaxy never computes one: the file is ok, unverified, and `check` says so.
 */

/**
 * `mismatch`, `file`: what the file on disk holds now. `changed` (or `gone`): it changed after it
 * settled, and Galaxy read the new bytes; `unchanged`: the file still has the bytes of its
 * checksum, so Galaxy stored other bytes than it read (the legacy upload converts some files: a
 * compressed file decompressed), and sending it again would end the same way.
 */
/** `asked`: Galaxy stored the hash only once ours was asked for (it hashes nothing by itself). */
export type StoredVerdict =
  | { kind: 'verified'; info: string; asked?: true }
  | { kind: 'mismatch'; hashFunction: HashFunction; expected: string; got: string; file: 'changed' | 'gone' | 'unchanged'; asked?: true }
  /** `everyFile`: said of Galaxy, not of this dataset (no Celery, or its workers not running): it holds for the job's other files too. */
  | { kind: 'unverified'; reason: string; everyFile?: boolean; asked?: true }
  | { kind: 'stopped' };

/**
 * How long Galaxy's own hash is waited for before ours is asked for, and before the file is
 * called ok unverified; the looks in between (a small file's hash is stored a second or two
 * after its job, a large one's after Celery read it all: 10 GB at ~1 GB/s).
 */
export const STORED_TIMING = { autoWaitMs: 30_000, giveUpMs: 5 * 60_000, looks: { firstMs: 500, capMs: 15_000, factor: 2, jitter: false } } as const;

/** Stored hashes read at once after the first of a job's (verifyAll); the client's limiter bounds them further. */
export const VERIFY_AT_ONCE = 8;

export const NO_CELERY = 'Galaxy runs no Celery tasks (enable_celery_tasks is false), and only a Celery task computes the hash of a dataset the legacy upload (method = paths) made: the bytes Galaxy holds are not compared with the checksum. Use method = fetch (the default), whose job verifies every file, or enable Celery in Galaxy';

export interface StoredHashDeps {
  client: Pick<GalaxyClient, 'configuration' | 'datasetStorage' | 'computeDatasetHash'>;
  /** The file's checksum now, by that function (null: gone), for a mismatch. */
  checksumNow: (relPath: string, hashFunction: HashFunction) => Promise<string | null>;
  clock: Pick<Clock, 'now' | 'sleep'>;
  signal: AbortSignal;
  emit: Emit;
  timing?: { autoWaitMs: number; giveUpMs: number; looks: Backoff };
}

/** Galaxy's hash is not stored yet. */
class NotYet extends Error {}

export class StoredHashes {
  readonly #d: StoredHashDeps;
  /** Whether Galaxy runs Celery tasks, once read (GET /api/configuration, enable_celery_tasks). */
  #celery: boolean | null = null;

  constructor(deps: StoredHashDeps) {
    this.#d = deps;
  }

  /**
   * Each ok dataset's stored hash against its file's checksum, by file (a file without a
   * checksum is left out). Galaxy queues the hashes of a job's datasets together as the job ends:
   * the first file's is waited for alone, then the others are read, VERIFY_AT_ONCE at a time, most
   * at their first look (a job of 2,500 files costs about 2,500 reads, not four rounds of them).
   */
  async verifyAll(files: readonly ReadyFile[], route: Route, matched: ReadonlyMap<string, FolderItem>): Promise<Map<string, StoredVerdict>> {
    const verdicts = new Map<string, StoredVerdict>();
    const at = (f: ReadyFile): { file: string; library: string; folder: string } => ({ file: f.path, library: route.library, folder: folderText(route) });
    const todo: { f: ReadyFile; item: FolderItem; checksum: { hashFunction: HashFunction; hex: string } }[] = [];
    for (const f of files) {
      const item = matched.get(f.path);
      const checksum = f.checksum ?? f.provided;
      if (item?.state !== 'ok' || !checksum) continue;
      if (typeof item.ldda_id === 'string') todo.push({ f, item, checksum });
      else verdicts.set(f.path, this.#unverified(at(f), item.id, { reason: `Galaxy's folder listing names no version (ldda_id) of dataset ${item.id}, whose stored hash is read by it` }));
    }
    const one = async (t: (typeof todo)[number], askAtOnce: boolean): Promise<void> => {
      verdicts.set(t.f.path, await this.verify(at(t.f), t.item.id, String(t.item.ldda_id), t.checksum, askAtOnce));
    };
    const [head, ...rest] = todo;
    if (head === undefined) return verdicts;
    await one(head, false);
    const v = verdicts.get(head.f.path);
    // No Celery, or no worker ran the first file's task within giveUpMs: none will run the others'.
    if (v?.kind === 'stopped' || (v?.kind === 'unverified' && v.everyFile === true)) {
      for (const t of rest) verdicts.set(t.f.path, v.kind === 'stopped' || v.reason === NO_CELERY ? v : this.#unverified(at(t.f), t.item.id, { reason: v.reason, everyFile: true }));
      return verdicts;
    }
    // Galaxy stored no hash of the first by itself (calculate_dataset_hash: never): the others' are asked for at once.
    const queue = new PQueue({ concurrency: VERIFY_AT_ONCE });
    const askAtOnce = v?.asked === true;
    await Promise.all(rest.map((t) => queue.add(() => one(t, askAtOnce))));
    return verdicts;
  }

  /** Said (checksum.unverified), and returned as it is. */
  #unverified(at: { file: string }, datasetId: string, v: Omit<Extract<StoredVerdict, { kind: 'unverified' }>, 'kind'>): StoredVerdict {
    this.#d.emit({ type: 'checksum.unverified', file: at.file, dataset_id: datasetId, reason: v.reason });
    return { ...v, kind: 'unverified' };
  }

  /** Whether Galaxy's lack of Celery was said (once: it holds for every file). */
  #saidNoCelery = false;

  /**
   * Galaxy's stored hash of dataset `datasetId` (`lddaId`, its version's id) against `checksum`,
   * the file's. A file left unverified is said (checksum.unverified), a Galaxy without Celery once.
   */
  async verify(
    at: { file: string; library: string; folder: string }, datasetId: string, lddaId: string, checksum: { hashFunction: HashFunction; hex: string },
    askAtOnce = false,
  ): Promise<StoredVerdict> {
    const v = await this.#verify(at, datasetId, lddaId, checksum, askAtOnce);
    if (v.kind === 'mismatch') {
      let now: string | null;
      try {
        now = await this.#d.checksumNow(at.file, checksum.hashFunction);
      } catch (err) {
        if (err instanceof StoppedError) return { kind: 'stopped' };
        throw err;
      }
      return { ...v, file: now === null ? 'gone' : now.toLowerCase() === checksum.hex.toLowerCase() ? 'unchanged' : 'changed' };
    }
    if (v.kind === 'unverified' && v.reason !== NO_CELERY) return this.#unverified(at, datasetId, v);
    if (v.kind === 'unverified' && v.reason === NO_CELERY && !this.#saidNoCelery) {
      this.#saidNoCelery = true;
      this.#d.emit({ type: 'checksum.unverifiable', reason: NO_CELERY });
    }
    return v;
  }

  async #verify(
    at: { file: string; library: string; folder: string }, datasetId: string, lddaId: string, checksum: { hashFunction: HashFunction; hex: string },
    askAtOnce: boolean,
  ): Promise<StoredVerdict> {
    const { client, clock } = this.#d;
    const timing = this.#d.timing ?? STORED_TIMING;
    const started = clock.now();
    let asked = false;
    const look = async (): Promise<StoredVerdict> => {
      if (this.#celery === null) this.#celery = (await client.configuration(['enable_celery_tasks'])).enable_celery_tasks === true;
      if (!this.#celery) return { kind: 'unverified', reason: NO_CELERY, everyFile: true };
      const storage = await client.datasetStorage(lddaId);
      const stored = storage.dataset_state === 'ok' ? storage.hashes.find((h) => h.hash_function === checksum.hashFunction) : undefined;
      if (stored !== undefined) {
        const got = String(stored.hash_value).toLowerCase();
        const info = `${checksum.hashFunction} ${checksum.hex}: verified by galaxy-importd against the hash Galaxy computed of this dataset after its import`;
        return got === checksum.hex.toLowerCase() ? { kind: 'verified', info } : { kind: 'mismatch', hashFunction: checksum.hashFunction, expected: checksum.hex, got, file: 'changed' };
      }
      if (!asked && (askAtOnce || storage.hashes.length > 0 || clock.now() - started >= timing.autoWaitMs)) {
        await client.computeDatasetHash(lddaId, checksum.hashFunction);
        asked = true;
      }
      throw new NotYet();
    };
    const was = (v: StoredVerdict): StoredVerdict => (asked && v.kind !== 'stopped' ? { ...v, asked: true } : v);
    try {
      return was(await retry(look, {
        clock: this.#d.clock,
        signal: this.#d.signal,
        onFailure: (err, n) => {
          const over = clock.now() - started >= timing.giveUpMs;
          if (err instanceof NotYet) return over ? null : backoffMs(n, timing.looks);
          const verdict = classify(err);
          if (verdict.kind !== 'transient' || over) return null;
          const delay = backoffMs(n, timing.looks, verdict.retryAfterMs);
          this.#d.emit({ type: 'galaxy.retry', request: `the stored hash of dataset ${datasetId} (${at.file})`, library: at.library, folder: at.folder, attempt: n, reason: verdict.message, delay_ms: delay });
          return delay;
        },
      }));
    } catch (err) {
      if (err instanceof StoppedError) return { kind: 'stopped' };
      if (err instanceof NotYet) {
        return was({ kind: 'unverified', everyFile: true, reason: `Galaxy stored no ${checksum.hashFunction} hash of dataset ${datasetId} within ${Math.round(timing.giveUpMs / 60_000)} min of its job's end, though it runs Celery tasks${asked ? ' and was asked for one (PUT /api/datasets/{id}/hash)' : ''}: are Galaxy's Celery workers running? galaxy-importd audit compares the stored hash later` });
      }
      return was({ kind: 'unverified', reason: `the hash Galaxy stores with dataset ${datasetId} could not be read: ${classify(err).message}` });
    }
  }
}

/** The checksum of the file at `full` now, by `hashFunction`; null when it cannot be read (gone, say). */
export async function checksumNow(full: string, hashFunction: HashFunction, signal: AbortSignal): Promise<string | null> {
  try {
    return (await checksumFile(full, checksumName(hashFunction), { signal })).hex;
  } catch {
    if (signal.aborted) throw new StoppedError();
    return null;
  }
}
