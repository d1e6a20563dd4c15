import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { dataTypeClass } from './datatypes.js';
import { adminRequired, GalaxyError, invalidParameter } from './errors.js';
import type { DatasetRec, DatasetState, FolderRec, User } from './records.js';
import type { Store } from './store.js';
import { now } from './store.js';

/**
 * Library datasets: made by jobs (jobs.ts) and legacy uploads (contents.ts), shown and
 * updated through /api/libraries/datasets and the library contents API.
 */

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function newDataset(s: Store, folder: FolderRec, name: string, sourcePath: string, linked: boolean, user: User | undefined, jobId: number, state: DatasetState): DatasetRec {
  const t = now();
  const d: DatasetRec = {
    id: s.next('library_dataset'),
    lddaId: s.next('ldda'),
    libraryId: folder.libraryId,
    folderId: folder.id,
    name,
    state,
    ext: 'auto',
    dbkey: '?',
    fileSize: 0,
    sha256: null,
    sourcePath,
    linked,
    uploadedBy: user?.email ?? '',
    info: '',
    blurb: '',
    peek: '',
    message: '',
    tags: [],
    metadata: {},
    deleted: false,
    jobId,
    createTime: t,
    updateTime: t,
  };
  // A fetch job's datasets take its history's default permissions, not the library's (Galaxy's
  // PermissionProvider in job_execution/output_collect.py; docs/galaxy-notes.md, "Access").
  const job = s.jobs.get(jobId);
  const history = job?.toolId === '__DATA_FETCH__' && job.historyId !== null ? s.histories.get(job.historyId) : undefined;
  if (history?.defaultAccess?.length) d.access = [...history.defaultAccess];
  s.codec.encode(d.id);
  s.codec.encode(d.lddaId);
  s.datasets.set(d.id, d);
  folder.updateTime = t;
  return d;
}

export function datasetsIn(s: Store, folderId: number, includeDeleted = false): DatasetRec[] {
  return [...s.datasets.values()].filter((d) => d.folderId === folderId && (includeDeleted || !d.deleted));
}

export function datasetDetails(s: Store, d: DatasetRec): Record<string, unknown> {
  return {
    model_class: 'LibraryDataset',
    id: s.codec.encode(d.id),
    ldda_id: s.codec.encode(d.lddaId),
    parent_library_id: s.codec.encode(d.libraryId),
    folder_id: s.codec.folder(d.folderId),
    name: d.name,
    genome_build: d.dbkey,
    update_time: d.updateTime,
    state: d.state,
    file_name: d.linked ? d.sourcePath : `/galaxy/database/objects/${d.lddaId}/dataset_${d.lddaId}.dat`,
    // Galaxy 26.1 keeps no basename for server_dir and path imports.
    created_from_basename: null,
    uploaded_by: d.uploadedBy,
    message: d.message || null,
    date_uploaded: d.createTime,
    file_size: d.fileSize,
    file_ext: d.ext,
    data_type: dataTypeClass(d.ext),
    misc_info: d.info,
    misc_blurb: d.blurb,
    peek: d.peek,
    uuid: createHash('md5').update(`${s.secret}:${d.id}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'),
    tags: d.tags,
    ...d.metadata,
  };
}

/** PATCH /api/libraries/datasets/{id}: name, genome_build, misc_info and tags of a library dataset. */
export function updateDataset(s: Store, user: User | null, encoded: string, body: Record<string, unknown>): unknown {
  if (!user?.admin) throw adminRequired();
  const d = s.datasets.get(s.codec.decode(encoded, 'library dataset id'));
  if (!d || d.deleted) throw new GalaxyError(400, 0, `Invalid LibraryDataset id ( ${encoded} ) specified`);
  if (typeof body.name === 'string' && body.name !== '') d.name = body.name;
  if (typeof body.misc_info === 'string') d.info = body.misc_info;
  if (typeof body.genome_build === 'string') d.dbkey = body.genome_build;
  if (Array.isArray(body.tags)) d.tags = body.tags.map(String);
  s.onChange();
  return serialized(s, d);
}

/** Galaxy 26.1's library dataset manager's view (managers/library_datasets.py, serialize): the size as text, the path, deleted. */
function serialized(s: Store, d: DatasetRec): Record<string, unknown> {
  const fullPath: [string, string][] = [[s.codec.encode(d.id), d.name]];
  for (let f: FolderRec | undefined = s.folders.get(d.folderId); f; f = f.parentId === null ? undefined : s.folders.get(f.parentId)) {
    fullPath.unshift([s.codec.folder(f.id), f.name]);
  }
  return {
    ...datasetDetails(s, d),
    file_size: humanSize(d.fileSize),
    deleted: d.deleted,
    full_path: fullPath,
    can_user_modify: true,
    is_unrestricted: (d.access ?? []).length === 0,
    can_user_manage: true,
  };
}

/**
 * GET /api/libraries/datasets/{id}: a library dataset, deleted ones too. An id that decodes but
 * names no library dataset is Galaxy's 500 (get_library_dataset's `.one()` raises, and the manager
 * turns that into InternalServerError).
 */
export function showDataset(s: Store, user: User | null, encoded: string): unknown {
  const d = s.datasets.get(s.codec.decode(encoded, 'library dataset id'));
  if (!d) throw new GalaxyError(500, 500001, 'Error loading from the database.No row was found when one was required');
  if ((d.access ?? []).length > 0 && !user?.admin && !(d.access ?? []).every((r) => s.roles.get(r)?.userIds.includes(user?.id ?? -1))) {
    throw new GalaxyError(403, 403002, 'You are not allowed to access this dataset.');
  }
  return serialized(s, d);
}

const NODE_HASHES: Record<string, string> = { MD5: 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' };

/**
 * Celery's compute_dataset_hash, a moment later (managers/datasets.py, compute_hash): the hash of
 * the dataset's bytes stored as a DatasetHash row, unless one of that function is there. The
 * emulator keeps no copy of a copied dataset's bytes, only their SHA-256 as its job read them; another
 * function is taken of the source file now (which is what Galaxy hashes for a linked dataset).
 * Only where Celery runs: otherwise the task is queued and never runs.
 */
export function hashLater(s: Store, d: DatasetRec, hashFunction: string): void {
  if (s.settings.celery !== 'running') return;
  setTimeout(() => {
    if (s.closed || d.hashes?.some((h) => h.hashFunction === hashFunction)) return;
    let hex: string;
    try {
      hex = hashFunction === 'SHA-256' && !d.linked && d.sha256 !== null ? d.sha256 : createHash(NODE_HASHES[hashFunction] ?? 'sha256').update(readFileSync(d.sourcePath)).digest('hex');
    } catch {
      return; // ObjectInvalid: Galaxy logs a warning and stores nothing
    }
    d.hashes = [...(d.hashes ?? []), { id: s.next('dataset_hash'), hashFunction, hex }];
  }, 20).unref();
}

/** PUT /api/datasets/{id}/hash?hda_ldda=ldda {hash_function}: the task's summary at once (services/datasets.py, compute_hash). */
export function computeDatasetHash(s: Store, user: User | null, encoded: string, q: URLSearchParams, body: Record<string, unknown>): unknown {
  if (q.get('hda_ldda') !== 'ldda') throw new GalaxyError(404, 404001, 'HistoryDatasetAssociation not found.');
  const id = s.codec.decode(encoded, 'dataset_id');
  const d = [...s.datasets.values()].find((x) => x.lddaId === id);
  if (!d) throw new GalaxyError(404, 404001, 'LibraryDatasetDatasetAssociation not found');
  if (!user) throw new GalaxyError(403, 403002, 'You are not allowed to access this dataset.');
  const fn = body.hash_function ?? 'MD5';
  if (typeof fn !== 'string' || NODE_HASHES[fn] === undefined) {
    throw invalidParameter('hash_function', "Input should be 'MD5', 'SHA-1', 'SHA-256' or 'SHA-512'");
  }
  hashLater(s, d, fn);
  return { id: randomUUID(), ignored: false, name: 'galaxy.celery.tasks.compute_dataset_hash', queue: null };
}

/**
 * GET /api/datasets/{id}/storage?hda_ldda=ldda: the dataset under a library dataset version, its
 * state and its stored hashes (services/datasets.py, show_storage), among the object store's details.
 */
export function datasetStorage(s: Store, user: User | null, encoded: string, q: URLSearchParams): unknown {
  if (q.get('hda_ldda') !== 'ldda') throw new GalaxyError(404, 404001, 'HistoryDatasetAssociation not found.');
  const id = s.codec.decode(encoded, 'dataset_id');
  const d = [...s.datasets.values()].find((x) => x.lddaId === id);
  if (!d) throw new GalaxyError(404, 404001, 'LibraryDatasetDatasetAssociation not found');
  if (!user) throw new GalaxyError(403, 403002, 'You are not allowed to access this dataset.');
  // Galaxy's default object store: its disk's usage, no quota, one badge saying so.
  const disk = statfsSync(s.settings.libraryImportDir ?? '/');
  return {
    object_store_id: null,
    name: null,
    description: null,
    percent_used: 100 * (1 - disk.bavail / disk.blocks),
    dataset_state: d.state,
    hashes: (d.hashes ?? []).map((h) => ({ model_class: 'DatasetHash', id: h.id, hash_function: h.hashFunction, hash_value: h.hex, extra_files_path: null })),
    sources: [],
    shareable: true,
    quota: { source: null, enabled: true },
    badges: [{ type: 'no_quota', message: null, source: 'galaxy' }],
    relocatable: false,
    private: false,
  };
}
