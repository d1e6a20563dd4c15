import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { liveKey } from '../config/api-key.js';
import type { Config } from '../config/load.js';
import type { Daemon } from '../daemon.js';
import { createDaemon } from '../daemon.js';
import { ConfigError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { zeroCounts } from '../ledger/ledger.js';
import { ledgerWhere } from '../ledger/open.js';
import { fanOut } from '../observe/events.js';
import type { HttpServer } from '../observe/http.js';
import { startHttpServer } from '../observe/http.js';
import { createLogger } from '../observe/logger.js';
import { Metrics } from '../observe/metrics.js';
import type { StatusData } from '../observe/status-page.js';
import { renderStatusPage } from '../observe/status-page.js';
import { logEvents } from '../observe/telemetry.js';
import { countByFolder } from '../pipeline/route.js';
import { version } from '../version.js';
import type { DaemonIo, Signal } from './io.js';
import { DRAIN_MS, daemonSetup, openReplicaLedger } from './io.js';

/** `run` (the daemon) and `scan` (one pass, then exit). */

export async function runCommand(config: Config, io: DaemonIo): Promise<number> {
  const { key } = daemonSetup(config, io.env);
  // One clock for the ledger, the daemon and the status page.
  const clock = systemClock;
  let daemonRef: Daemon | null = null;
  let ledgerRef: Ledger | null = null;
  const metrics = new Metrics({
    files: () => ledgerRef?.counts() ?? zeroCounts(),
    queueDepth: () => {
      const c = daemonRef?.counts();
      return c ? c.settling + c.inFlight : 0;
    },
    readiness: () => daemonRef?.readiness({ wait: false }) ?? Promise.resolve(['not started yet']),
    paused: () => daemonRef?.paused()?.kind ?? null,
    ledgerProblem: () => ledgerRef?.coordinator.problem() ?? null,
  });
  const secrets = [key.key];
  const log = createLogger(config.log.level, undefined, secrets);
  // Read again on SIGHUP and while Galaxy refuses it; each new key is hidden from the log too.
  const live = liveKey(io.env, config.galaxy.api_key_file, key, (k) => secrets.push(k));
  // Every event is written as its log line and counted by the metrics: the two cannot disagree.
  const emit = fanOut(logEvents(log), (e) => metrics.observe(e));
  let stopRequested!: (sig: Signal) => void;
  const stopped = new Promise<Signal>((resolve) => (stopRequested = resolve));
  const early = new AbortController();
  io.onSignal('SIGTERM', () => stopRequested('SIGTERM'));
  io.onSignal('SIGINT', () => stopRequested('SIGINT'));
  void stopped.then(() => early.abort());
  let ledger: Ledger;
  try {
    ledger = await openReplicaLedger(config, io, log, { signal: early.signal, waitForName: true, emit, clock });
  } catch (err) {
    // Stopped while waiting for the shared ledger's database: nothing was started.
    if (early.signal.aborted) {
      emit({ type: 'daemon.stopped' });
      log.flush();
      return 0;
    }
    throw err;
  }
  ledgerRef = ledger;
  const daemon = createDaemon({ config, apiKey: live, log, emit, ledger, metrics, clock });
  daemonRef = daemon;
  let server: HttpServer | null = null;
  if (config.http.listen !== null) {
    try {
      server = await startHttpServer(config.http.listen, {
        live: () => daemon.live(),
        ready: () => daemon.readiness(),
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
        page: statusPage(config, ledger, daemon, clock),
      });
    } catch (err) {
      await ledger.close();
      throw new ConfigError([`[http] listen = ${config.http.listen.host}:${config.http.listen.port}: cannot listen there (${(err as NodeJS.ErrnoException).code ?? String(err)}); choose a free port, or leave it empty to turn the server off`], { cause: err });
    }
    emit({ type: 'http.listening', host: config.http.listen.host, port: server.port });
  }
  io.onSignal('SIGHUP', () => {
    emit({ type: 'daemon.rescan', reason: 'SIGHUP' });
    daemon.reloadKey();
    void daemon.rescan();
  });
  emit({
    type: 'daemon.start', import_dir: config.import.dir, galaxy: config.galaxy.url, key_source: key.source, state_dir: config.state.dir,
    ...(ledger.coordinator.replica !== null ? { ledger: ledgerWhere(config), replica: ledger.coordinator.replica } : {}),
  });
  const started = daemon.start({ watch: true }).then(() => {
    const c = daemon.counts();
    emit({ type: 'daemon.ready', ...c.files, settling: c.settling, in_flight: c.inFlight });
  });
  const signal = await Promise.race([stopped, started.then(() => stopped)]);
  emit({ type: 'daemon.stopping', signal });
  await daemon.stop(DRAIN_MS);
  await started.catch(() => undefined);
  await server?.close();
  const c = daemon.counts();
  await ledger.close();
  emit({ type: 'daemon.stopped', ...c.files });
  log.flush();
  return 0;
}

/** How long the status page's count by folder (a count of the ledger's rows by directory) serves. */
const FOLDER_COUNTS_MS = 10_000;

/** The status page's data, gathered when it is asked for (a person, every few seconds at most). */
function statusPage(config: Config, ledger: Ledger, daemon: Daemon, clock: Pick<Clock, 'now'>): () => Promise<string> {
  let folders: { at: number; list: StatusData['folders'] } | null = null;
  const newestFirst = <T extends { updatedAt: number }>(rows: T[]): T[] => rows.sort((a, b) => b.updatedAt - a.updatedAt).slice(0, 20);
  return async () => {
    const now = clock.now();
    if (folders === null || now - folders.at > FOLDER_COUNTS_MS) {
      const list = [...countByFolder(ledger.countsByDirectory(), config).values()].sort((a, b) => a.library.localeCompare(b.library) || a.folder.localeCompare(b.folder));
      folders = { at: now, list };
    }
    const c = daemon.counts();
    return renderStatusPage({
      version: version(), galaxy: config.galaxy.url ?? '', importDir: config.import.dir ?? '', ledger: ledgerWhere(config), now,
      reasons: await daemon.readiness(), states: c.files, settling: c.settling, waitingForMarker: c.waitingForMarker, inFlight: c.inFlight,
      folders: folders.list,
      failures: newestFirst(ledger.inState('failed')).map((r) => ({ file: r.path, reason: r.lastError, attempts: r.attempts, at: r.updatedAt })),
      active: newestFirst(ledger.inState('queued', 'submitted', 'retrying')).map((r) => ({ file: r.path, state: r.state, attempts: r.attempts, at: r.updatedAt })),
    });
  };
}

export async function scanCommand(config: Config, io: DaemonIo): Promise<number> {
  const { key } = daemonSetup(config, io.env);
  const log = createLogger(config.log.level, undefined, [key.key]);
  // One clock for the ledger and the daemon.
  const clock = systemClock;
  const ledger = await openReplicaLedger(config, io, log, { waitForName: false, emit: logEvents(log), clock });
  const daemon = createDaemon({ config, apiKey: key.key, log, ledger, clock });
  let interrupted = false;
  let wake!: () => void;
  const interruption = new Promise<void>((resolve) => (wake = resolve));
  const interrupt = (): void => {
    interrupted = true;
    wake();
  };
  io.onSignal('SIGTERM', interrupt);
  io.onSignal('SIGINT', interrupt);
  const tty = io.stderr.isTTY === true;
  const progress = tty
    ? setInterval(() => {
      const c = daemon.counts();
      io.stderr.write(`\rscan: ${c.files.ok} ok, ${c.settling} settling, ${c.inFlight} uploading, ${c.files.failed} failed   `);
    }, 250)
    : null;
  try {
    // idle() also returns when Galaxy refuses the key: scan reports that rather than wait.
    await Promise.race([daemon.start({ watch: false }).then(() => daemon.idle()), interruption]);
  } finally {
    if (progress) clearInterval(progress);
    if (tty) io.stderr.write('\n');
  }
  const paused = daemon.paused();
  const failed = daemon.failedThisRun();
  const waiting = daemon.counts().waitingForMarker;
  await daemon.stop(DRAIN_MS);
  const c = ledger.counts();
  await ledger.close();
  log.flush();
  if (paused?.kind === 'key') {
    io.stderr.write(`galaxy-importd: Galaxy refuses the API key: ${paused.reason}\nUse an admin user's current key (admin_users in galaxy.yml; User → Preferences → Manage API Key).\n`);
    return 1;
  }
  if (paused?.kind === 'failing') {
    io.stderr.write(`galaxy-importd: Galaxy's upload jobs keep ending in error: ${paused.reason}\nNothing more was sent. Look at Galaxy's job handler log and the free space of its file_path (galaxy-importd check), then galaxy-importd retry --all-failed and scan again. ${c.ok} ok; the rest stay queued or failed for the next run.\n`);
    return 1;
  }
  if (paused?.kind === 'unusable') {
    io.stderr.write(`galaxy-importd: Galaxy keeps answering ${paused.reason}\nThat answer cannot be used, so nothing more was sent: check that [galaxy] url is Galaxy itself and that its release is one galaxy-importd supports (docs/galaxy-notes.md). ${c.ok} ok; the rest stay queued for the next run.\n`);
    return 1;
  }
  io.stderr.write(`scan: ${c.ok} ok, ${failed.length} failed in this scan${interrupted ? ' (interrupted)' : ''}${failed.length ? ' — see galaxy-importd status --failed' : ''}\n`);
  if (waiting > 0) io.stderr.write(`scan: ${waiting} file${waiting === 1 ? '' : 's'} not imported: ${waiting === 1 ? 'its directory has' : 'their directories have'} no ready marker (${config.import.ready_marker}) yet; a later scan, or run, imports ${waiting === 1 ? 'it' : 'them'} once the marker exists\n`);
  return failed.length > 0 || interrupted ? 1 : 0;
}

