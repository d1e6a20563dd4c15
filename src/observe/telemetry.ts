import type { Logger } from 'pino';
import type { DaemonEvent, Emit, EventType } from './events.js';

/**
 * Each event as its log line: the event's fields, `event` (its type unless the table names
 * another), the level, and a constant message. The table is the whole of what the daemon
 * writes about files and Galaxy; docs/operations.md lists the same events.
 */

type Level = 'debug' | 'info' | 'warn' | 'error';
type Line<T extends EventType> = {
  level: Level | ((e: Extract<DaemonEvent, { type: T }>) => Level);
  message: string | ((e: Extract<DaemonEvent, { type: T }>) => string);
  /** The log event's name where it differs from the type. */
  event?: string;
  component: 'pipeline' | 'ledger' | null;
};

const LINES: { [T in EventType]: Line<T> } = {
  'upload.queued': { level: 'info', message: 'upload queued', component: 'pipeline' },
  'upload.submitted': { level: 'info', message: 'upload submitted', component: 'pipeline' },
  'upload.retry': { level: 'warn', message: 'upload will be retried', component: 'pipeline' },
  'upload.ok': { level: 'info', message: (e) => (e.reason === undefined ? 'upload ok' : 'file already in Galaxy'), component: 'pipeline' },
  'upload.failed': { level: 'error', message: 'upload failed', component: 'pipeline' },
  'file.skipped': { level: 'warn', message: 'file skipped', component: 'pipeline' },
  'file.seen': { level: 'debug', message: 'found while the window is full: recorded, and taken in when its turn comes', component: 'pipeline' },
  'file.settling': { level: 'debug', message: 'its turn came: settling', component: 'pipeline' },
  'upload.requeued': {
    level: (e) => (e.cause === 'retry' ? 'info' : 'debug'),
    message: (e) => (e.cause === 'retry' ? 'queued again by galaxy-importd retry' : 'queued again: Galaxy refused the key, so the attempt does not count'),
    component: 'pipeline',
  },
  'daemon.walk': { level: 'debug', message: 'walk done', component: null },
  'watch.error': {
    level: (e) => (e.file === undefined ? 'error' : 'warn'),
    message: (e) => (e.file !== undefined
      ? 'cannot read a directory; its files are not imported until it is readable'
      : e.code === 'ENOSPC'
        ? 'out of inotify watches: raise fs.inotify.max_user_watches (see docs/operations.md); periodic rescans still find every file'
        : 'watcher error; periodic rescans still find every file'),
    component: null,
  },
  'file.unsettled': { level: 'warn', message: 'file still changing', component: 'pipeline' },
  'file.gone': { level: 'warn', message: 'file dropped', component: 'pipeline' },
  'file.ready': { level: 'info', message: 'file ready', component: 'pipeline' },
  'manifest.read': { level: (e) => (e.problems > 0 ? 'warn' : 'info'), message: (e) => (e.problems > 0 ? 'checksum list read; some of its lines are not checksum lines (manifest.problem lines say which)' : 'checksum list read'), component: 'pipeline' },
  'manifest.problem': { level: 'warn', message: 'a line of a checksum list is not used', component: 'pipeline' },
  'file.missing': { level: 'warn', message: 'a checksum list names a file that is not in the import directory; it is imported when it arrives', component: 'pipeline' },
  'checksum.unverified': { level: 'warn', message: 'the hash Galaxy stores with the dataset could not be compared with the file\'s checksum: imported, unverified', component: 'pipeline' },
  'checksum.unverifiable': { level: 'warn', message: 'method = paths on a Galaxy without Celery: the bytes Galaxy imports are never compared with their checksums (use method = fetch)', component: 'pipeline' },
  'checksum.mismatch': {
    level: 'warn',
    message: (e) => (e.by === 'galaxy'
      ? 'Galaxy read other bytes than those whose checksum was sent: the file changed after it settled'
      : e.imported === true
        ? 'a file imported before its checksum list was read does not match it: its dataset holds bytes the list does not (see galaxy-importd audit)'
        : 'the file does not match its checksum list: it is not imported'),
    component: 'pipeline',
  },
  'file.changed': { level: 'info', message: 'file changed since its last upload; it is imported again', component: 'pipeline' },
  'file.claimed_elsewhere': { level: 'debug', message: 'another replica holds or has done this file', component: 'pipeline' },
  'ledger.claim_retry': { level: 'debug', message: 'claim failed; trying again', component: 'pipeline' },
  'upload.split': { level: 'warn', message: 'batch failed; sending its halves separately', component: 'pipeline' },
  'upload.ceiling_reset': { level: 'info', message: "reloaded: requests may hold batch_size files again; if Galaxy's proxy still refuses them (413), the ceiling is lowered again", component: 'pipeline' },
  'upload.ceiling': {
    level: 'warn',
    message: (e) => `Galaxy's proxy refused a request of ${e.refused} files as too large (413): requests hold at most ${e.ceiling} files until galaxy-importd restarts or is reloaded (SIGHUP). Raise the proxy's limit (nginx: client_max_body_size, 1 MB by default) and reload, so that a backlog goes as one job, or set [upload] batch_size to ${e.ceiling}`,
    component: 'pipeline',
  },
  // A failed look at a job is not an upload retried: it has its own type, so that
  // galaxy_importd_retries_total counts only uploads, and keeps the log event it always had.
  'job.check_failed': { level: 'warn', message: 'checking the upload job failed; checking again', event: 'upload.retry', component: 'pipeline' },
  'galaxy.retry': { level: 'warn', message: 'a Galaxy request for this folder failed; trying again', component: 'pipeline' },
  'upload.recovered': { level: 'info', message: (e) => (e.job_id === undefined ? 'interrupted upload will be sent again' : 'interrupted upload found in Galaxy'), component: 'pipeline' },
  'upload.leftover_deleted': { level: 'info', message: 'deleted a dataset a failed upload left in the folder (the file is sent again, or failed)', component: 'pipeline' },
  'upload.leftover_kept': { level: 'warn', message: 'could not delete a dataset a failed upload left in the folder: delete it in Galaxy (galaxy-importd check lists such datasets)', component: 'pipeline' },
  'upload.info_failed': { level: 'warn', message: 'could not set the dataset\'s info naming its verified checksum; it is imported, verified, without it', component: 'pipeline' },
  'upload.tags_failed': { level: 'warn', message: 'could not set the dataset\'s tags; it is imported without them', component: 'pipeline' },
  'history.replaced': { level: 'warn', message: 'the upload history was deleted or purged in Galaxy; a new one is made', component: 'pipeline' },
  'daemon.resume': { level: 'info', message: (e) => e.message, component: null },
  'ledger.adopted': { level: 'info', message: 'took over files no running replica holds', component: null },
  'daemon.error': { level: 'error', message: 'unexpected error in the upload pipeline', component: 'pipeline' },
  'library.created': { level: 'info', message: 'library created', component: null },
  'folder.created': { level: 'info', message: 'folder created', component: null },
  'library.duplicate': { level: 'warn', message: 'several libraries have this name; using the first Galaxy lists', component: null },
  'library.restricted': { level: 'info', message: 'library restricted: only members of its access role see it', component: null },
  'library.access_differs': { level: 'warn', message: 'the library is restricted to other roles than its access; left as it is (galaxy-importd check reports it; change it in Galaxy, or the config)', component: null },
  'access.defaults_private': {
    level: 'warn',
    message: "Galaxy made a new dataset private: the key's user has private default permissions, which a fetch job's datasets take; galaxy-importd makes each one readable as its library says (one more request a file). To save that request, set the user's default permissions to public (User → Preferences → Set Dataset Permissions for New Histories; docs/operations.md, Access)",
    component: null,
  },
  'notify.sent': { level: 'info', message: 'Galaxy notification sent: new files in the folder', component: null },
  'notify.failed': { level: 'warn', message: 'could not send the Galaxy notification; the files are imported all the same', component: null },
  'notify.unavailable': { level: 'warn', message: 'this Galaxy cannot send notifications: none is sent in this run', component: null },
  'file.after_upload': {
    level: (e) => (e.err === undefined ? 'info' : 'warn'),
    message: (e) => (e.err === undefined ? 'file handled after upload' : 'could not move or delete the file after its upload; it stays recorded as ok'),
    component: 'pipeline',
  },
  'galaxy.key_refused': { level: 'error', message: 'Galaxy refuses the API key: uploads are paused until it works; use an admin user\'s current key (fix says where it is read from)', component: null },
  'galaxy.key_ok': { level: 'info', message: 'Galaxy accepts the API key again: uploads resume', component: null },
  'galaxy.key_reloaded': { level: 'info', message: 'the API key was read again from its source and has changed: the new key is used from now on', component: null },
  'galaxy.jobs_failing': { level: 'error', message: "Galaxy's upload jobs keep ending in error: uploads are paused, then tried again (look at Galaxy's job handler log and the free space of its file_path; /readyz says why)", component: null },
  'galaxy.jobs_ok': { level: 'info', message: "an upload job ended ok again: uploads resume, and the files that failed meanwhile are queued again", component: null },
  'galaxy.unusable': {
    level: 'error',
    message: (e) => `Galaxy ${e.galaxy_version} keeps answering ${e.request} in a way galaxy-importd cannot use: uploads are paused and it asks again in a minute; check that [galaxy] url is Galaxy itself (not a proxy or another service) and that its release is one galaxy-importd supports (docs/galaxy-notes.md)`,
    component: null,
  },
  'daemon.start': { level: 'info', message: 'starting', component: null },
  'http.listening': { level: 'info', message: 'serving /healthz, /readyz and /metrics', component: null },
  'daemon.rescan': { level: 'info', message: 'rescanning the import directory and reading the API key again', component: null },
  'daemon.ready': { level: 'info', message: 'ready: start-up walk done, watching for new files', component: null },
  'daemon.stopping': { level: 'info', message: 'stopping: finishing or handing back uploads in flight', component: null },
  'daemon.stopped': { level: 'info', message: (e) => (e.ok === undefined ? 'stopped before the ledger could be opened' : 'stopped'), component: null },
  'ledger.replica_name': {
    level: (e) => (e.waiting ? 'warn' : 'info'),
    message: (e) => (e.waiting ? 'waiting for the replica name: set a different [state] replica_name for each replica' : 'replica name free again: starting'),
    component: 'ledger',
  },
  'ledger.lease_lost': { level: 'warn', message: 'files handed to another replica', component: 'ledger' },
  'ledger.unavailable': { level: 'error', message: 'the PostgreSQL ledger cannot be reached or refused a statement: files stay pending and nothing is sent until it works again', component: 'ledger' },
  'ledger.available': { level: 'info', message: 'the PostgreSQL ledger is reachable again', component: 'ledger' },
  // A stop with changes not written is not an outage (galaxy_importd_ledger_outages_total).
  'ledger.unwritten': {
    level: 'error',
    message: 'stopping with ledger changes not written: the files they concern are looked at again by the next replica that starts (nothing is lost; uploads are checked in Galaxy before being sent again)',
    event: 'ledger.unavailable',
    component: 'ledger',
  },
};

/** The `event` of an event's log line: its type, unless the table names another. */
export function eventName(e: DaemonEvent): string {
  return LINES[e.type].event ?? e.type;
}

/** Write one event's log line to `log` as it is (no component binding). */
export function writeEvent(log: Pick<Logger, Level> & Partial<Pick<Logger, 'isLevelEnabled'>>, e: DaemonEvent): void {
  const line = LINES[e.type] as Line<EventType>;
  const level = typeof line.level === 'function' ? line.level(e) : line.level;
  // A line below the log level is not built: a backlog says file.seen at debug level for each file.
  if (log.isLevelEnabled?.(level) === false) return;
  const { type, ...fields } = e as DaemonEvent & Record<string, unknown>;
  if (type === 'daemon.resume') delete fields.message;
  const message = typeof line.message === 'function' ? line.message(e) : line.message;
  log[level]({ event: line.event ?? type, ...fields }, message);
}

/** An Emit that writes each event's log line to `log`, bound to its component. */
export function logEvents(log: Logger): Emit {
  const children = { pipeline: log.child({ component: 'pipeline' }), ledger: log.child({ component: 'ledger' }) };
  return (e) => {
    const component = LINES[e.type].component;
    writeEvent(component === null ? log : children[component], e);
  };
}
