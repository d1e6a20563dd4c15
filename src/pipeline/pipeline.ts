import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { GalaxyClient } from '../galaxy/client.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import { Access } from './access.js';
import { Confirmer } from './confirm.js';
import { Details } from './datasets.js';
import { Claims } from './claims.js';
import { Files } from './files.js';
import type { ReadyFile } from './files.js';
import type { Gate } from './gate.js';
import { HistoryPool } from './histories.js';
import { FolderLooks } from './folder-looks.js';
import { JobLooks } from './job-looks.js';
import { Recovery } from './recover.js';
import { galaxyBackoff, isOutage, waitOutGalaxy } from './retry.js';
import { folderText, libraryAccess } from './route.js';
import type { Route } from './route.js';
import { fetchSubmitter, pathsSubmitter } from './submit.js';
import { JobBreaker } from './breaker.js';
import { Leftovers } from './leftovers.js';
import { Targets } from './targets.js';
import { Uploads } from './uploads.js';
import { StoredHashes, checksumNow } from './stored-hashes.js';

/**
 * How often the pipeline looks again: how long a batch gathers while its folder has a send in
 * flight, and the job polls. A job of a few small files may be done in a fraction of a second
 * (and the emulator's in 50 ms), a real Galaxy's large ones take minutes: the first look comes
 * after 250 ms (later for a job of many files), each next one 1.5 times later, up to 7.5 s, kept
 * for 0.008 looks per file of the job and past those growing again to a fifth of its run (confirm.ts, lookPause; each pause ending on the grid of grid.ts,
 * so that the jobs in flight share their looks: job-looks.ts).
 */
export const PIPELINE_TIMING = { lingerMs: 200, poll: { firstMs: 250, capMs: 7_500, factor: 1.5, jitter: false } } as const;

export interface PipelineDeps {
  config: Config;
  client: Pick<GalaxyClient, 'showJob' | 'folderContents' | 'recentDatasets' | 'showLibraryContent' | 'updateLibraryDataset' | 'createHistory' | 'listJobs' | 'fetchToFolders' | 'uploadPaths' | 'listLibraries' | 'createLibrary' | 'subfolders' | 'createFolder' | 'listRoles' | 'currentUser' | 'libraryPermissions' | 'setLibraryPermissions' | 'setDatasetPermissions' | 'makeDatasetPublic' | 'deleteLibraryDataset' | 'configuration' | 'datasetStorage' | 'computeDatasetHash' | 'version'>;
  ledger: Ledger;
  gate: Pick<Gate, 'wait' | 'block' | 'failing' | 'blocked'>;
  clock: Clock;
  random?: () => number;
  emit: Emit;
  signal: AbortSignal;
  /** The ledger was started empty. */
  rebuild: boolean;
  afterOk: (file: ReadyFile) => Promise<void>;
  /** A file Galaxy found changed after it settled: admission looks at it again. */
  changed: (relPath: string) => void;
  /** A file is no longer queued or in flight (idle). */
  shrank: () => void;
}

/** The upload side of the pipeline (queue → submit → confirm → recover), built from its stages. */
export function createUploads(d: PipelineDeps): { files: Files; uploads: Uploads; histories: HistoryPool; access: Access } {
  const { config, client, ledger, gate, clock, emit, signal } = d;
  const upload = config.upload;
  const claims = new Claims(ledger.coordinator, { clock, signal, emit });
  const files = new Files({
    ledger, emit, clock, shrank: d.shrank, claim: (f) => claims.claim(f),
    // A transition the table lacks is a defect: said, and carried out, so that no file is stranded.
    unexpected: (err) => emit({ type: 'daemon.error', err }),
  });
  const access = new Access({ client, clock, emit });
  const details = new Details(client, access, { clock, signal, emit, ...(d.random ? { random: d.random } : {}) });
  const histories = new HistoryPool(client, ledger, { max: upload.concurrency });
  const submitter = upload.method === 'fetch' ? fetchSubmitter(client) : pathsSubmitter(client, config.import.dir ?? '');
  const backoff = galaxyBackoff(upload.backoff_max_seconds * 1000);
  const onFailure = (err: unknown, attempt: number, route: Route): number | Promise<void> => waitOutGalaxy({
    gate,
    backoff,
    ...(d.random ? { random: d.random } : {}),
    onRetry: (reason, n, delay) => emit({ type: 'galaxy.retry', request: 'library folder or upload history', library: route.library, folder: folderText(route), attempt: n, reason, delay_ms: Math.round(delay) }),
  })(err, attempt);
  const folders = new FolderLooks(client, clock);
  const confirmer = new Confirmer({
    // Confirmations of one folder due together share a read of its newest datasets.
    client: { folderContents: (id) => client.folderContents(id), recentDatasets: (id, o) => folders.recentDatasets(id, o) },
    files, details, gate, clock, signal, emit,
    jobs: new JobLooks({ client, clock }),
    isClaimed: (id) => ledger.isClaimed(id),
    jobTimeoutMs: upload.job_timeout_minutes * 60_000,
    poll: PIPELINE_TIMING.poll,
    afterOk: d.afterOk,
    changed: d.changed,
    datasetName: (f, r) => submitter.datasetName(f, r),
    leftovers: new Leftovers({ client, isClaimed: (id) => ledger.isClaimed(id), datasetName: (f, r) => submitter.datasetName(f, r), emit }),
    // Files a run of failed jobs failed go again once a job ends ok (uploads is made below).
    breaker: new JobBreaker({ gate, emit, maxPauseMs: upload.backoff_max_seconds * 1000, requeue: (again) => again.forEach(({ file, route }) => uploads.add(file, route)) }),
    // The legacy upload's job verifies nothing: Galaxy's stored hash is compared after it.
    ...(upload.method === 'paths' ? { stored: new StoredHashes({ client, clock, signal, emit, checksumNow: (rel, fn) => checksumNow(path.join(config.import.dir ?? '', rel), fn, signal) }) } : {}),
  });
  const recovery = new Recovery({ client, files, ledger, histories, submitter, details, clock, signal, emit, gate, onFailure, afterOk: d.afterOk });
  const targets = new Targets({ client, libraryDescription: config.library.description, emit, lock: ledger.coordinator, access, libraryAccess: (name) => libraryAccess(name, config), clock });
  const uploads = new Uploads({
    files, targets, histories, submitter, confirmer, recovery, coordinator: ledger.coordinator, gate, onFailure, clock, signal, emit,
    outage: (verdict) => isOutage(verdict, () => client.version()),
    ...(d.random ? { random: d.random } : {}),
    options: { batchSize: upload.batch_size, maxAttempts: upload.max_attempts, backoff, lingerMs: PIPELINE_TIMING.lingerMs, rebuild: d.rebuild },
  });
  return { files, uploads, histories, access };
}
