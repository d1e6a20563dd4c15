import { setMaxListeners } from 'node:events';
import { realpathSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { LiveKey } from './config/api-key.js';
import { fixedKey } from './config/api-key.js';
import type { Config } from './config/load.js';
import { GalaxyClient } from './galaxy/client.js';
import type { RequestTiming } from './galaxy/limiter.js';
import { requestLimiter } from './galaxy/limiter.js';
import type { FileState, Ledger } from './ledger/ledger.js';
import type { Emit } from './observe/events.js';
import type { Logger } from './observe/logger.js';
import type { Readiness } from './observe/readiness.js';
import { readiness } from './observe/readiness.js';
import { logEvents } from './observe/telemetry.js';
import { Admission } from './pipeline/admit.js';
import { afterUpload } from './pipeline/after-upload.js';
import { GRID_BELOW_RATE, GRID_MS } from './pipeline/grid.js';
import { KEY_PROBE_MS, galaxyGate } from './pipeline/gate.js';
import type { PauseKind } from './pipeline/gate.js';
import { Flow } from './pipeline/flow.js';
import { ManifestBook } from './pipeline/manifest-book.js';
import { Notifier } from './pipeline/notify.js';
import { createUploads } from './pipeline/pipeline.js';
import { Quiet } from './pipeline/quiet.js';
import { Resumer } from './pipeline/resume.js';
import { routeFile } from './pipeline/route.js';
import { slowWriterMs, statFileSync } from './pipeline/settle.js';
import { Discovery } from './watch/discovery.js';
import { createTreeWatcher } from './watch/watcher.js';

/**
 * The composition root: builds the stages from their modules in dependency order, the last
 * (upload) first, each handed what is downstream of it; what runs back up (a file done or
 * changed, the window's room, Galaxy's answers) goes through the Flow, which stages built later
 * listen to (docs/architecture.md, "One way"). It also orders start and stop.
 */

/** How long settling waits for the first walk at most (admit.ts, hold): a walk of 100,000 files takes 1–2 s. */
const FIRST_WALK_HOLD_MS = 30_000;
/** At stop, how long the last notifications may take (notify.ts); within systemd's stop timeout with the drain. */
const NOTIFY_FLUSH_MS = 1500;

export interface DaemonDeps {
  config: Config;
  /** The key, or its live source (read again on SIGHUP and while Galaxy refuses it). */
  apiKey: string | LiveKey;
  log: Logger;
  ledger: Ledger;
  /** Where events go; the default writes their log lines to `log`. */
  emit?: Emit;
  dispatcher?: Dispatcher;
  clock?: Clock;
  random?: () => number;
  /** Request timing for /metrics. */
  metrics?: RequestTiming;
}

export interface DaemonCounts {
  files: Record<FileState, number>;
  settling: number;
  /** Of `settling`, the files that wait only for their directory's ready marker. */
  waitingForMarker: number;
  inFlight: number;
}

export interface Daemon {
  /** Walk the tree, resume interrupted uploads, then (with `watch`) follow live changes. */
  start(opts: { watch: boolean }): Promise<void>;
  /** Walk again (rescan, SIGHUP); requests may hold batch_size files again after a 413 lowered it (upload.ceiling). */
  rescan(): Promise<void>;
  /** Read the API key again from its source (SIGHUP); a new key refused before is probed at once. */
  reloadKey(): void;
  /** Resolves when nothing is settling (but for files that wait for their ready marker), queued or in flight, or uploads are paused. */
  idle(): Promise<void>;
  counts(): DaemonCounts;
  /** Why uploads are paused (Galaxy refuses the key, or keeps answering what cannot be used), else null. */
  paused(): { kind: PauseKind; reason: string } | null;
  /** Stop watching, hand back unsent work to the ledger, wait for requests in flight up to `deadlineMs`. */
  stop(deadlineMs: number): Promise<void>;
  /** Files this process saw become failed, for `scan`'s exit status. */
  failedThisRun(): string[];
  /** Why the daemon is not ready (empty when it is): start-up walk, Galaxy, the key, the ledger; `wait: false`, Galaxy's last answer. */
  readiness: Readiness;
  /** Not stopping. */
  live(): boolean;
}

export function createDaemon(deps: DaemonDeps): Daemon {
  const { config, ledger } = deps;
  const clock = deps.clock ?? systemClock;
  const said = deps.emit ?? logEvents(deps.log);
  // What runs against the pipeline's direction goes through the flow: stages built later listen.
  const flow = new Flow();
  // Every event is logged, then goes to the flow's listeners (notify.ts counts new uploads).
  const emit: Emit = (e) => {
    said(e);
    flow.emit('said', e);
  };
  const importDir = config.import.dir;
  if (importDir === null || config.galaxy.url === null) throw new Error('createDaemon needs [import] dir and [galaxy] url');
  const { coordinator } = ledger;
  const stopping = new AbortController();
  setMaxListeners(0, stopping.signal);
  const shrank = (): void => flow.emit('shrank');
  const requests = requestLimiter(config.upload.concurrency, config.upload.rate_per_second, deps.metrics);
  const key = typeof deps.apiKey === 'string' ? fixedKey(deps.apiKey) : deps.apiKey;
  const client = new GalaxyClient({
    url: config.galaxy.url, apiKey: () => key.key, timeoutMs: config.galaxy.timeout_seconds * 1000, limiter: requests.limiter, clock,
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    onAnswer: (request, unusable) => flow.emit('answer', request, unusable),
  });
  // The gate closing ends idle(): while Galaxy refuses the key, nothing more happens.
  const gate = galaxyGate(client, (e) => (emit(e), shrank()), KEY_PROBE_MS, clock, key);
  flow.on('answer', gate.onAnswer);
  let answeredAt: number | null = null;
  flow.on('answer', (_request, unusable) => {
    if (unusable === null) answeredAt = clock.now();
  });
  const [rebuild, firstStart, startedAt] = [ledger.getMeta('created_at') === undefined, ledger.getMeta('first_start_done') === undefined, clock.now()];
  if (rebuild) ledger.setMeta('created_at', new Date(startedAt).toISOString());
  const route = (relPath: string) => routeFile(relPath, config);
  const { files, uploads, histories, access } = createUploads({
    config, client, ledger, gate, clock, emit, signal: stopping.signal, rebuild,
    ...(deps.random ? { random: deps.random } : {}),
    shrank, changed: (p) => flow.emit('changed', p),
    afterOk: afterUpload({
      importDir, action: config.import.after_upload, stat: (p) => statFileSync(importDir, p), emit, flow,
    }),
  });
  const notifies = config.library.notify?.length || [...config.folders.values()].some((f) => f.notify?.length);
  const notifier = notifies ? new Notifier({ client, roles: access, config, clock, emit: said, everyMs: config.library.notify_minutes * 60_000 }) : null;
  if (notifier) flow.on('said', notifier.observe);
  const admission = new Admission({
    importDir, realImportDir: realpathSync(importDir), ignore: config.import.ignore, readyMarker: config.import.ready_marker,
    skipBacklog: firstStart && config.import.backlog === 'skip', ledger, files, emit, route,
    queue: (f, r) => uploads.add(f, r), prepare: (p) => uploads.prepare(route(p)), burst: (on) => uploads.hold(on),
    stat: (p) => statFileSync(importDir, p), clock, settleMs: config.import.settle_seconds * 1000,
    slowMs: slowWriterMs(config.import.settle_seconds), grid: { ms: GRID_MS, belowRate: GRID_BELOW_RATE }, shrank,
    // Galaxy verifies the hashes of fetch items; upload_paths takes none.
    checksum: config.upload.checksum !== 'none' ? config.upload.checksum : null, signal: stopping.signal,
    ...(config.import.manifests.length > 0 ? {
      lists: {
        book: new ManifestBook(config.import.manifests), required: config.import.manifest_required, waitMs: config.import.manifest_wait_seconds * 1000,
        importLists: config.import.import_manifests, settleMs: config.import.settle_seconds * 1000,
      },
    } : {}),
  });
  // A file left the window: waiting files enter (then idle is told, below). A file changed: admitted again.
  flow.on('shrank', () => admission.refill());
  flow.on('changed', (p) => void admission.consider(p, false));
  const discovery = new Discovery({
    importDir, admit: admission, rescanMinutes: config.import.rescan_minutes, clock, emit, walked: shrank,
    watch: (o) => createTreeWatcher(importDir, { poll: config.import.poll, intervalMs: 2000, ...o }),
  });
  flow.on('done', (p) => discovery.unwatch(p));
  const resumer = new Resumer({
    coordinator, bar: (h) => histories.bar(h), resume: (rows, routeOf) => uploads.resume(rows, routeOf), reconsider: (p) => flow.emit('changed', p),
    route, clock, signal: stopping.signal, emit,
  });
  const quiet = new Quiet(() => discovery.walking === null && (gate.blocked !== null || (admission.settling === admission.waitingForMarker && files.active === 0)));
  flow.on('shrank', quiet.check);
  let started = false;

  return {
    async start({ watch }) {
      await resumer.start(watch);
      admission.resume();
      const walking = discovery.start(watch);
      admission.hold(walking, FIRST_WALK_HOLD_MS);
      await walking;
      started = true;
      if (firstStart) ledger.setMeta('first_start_done', new Date(clock.now()).toISOString());
    },
    rescan: () => {
      uploads.restoreBatchSize();
      return discovery.walk(false);
    },
    reloadKey: () => gate.reloadKey(),
    idle: () => quiet.wait(),
    live: () => !stopping.signal.aborted,
    readiness: readiness({
      started: () => started, stopping: () => stopping.signal.aborted, pause: () => gate.pause, probeGalaxy: () => client.version(),
      answeredAt: () => answeredAt, ledgerProblem: () => coordinator.problem(), clock,
    }),
    counts: () => ({ files: ledger.counts(), settling: admission.settling, waitingForMarker: admission.waitingForMarker, inFlight: files.active }),
    paused: () => gate.pause,
    failedThisRun: () => files.inState('failed').filter((r) => r.updatedAt >= startedAt).map((r) => r.path),
    async stop(deadlineMs) {
      stopping.abort();
      resumer.stop();
      admission.close();
      await discovery.close();
      gate.close();
      await uploads.stop(deadlineMs);
      await notifier?.flush(NOTIFY_FLUSH_MS);
      requests.clear();
      await client.close();
    },
  };
}
