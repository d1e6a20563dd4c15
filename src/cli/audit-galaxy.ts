import type { Clock } from '../clock.js';
import type { FolderItem, GalaxyClient } from '../galaxy/client.js';
import { GalaxyApiError } from '../galaxy/errors.js';
import type { FileRecord } from '../ledger/ledger.js';
import { checksumOf } from '../pipeline/checksum.js';
import { classify } from '../pipeline/retry.js';
import { backoffMs, retry } from '../retry.js';
import type { GalaxyLook } from './audit-compare.js';

/**
 * `audit` in Galaxy: each folder's datasets listed once (deleted ones included: their ids, state,
 * ldda_id), a dataset not found there asked for by its id (moved to another folder, or gone), and
 * each live ok dataset's stored hashes (GET /api/datasets/{ldda_id}/storage?hda_ldda=ldda).
 */

export type AuditGalaxyClient = Pick<GalaxyClient, 'folderContents' | 'libraryDataset' | 'datasetStorage'>;

/** Galaxy's own answer (its JSON error): about the object asked for, not about reaching Galaxy. */
const fromGalaxy = (err: unknown): err is GalaxyApiError => err instanceof GalaxyApiError && err.fromGalaxy;

/** A dataset as audit needs it, from a folder listing or from GET /api/libraries/datasets/{id}. */
interface Held {
  deleted: boolean;
  state: string;
  lddaId: string | null;
  folderId: string | null;
}

export class GalaxySide {
  readonly #client: AuditGalaxyClient;
  readonly #clock: Pick<Clock, 'sleep'>;
  readonly #random: () => number;

  constructor(o: { client: AuditGalaxyClient; clock: Pick<Clock, 'sleep'>; random?: () => number }) {
    this.#client = o.client;
    this.#clock = o.clock;
    this.#random = o.random ?? Math.random;
  }

  /**
   * A read, tried up to three times while no answer comes or a proxy answers in Galaxy's place
   * (with backoff, at least Retry-After); Galaxy's own error answers at once (a 500 for a library
   * dataset id it does not hold is one: docs/galaxy-notes.md, "Checksums").
   */
  async #ask<T>(op: () => Promise<T>): Promise<T> {
    return await retry(op, {
      clock: this.#clock,
      onFailure: (err, attempt) => {
        const verdict = classify(err);
        if (attempt >= 3 || verdict.kind !== 'transient' || (fromGalaxy(err) && err.status === 500)) return null;
        return backoffMs(attempt, { firstMs: 1000, capMs: 4000, jitter: true }, verdict.retryAfterMs, this.#random);
      },
    });
  }

  /** The folder's datasets by id, deleted ones included; null when Galaxy cannot list the folder (each is then asked for by id). */
  async folder(folderId: string | null): Promise<Map<string, FolderItem> | null> {
    if (folderId === null) return null;
    try {
      const items = await this.#ask(() => this.#client.folderContents(folderId, { includeDeleted: true }));
      return new Map(items.filter((i) => i.type === 'file').map((i) => [i.id, i]));
    } catch (err) {
      if (fromGalaxy(err)) return null;
      throw err;
    }
  }

  /** The row's dataset now: `listed` is its folder's listing (folder()). Errors other than Galaxy's answers about the dataset are thrown. */
  async look(row: FileRecord, listed: Map<string, FolderItem> | null): Promise<GalaxyLook> {
    if (row.datasetId === null) return { kind: 'missing', detail: 'the ledger records no dataset for it' };
    const datasetId = row.datasetId;
    const item = listed?.get(datasetId);
    let held: Held;
    if (item !== undefined && typeof item.ldda_id === 'string') {
      held = { deleted: item.deleted === true, state: String(item.state ?? 'unknown'), lddaId: item.ldda_id, folderId: row.folderId };
    } else {
      try {
        const d = await this.#ask(() => this.#client.libraryDataset(datasetId));
        held = { deleted: d.deleted === true, state: String(d.state ?? 'unknown'), lddaId: d.ldda_id, folderId: d.folder_id ?? null };
      } catch (err) {
        if (!fromGalaxy(err)) throw err;
        const where = listed === null ? `its folder ${row.folderId ?? '?'} could not be listed` : `not in its folder ${row.folderId ?? '?'}, deleted ones included`;
        return { kind: 'missing', detail: `dataset ${datasetId}: ${where}, and Galaxy answered ${err.status} to GET /api/libraries/datasets/{id}: ${err.errMsg}` };
      }
    }
    const movedTo = held.folderId !== null && row.folderId !== null && held.folderId !== row.folderId ? held.folderId : null;
    if (held.deleted || held.state !== 'ok' || checksumOf(row.checksum) === null || held.lddaId === null) {
      return { kind: 'found', deleted: held.deleted, state: held.state, movedTo, storage: null };
    }
    const lddaId = held.lddaId;
    let storage;
    try {
      storage = await this.#ask(() => this.#client.datasetStorage(lddaId));
    } catch (err) {
      // Galaxy's answer for this one dataset: a problem of this file, the audit goes on.
      if (!fromGalaxy(err)) throw err;
      return { kind: 'found', deleted: false, state: held.state, movedTo, storage: { error: `Galaxy answered ${err.status} to GET /api/datasets/{id}/storage: ${err.errMsg}` } };
    }
    return {
      kind: 'found', deleted: false, state: held.state, movedTo,
      storage: { state: storage.dataset_state, hashes: storage.hashes.map((h) => ({ hashFunction: h.hash_function, hex: h.hash_value })) },
    };
  }
}
