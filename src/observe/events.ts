import type { FileState } from '../states.js';

/**
 * Everything the daemon reports, as typed events. Stages emit them; telemetry.ts turns each
 * into its log line and metrics.ts counts them, so a log line and a metric cannot disagree
 * and no metric is parsed back out of a log line. `type` is the log line's `event` except
 * where one log event covers two facts (telemetry.ts names those).
 */

interface At {
  file: string;
  library: string;
  folder: string;
}

export type DaemonEvent =
  // Per-file transitions (pipeline/files.ts)
  | ({ type: 'upload.queued'; size: number } & At)
  | ({ type: 'upload.submitted'; attempt: number; size: number; history_id: string | null } & At)
  | ({ type: 'upload.retry'; attempt: number; reason: string; delay_ms: number } & At)
  | ({ type: 'upload.ok'; dataset_id: string; size: number; job_id?: string | null; duration_ms?: number; reason?: string; verified?: boolean } & At)
  | ({ type: 'upload.failed'; file: string; reason: string; library?: string; folder?: string; attempt?: number })
  | { type: 'file.skipped'; file: string; reason: string }
  | { type: 'file.seen'; file: string; size: number }
  | { type: 'file.settling'; file: string }
  | { type: 'upload.requeued'; file: string; cause: 'key_refused' | 'retry' }
  // Discovery, settling, admission
  /** `waiting`: files the walk recorded as `seen`, to be taken in when the window has room. */
  | { type: 'daemon.walk'; initial: boolean; files: number; dirs: number; waiting: number; duration_ms: number }
  | { type: 'watch.error'; file?: string; err: string; code?: string | undefined }
  | { type: 'file.unsettled'; file: string; duration_ms: number; reason: string }
  | { type: 'file.gone'; file: string; reason: string }
  | { type: 'file.ready'; file: string; size: number; library: string; folder: string }
  | { type: 'file.changed'; file: string; size: number; reason: string }
  // Provider checksum lists (pipeline/lists.ts) and checksums
  | { type: 'manifest.read'; file: string; entries: number; problems: number }
  | { type: 'manifest.problem'; file: string; line: number; reason: string }
  | { type: 'file.missing'; file: string; list: string; line: number }
  /** A file's bytes differ from a checksum: the list's (`by: list`, before it is sent) or the one sent with it (`by: galaxy`, Galaxy's job). */
  | { type: 'checksum.mismatch'; file: string; by: 'list' | 'galaxy'; hash_function: string; expected: string; got: string | null; list?: string; line?: number; imported?: boolean }
  /** method = paths: Galaxy's stored hash of the file's dataset could not be compared (it is ok, unverified). */
  | { type: 'checksum.unverified'; file: string; dataset_id: string; reason: string }
  /** method = paths on a Galaxy that cannot compute stored hashes (no Celery): said once. */
  | { type: 'checksum.unverifiable'; reason: string }
  | { type: 'file.claimed_elsewhere'; file: string }
  | { type: 'ledger.claim_retry'; err: string; attempt: number; delay_ms: number }
  // Uploads: batches, confirmation, recovery
  | { type: 'upload.split'; library: string; folder: string; files: number; job_id: string | null; reason: string }
  /** Galaxy's proxy refused a request of `refused` files as too large (413): requests hold at most `ceiling` files from now on. */
  | { type: 'upload.ceiling'; refused: number; ceiling: number; batch_size: number; reason: string }
  /** A reload (SIGHUP) after upload.ceiling: requests may hold `batch_size` files again. */
  | { type: 'upload.ceiling_reset'; batch_size: number }
  | { type: 'job.check_failed'; job_id: string | null; reason: string }
  | { type: 'galaxy.retry'; request: string; library: string; folder: string; attempt: number; reason: string; delay_ms: number }
  | { type: 'upload.recovered'; files: string[]; history_id: string | null; job_id?: string; reason: string }
  | { type: 'upload.leftover_deleted'; library: string; folder: string; job_id: string | null; dataset_id: string; name: string; state: string; size: number | null }
  | { type: 'upload.leftover_kept'; library: string; folder: string; job_id: string | null; dataset_id: string | null; reason: string }
  | { type: 'upload.tags_failed'; file: string; dataset_id: string; tags: readonly string[] }
  | { type: 'upload.info_failed'; file: string; dataset_id: string; info: string }
  | { type: 'history.replaced'; history_id: string; reason: string }
  | { type: 'daemon.resume'; files: number; message: string }
  | { type: 'ledger.adopted'; files: number }
  | { type: 'daemon.error'; err: unknown }
  // Libraries and folders
  | { type: 'library.created'; library: string; id: string }
  | { type: 'folder.created'; folder: string; id: string }
  | { type: 'library.duplicate'; library: string; id: string }
  // Access and notifications (pipeline/access.ts, pipeline/notify.ts)
  | { type: 'library.restricted'; library: string; id: string; access: string }
  | { type: 'library.access_differs'; library: string; id: string; access: string; roles: readonly string[] }
  | { type: 'access.defaults_private'; dataset_id: string }
  | { type: 'notify.sent'; library: string; folder: string; files: number; recipients: readonly string[]; sent: number | null }
  | { type: 'notify.failed'; library: string; folder: string; files: number; reason: string }
  | { type: 'notify.unavailable'; reason: string }
  // After upload
  | { type: 'file.after_upload'; file: string; action: string; err?: string }
  // Galaxy as a whole
  | { type: 'galaxy.key_refused'; reason: string; fix: string }
  | { type: 'galaxy.key_ok' }
  | { type: 'galaxy.key_reloaded'; source: string }
  | { type: 'galaxy.jobs_failing'; jobs: number; job_id: string; reason: string; pause_ms: number }
  | { type: 'galaxy.jobs_ok'; job_id: string; failed_jobs: number; requeued: number }
  | { type: 'galaxy.unusable'; request: string; reason: string; galaxy_version: string }
  // The daemon's life (cli/run.ts)
  | { type: 'daemon.start'; import_dir: string | null; galaxy: string | null; key_source: string; state_dir: string; ledger?: string; replica?: string }
  | { type: 'http.listening'; host: string; port: number }
  | { type: 'daemon.rescan'; reason: string }
  | ({ type: 'daemon.ready'; settling: number; in_flight: number } & Record<FileState, number>)
  | { type: 'daemon.stopping'; signal: string }
  | ({ type: 'daemon.stopped' } & Partial<Record<FileState, number>>)
  // The shared ledger
  | { type: 'ledger.replica_name'; replica: string; waiting: boolean; reason?: string }
  | { type: 'ledger.lease_lost'; files: number; examples: readonly string[]; replica: string | null; reason: string }
  | { type: 'ledger.unavailable'; ledger: string; err: string; code: string | undefined }
  | { type: 'ledger.available'; ledger: string; duration_ms: number }
  | { type: 'ledger.unwritten'; ledger: string; changes: number };

export type EventType = DaemonEvent['type'];

/** Where events go: the daemon hands one to every stage. */
export type Emit = (event: DaemonEvent) => void;

/** Several listeners behind one Emit (the log, the metrics, a test). */
export function fanOut(...listeners: (Emit | undefined)[]): Emit {
  const all = listeners.filter((l): l is Emit => l !== undefined);
  return (event) => {
    for (const l of all) l(event);
  };
}
