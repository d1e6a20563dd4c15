import { constants as fsc, promises as fsp, realpathSync } from 'node:fs';
import path from 'node:path';
import type { ApiKey } from '../config/api-key.js';
import { resolveApiKey } from '../config/api-key.js';
import type { Config } from '../config/load.js';
import { requireDaemonKeys } from '../config/load.js';
import type { Daemon } from '../daemon.js';
import { createDaemon } from '../daemon.js';
import type { HttpServer } from '../observe/http.js';
import { startHttpServer } from '../observe/http.js';
import { Metrics } from '../observe/metrics.js';
import { ConfigError, UsageError } from '../errors.js';
import { GalaxyClient } from '../galaxy/client.js';
import { compareReleases, OLDEST_TESTED, TESTED_RELEASES } from '../galaxy/releases.js';
import type { FileRecord, FileState, Ledger, ReplicaInfo } from '../ledger/ledger.js';
import { FILE_STATES, zeroCounts } from '../ledger/ledger.js';
import { ledgerWhere, openLedger } from '../ledger/open.js';
import type { Logger } from '../observe/logger.js';
import { fanOut } from '../observe/events.js';
import type { Emit } from '../observe/events.js';
import { createLogger } from '../observe/logger.js';
import { logEvents } from '../observe/telemetry.js';
import { version } from '../version.js';
import { folderText, routeFile } from '../pipeline/route.js';

export type Signal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

export interface DaemonIo {
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  onSignal(signal: Signal, handler: () => void): void;
}

/** How long `run` waits for requests in flight after SIGTERM; the systemd unit's TimeoutStopSec is above it. */
export const DRAIN_MS = 8000;

/** The ledger for `status`, `retry` and `check`: they claim nothing, and fail at once when it cannot be had. */
function openClientLedger(config: Config, env: NodeJS.ProcessEnv): Promise<Ledger> {
  const quiet = createLogger('silent');
  return openLedger(config, { role: 'client', log: quiet, env, version: version() });
}

/** The daemon's ledger: a shared one is waited for while its database cannot be reached. */
function openReplicaLedger(config: Config, io: DaemonIo, log: Logger, o: { signal?: AbortSignal; waitForName: boolean; emit: Emit }): Promise<Ledger> {
  return openLedger(config, { role: 'replica', log: log.child({ component: 'ledger' }), emit: o.emit, env: io.env, version: version(), waitForName: o.waitForName, ...(o.signal ? { signal: o.signal } : {}) });
}

function daemonSetup(config: Config, env: NodeJS.ProcessEnv): { key: ApiKey } {
  requireDaemonKeys(config);
  return { key: resolveApiKey(env, config.galaxy.api_key_file) };
}

export async function runCommand(config: Config, io: DaemonIo): Promise<number> {
  const { key } = daemonSetup(config, io.env);
  let daemonRef: Daemon | null = null;
  let ledgerRef: Ledger | null = null;
  const metrics = new Metrics({
    files: () => ledgerRef?.counts() ?? zeroCounts(),
    queueDepth: () => {
      const c = daemonRef?.counts();
      return c ? c.settling + c.inFlight : 0;
    },
  });
  const log = createLogger(config.log.level);
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
    ledger = await openReplicaLedger(config, io, log, { signal: early.signal, waitForName: true, emit });
  } catch (err) {
    // Stopped while waiting for the shared ledger's database: nothing was started.
    if (early.signal.aborted) {
      log.info({ event: 'daemon.stopped' }, 'stopped before the ledger could be opened');
      log.flush();
      return 0;
    }
    throw err;
  }
  ledgerRef = ledger;
  const daemon = createDaemon({ config, apiKey: key.key, log, emit, ledger, metrics });
  daemonRef = daemon;
  let server: HttpServer | null = null;
  if (config.http.listen !== null) {
    try {
      server = await startHttpServer(config.http.listen, {
        live: () => daemon.live(),
        ready: () => daemon.readiness(),
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      });
    } catch (err) {
      await ledger.close();
      throw new ConfigError([`[http] listen = ${config.http.listen.host}:${config.http.listen.port}: cannot listen there (${(err as NodeJS.ErrnoException).code ?? String(err)}); choose a free port, or leave it empty to turn the server off`], { cause: err });
    }
    log.info({ event: 'http.listening', host: config.http.listen.host, port: server.port }, 'serving /healthz, /readyz and /metrics');
  }
  io.onSignal('SIGHUP', () => {
    log.info({ event: 'daemon.rescan', reason: 'SIGHUP' }, 'rescanning the import directory');
    void daemon.rescan();
  });
  log.info({
    event: 'daemon.start', import_dir: config.import.dir, galaxy: config.galaxy.url, key_source: key.source, state_dir: config.state.dir,
    ...(ledger.coordinator.replica !== null ? { ledger: ledgerWhere(config), replica: ledger.coordinator.replica } : {}),
  }, 'starting');
  const started = daemon.start({ watch: true }).then(() => {
    const c = daemon.counts();
    log.info({ event: 'daemon.ready', ...c.files, settling: c.settling, in_flight: c.inFlight }, 'ready: start-up walk done, watching for new files');
  });
  const signal = await Promise.race([stopped, started.then(() => stopped)]);
  log.info({ event: 'daemon.stopping', signal }, 'stopping: finishing or handing back uploads in flight');
  await daemon.stop(DRAIN_MS);
  await started.catch(() => undefined);
  await server?.close();
  const c = daemon.counts();
  await ledger.close();
  log.info({ event: 'daemon.stopped', ...c.files }, 'stopped');
  log.flush();
  return 0;
}

export async function scanCommand(config: Config, io: DaemonIo): Promise<number> {
  const { key } = daemonSetup(config, io.env);
  const log = createLogger(config.log.level);
  const ledger = await openReplicaLedger(config, io, log, { waitForName: false, emit: logEvents(log) });
  const daemon = createDaemon({ config, apiKey: key.key, log, ledger });
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
  await daemon.stop(DRAIN_MS);
  const c = ledger.counts();
  await ledger.close();
  log.flush();
  if (paused?.kind === 'key') {
    io.stderr.write(`galaxy-importd: Galaxy refuses the API key: ${paused.reason}\nUse an admin user's current key (admin_users in galaxy.yml; User → Preferences → Manage API Key).\n`);
    return 1;
  }
  if (paused?.kind === 'unusable') {
    io.stderr.write(`galaxy-importd: Galaxy keeps answering ${paused.reason}\nThat answer cannot be used, so nothing more was sent: check that [galaxy] url is Galaxy itself and that its release is one galaxy-importd supports (docs/galaxy-notes.md). ${c.ok} ok; the rest stay queued for the next run.\n`);
    return 1;
  }
  io.stderr.write(`scan: ${c.ok} ok, ${failed.length} failed in this scan${interrupted ? ' (interrupted)' : ''}${failed.length ? ' — see galaxy-importd status --failed' : ''}\n`);
  return failed.length > 0 || interrupted ? 1 : 0;
}

export async function statusCommand(config: Config, io: DaemonIo, opts: { failed: boolean; json: boolean }): Promise<number> {
  const ledger = await openClientLedger(config, io.env);
  try {
    const replicas = await ledger.coordinator.replicas();
    const all = ledger.inState(...FILE_STATES);
    const byFolder = new Map<string, Record<FileState, number>>();
    for (const r of all) {
      const route = routeFile(r.path, config);
      const key = `${route.library} ${folderText(route)}`;
      const counts = byFolder.get(key) ?? zeroCounts();
      counts[r.state]++;
      byFolder.set(key, counts);
    }
    const failed = all.filter((r) => r.state === 'failed');
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({
        states: ledger.counts(),
        folders: Object.fromEntries(byFolder),
        ...(replicas ? { replicas } : {}),
        ...(opts.failed ? { failed: failed.map((r: FileRecord) => ({ file: r.path, reason: r.lastError, attempts: r.attempts })) } : {}),
      }, null, 2)}\n`);
      return 0;
    }
    const counts = ledger.counts();
    const lines = [`ledger: ${ledgerWhere(config)}`, '', 'files by state:'];
    for (const s of FILE_STATES) if (counts[s] > 0) lines.push(`  ${s.padEnd(10)} ${counts[s]}`);
    if (all.length === 0) lines.push('  (none yet)');
    lines.push('', 'by library and folder:');
    for (const [folder, c] of [...byFolder].sort()) {
      lines.push(`  ${folder}: ${FILE_STATES.filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`).join(', ')}`);
    }
    if (replicas) lines.push('', ...replicaLines(replicas, ledger.coordinator.leaseSeconds ?? 0));
    if (opts.failed) {
      lines.push('', failed.length ? 'failed files:' : 'no failed files');
      for (const r of failed) lines.push(`  ${JSON.stringify(r.path)}: ${r.lastError ?? 'no reason recorded'} (${r.attempts} attempts)`);
      if (failed.length) lines.push('', 'Fix the cause, then: galaxy-importd retry --all-failed (or retry PATH…)');
    }
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}

/** `status` of a shared ledger: each replica, whether it runs, and what it holds. */
function replicaLines(replicas: ReplicaInfo[], leaseSeconds: number): string[] {
  const lines = ['replicas:'];
  if (replicas.length === 0) lines.push('  (none has started yet)');
  for (const r of replicas) {
    const held = FILE_STATES.filter((s) => (r.holds[s] ?? 0) > 0).map((s) => `${r.holds[s] ?? 0} ${s}`).join(', ') || 'nothing';
    const where = r.host !== null ? ` on ${r.host}${r.pid !== null ? ` (pid ${r.pid})` : ''}` : '';
    const life = r.alive
      ? `running, renewed ${r.heartbeatAgeSeconds ?? 0} s ago`
      : r.heartbeatAgeSeconds === null
        ? 'stopped'
        : `not renewed for ${r.heartbeatAgeSeconds} s (lease ${leaseSeconds} s): presumed dead, its files are taken over`;
    lines.push(`  ${r.name}${where}: ${life}; holds ${held}`);
  }
  return lines;
}

export async function retryCommand(config: Config, io: DaemonIo, paths: string[], allFailed: boolean): Promise<number> {
  if (!allFailed && paths.length === 0) throw new UsageError('usage: galaxy-importd retry PATH… | --all-failed');
  const ledger = await openClientLedger(config, io.env);
  try {
    const chosen: FileRecord[] = [];
    const unknown: string[] = [];
    if (allFailed) chosen.push(...ledger.inState('failed'));
    for (const p of paths) {
      const rel = config.import.dir !== null && path.isAbsolute(p) ? path.relative(config.import.dir, p).split(path.sep).join('/') : p;
      const rec = ledger.get(rel);
      if (rec?.state === 'failed') chosen.push(rec);
      else unknown.push(rec ? `${p} (it is ${rec.state}, not failed)` : `${p} (not in the ledger)`);
    }
    ledger.transaction(() => {
      for (const r of chosen) ledger.update(r.path, { state: 'queued', attempts: 0, lastError: `retry requested after: ${r.lastError ?? 'failure'}` });
    });
    await ledger.coordinator.commit();
    const lease = ledger.coordinator.leaseSeconds;
    io.stdout.write(lease !== null
      ? `${chosen.length} file(s) queued again; a running replica takes them within ${Math.ceil(lease / 2)} s.\n`
      : `${chosen.length} file(s) queued again; a running daemon picks them up at its next rescan, or at once on SIGHUP (systemctl reload galaxy-importd).\n`);
    if (unknown.length) io.stderr.write(`not re-queued:\n  ${unknown.join('\n  ')}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}

export async function checkCommand(config: Config, io: DaemonIo): Promise<number> {
  const results: { ok: boolean; warn?: boolean; text: string; fix?: string }[] = [];
  const pass = (text: string): void => void results.push({ ok: true, text });
  const fail = (text: string, fix: string): void => void results.push({ ok: false, text, fix });
  const warn = (text: string, fix: string): void => void results.push({ ok: true, warn: true, text, fix });
  pass(`configuration ${config.file ?? '(defaults: no config file found)'} is valid`);
  try {
    requireDaemonKeys(config);
  } catch (err) {
    for (const p of (err as ConfigError).problems) fail(p, 'set it in the config file');
  }
  let key: ApiKey | null = null;
  try {
    key = resolveApiKey(io.env, config.galaxy.api_key_file);
    pass(`API key found (from ${key.source})`);
  } catch (err) {
    fail((err as ConfigError).problems.join('; '), 'provide the key as described');
  }
  if (config.import.dir !== null) {
    try {
      await fsp.access(config.import.dir, fsc.R_OK | fsc.X_OK);
      pass(`import directory ${config.import.dir} is readable`);
    } catch {
      fail(`import directory ${config.import.dir} is not readable by this user`, "run galaxy-importd as a user that can read it (usually Galaxy's own user)");
    }
  }
  try {
    const ledger = await openClientLedger(config, io.env);
    await ledger.close();
    pass(config.state.ledger === 'sqlite' ? `state directory ${config.state.dir} is writable (ledger opened)` : `the PostgreSQL ledger ${ledgerWhere(config)} is reachable and its schema is current`);
  } catch (err) {
    const problem = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
    fail(problem, config.state.ledger === 'sqlite'
      ? 'create the directory or fix [state] dir (a local disk, writable by this user)'
      : 'check [state] postgresql_url, that PostgreSQL accepts this user from this host (pg_hba.conf), and the password ($PGPASSWORD or [state] postgresql_password_file)');
  }
  if (config.galaxy.url !== null && key !== null) {
    const client = new GalaxyClient({ url: config.galaxy.url, apiKey: key.key, timeoutMs: config.galaxy.timeout_seconds * 1000 });
    try {
      const v = await client.version();
      pass(`Galaxy ${v.version_major} answers at ${config.galaxy.url}`);
      if (compareReleases(v.version_major, OLDEST_TESTED) < 0) {
        warn(`Galaxy ${v.version_major} is older than the oldest release galaxy-importd is tested on (${OLDEST_TESTED}; tested: ${TESTED_RELEASES.join(', ')})`,
          'it may work; if an answer cannot be used the daemon pauses and says which request (docs/galaxy-notes.md). Upgrading Galaxy is the sure way');
      }
      const user = await client.currentUser();
      if (user.is_admin === true) pass(`the key belongs to ${user.email ?? 'a user'}, an admin`);
      else fail(`the key belongs to ${user.email ?? 'a user'}, who is not an admin`, 'use the key of a user listed in admin_users in galaxy.yml');
      const conf = await client.configuration(['library_import_dir', 'is_admin_user']);
      const galaxyDir = typeof conf.library_import_dir === 'string' ? conf.library_import_dir : null;
      if (galaxyDir === null) {
        fail("Galaxy's library_import_dir is not set (or not visible to this key)", 'set library_import_dir in galaxy.yml to the import directory and restart Galaxy');
      } else if (config.import.dir !== null) {
        const same = ((): boolean => {
          try {
            return realpathSync(galaxyDir) === realpathSync(config.import.dir);
          } catch {
            return galaxyDir === config.import.dir;
          }
        })();
        if (same) pass(`Galaxy's library_import_dir is the watched directory (${galaxyDir})`);
        else fail(`Galaxy's library_import_dir is ${galaxyDir} but [import] dir is ${config.import.dir}`, 'they must be the same directory (in Docker: mount the volume at the same path in both containers)');
      }
    } catch (err) {
      fail(`Galaxy at ${config.galaxy.url}: ${(err as Error).message}`, 'check [galaxy] url, the network, and the key');
    } finally {
      await client.close();
    }
  }
  for (const r of results) io.stdout.write(r.warn ? `warn  ${r.text}\n      note: ${r.fix ?? ''}\n` : r.ok ? `ok    ${r.text}\n` : `FAIL  ${r.text}\n      fix: ${r.fix ?? ''}\n`);
  const bad = results.filter((r) => !r.ok).length;
  io.stdout.write(bad === 0 ? 'all checks passed\n' : `${bad} check(s) failed\n`);
  return bad === 0 ? 0 : 1;
}

/**
 * Ask the running daemon over its HTTP server: /healthz, or /readyz with
 * `ready`. For Docker's HEALTHCHECK and monitoring scripts.
 */
export async function healthCommand(config: Config, io: DaemonIo, opts: { ready: boolean }): Promise<number> {
  const listen = config.http.listen;
  if (listen === null) throw new ConfigError(['[http] listen is empty, so the daemon serves no health endpoint; set it (such as 127.0.0.1:9187) to use galaxy-importd health']);
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}/${opts.ready ? 'readyz' : 'healthz'}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const body = await res.text();
    io.stdout.write(`${url}: ${res.status} ${body}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    io.stderr.write(`galaxy-importd: no answer from ${url}: ${(err as Error).message}; is galaxy-importd run running with this config?\n`);
    return 1;
  }
}
