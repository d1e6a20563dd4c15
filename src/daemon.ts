import { setMaxListeners } from 'node:events';
import { constants as fsc, promises as fsp, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import type { Dispatcher } from 'undici';
import type { Config } from './config/load.js';
import { GalaxyClient } from './galaxy/client.js';
import type { Limiter } from './galaxy/http.js';
import type { FileRecord, FileState, Ledger } from './ledger/ledger.js';
import { DONE_STATES, isInDoubt } from './ledger/ledger.js';
import type { Logger } from './observe/logger.js';
import type { Metrics } from './observe/metrics.js';
import { compileIgnore, ignoredReason } from './pipeline/admit.js';
import { Claims } from './pipeline/claims.js';
import { Gate } from './pipeline/gate.js';
import type { PauseKind } from './pipeline/gate.js';
import { HistoryPool } from './pipeline/histories.js';
import { routeFile } from './pipeline/route.js';
import type { Fingerprint } from './pipeline/settle.js';
import { Settler } from './pipeline/settle.js';
import { Targets } from './pipeline/targets.js';
import type { ReadyFile } from './pipeline/uploader.js';
import { Uploader } from './pipeline/uploader.js';
import type { EntryKind } from './watch/walk.js';
import { walk } from './watch/walk.js';
import type { TreeWatcher } from './watch/watcher.js';
import { createTreeWatcher } from './watch/watcher.js';

/**
 * The composition root: builds discover → settle → admit → route → queue →
 * submit → confirm → record from its parts. Only this file and cli/ know
 * every module.
 */

export interface DaemonDeps {
  config: Config;
  apiKey: string;
  log: Logger;
  ledger: Ledger;
  dispatcher?: Dispatcher;
  now?: () => number;
  random?: () => number;
  /** Request timing for /metrics. */
  metrics?: Pick<Metrics, 'requestDuration' | 'inFlight'>;
  /** Faster polling for tests and the demo; the defaults suit a real Galaxy. */
  tuning?: Partial<{ lingerMs: number; pollMinMs: number; pollMaxMs: number; keyProbeMs: number; slowMs: number }>;
}

export interface DaemonCounts {
  files: Record<FileState, number>;
  settling: number;
  inFlight: number;
}

export interface Daemon {
  /** Walk the tree, resume interrupted uploads, then (with `watch`) follow live changes. */
  start(opts: { watch: boolean }): Promise<void>;
  /** Walk again (rescan, SIGHUP). */
  rescan(): Promise<void>;
  /** Resolves when nothing is settling, queued or in flight. */
  idle(): Promise<void>;
  counts(): DaemonCounts;
  /** Why uploads are paused (Galaxy refuses the key, or keeps answering what cannot be used), else null. */
  paused(): { kind: PauseKind; reason: string } | null;
  /** Stop watching, hand back unsent work to the ledger, wait for requests in flight up to `deadlineMs`. */
  stop(deadlineMs: number): Promise<void>;
  /** Files this process saw become failed, for `scan`'s exit status. */
  failedThisRun(): string[];
  /** Why the daemon is not ready (empty when it is): start-up walk, Galaxy, the key. */
  readiness(): Promise<string[]>;
  /** Not stopping. */
  live(): boolean;
}

/** p-queue as the limiter for every Galaxy request: `concurrency` in flight, `rate_per_second` starts per second. */
function requestQueue(concurrency: number, ratePerSecond: number): PQueue {
  if (ratePerSecond <= 0) return new PQueue({ concurrency });
  const whole = Number.isInteger(ratePerSecond);
  return new PQueue({
    concurrency,
    intervalCap: whole ? ratePerSecond : 1,
    interval: whole ? 1000 : Math.ceil(1000 / ratePerSecond),
    strict: true,
  });
}

export function createDaemon(deps: DaemonDeps): Daemon {
  const { config, log, ledger } = deps;
  const now = deps.now ?? Date.now;
  const importDir = config.import.dir;
  if (importDir === null || config.galaxy.url === null) throw new Error('createDaemon needs [import] dir and [galaxy] url');
  const realImport = realpathSync(importDir);
  const queue = requestQueue(config.upload.concurrency, config.upload.rate_per_second);
  const timing = deps.metrics;
  const limiter: Limiter = timing
    ? (fn) => queue.add(async () => {
      timing.inFlight.inc();
      const end = timing.requestDuration.startTimer();
      let outcome = 'error';
      try {
        const result = await fn();
        outcome = 'ok';
        return result;
      } finally {
        timing.inFlight.dec();
        end({ outcome });
      }
    })
    : (fn) => queue.add(fn);
  const client = new GalaxyClient({
    url: config.galaxy.url,
    apiKey: deps.apiKey,
    timeoutMs: config.galaxy.timeout_seconds * 1000,
    limiter,
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    onAnswer: (request, unusable) => gate.onAnswer(request, unusable),
  });
  const fileLog = log.child({ component: 'pipeline' });
  const gate = new Gate(client, {
    refused: (message) => log.error({ event: 'galaxy.key_refused', reason: message }, 'Galaxy refuses the API key: uploads are paused until it works; check that it is an admin user\'s current key'),
    restored: () => log.info({ event: 'galaxy.key_ok' }, 'Galaxy accepts the API key again: uploads resume'),
    unusable: (request, reason) => void client.version().then((v) => `${v.version_major}${v.version_minor ? `.${v.version_minor}` : ''}`, () => 'unknown').then((version) => {
      log.error({ event: 'galaxy.unusable', request, reason, galaxy_version: version },
        `Galaxy ${version} keeps answering ${request} in a way galaxy-importd cannot use: uploads are paused and it asks again in a minute; check that [galaxy] url is Galaxy itself (not a proxy or another service) and that its release is one galaxy-importd supports (docs/galaxy-notes.md)`);
    }),
  }, deps.tuning?.keyProbeMs ?? 60_000);
  const shared = ledger.shared ?? null;
  /** Stops claims waiting for the shared ledger. */
  const stopSignal = new AbortController();
  setMaxListeners(0, stopSignal.signal);
  const claims = shared ? new Claims(shared, stopSignal.signal, (err) => fileLog.debug({ event: 'ledger.claim_retry', err: (err as Error).message }, 'claim failed; trying again')) : null;
  const targets = new Targets(client, config.library.description, {
    created: (kind, name, id) => log.info({ event: kind === 'library' ? 'library.created' : 'folder.created', library: kind === 'library' ? name : undefined, folder: kind === 'folder' ? name : undefined, id }, `${kind} created`),
    duplicate: (_kind, name, id) => log.warn({ event: 'library.duplicate', library: name, id }, 'several libraries have this name; using the first Galaxy lists'),
  }, shared ? (key, fn) => shared.withLock(key, fn) : null);
  const rebuild = ledger.getMeta('created_at') === undefined;
  if (rebuild) ledger.setMeta('created_at', new Date(now()).toISOString());
  const firstStart = ledger.getMeta('first_start_done') === undefined;
  const isIgnored = compileIgnore(config.import.ignore);
  const startedAt = now();
  let watcher: TreeWatcher | null = null;
  let rescanTimer: NodeJS.Timeout | null = null;
  let adoptTimer: NodeJS.Timeout | null = null;
  let stopping = false;
  let walking: Promise<void> | null = null;
  let admitting = 0;
  let started = false;
  let probe: { at: number; problem: string | null } | null = null;
  /** Files the watcher just found done, for the walk of their directory (emptied as the walk goes). */
  const knownDone = new Map<string, string>();
  let walkingDirs = 0;

  const afterOk = async (file: ReadyFile): Promise<void> => {
    watcher?.unwatch(file.path);
    // Written again while it was being uploaded: Galaxy's dataset may hold either version.
    // Never delete or move it then; it settles and is imported again (file.changed).
    const current = await statFile(file.path);
    if (current !== null && (current.size !== file.size || current.mtimeMs !== file.mtimeMs)) {
      void consider(file.path, false, 'file');
      return;
    }
    const action = config.import.after_upload;
    if (action.action === 'keep') return;
    const source = path.join(importDir, file.path);
    try {
      if (action.action === 'delete') {
        await fsp.unlink(source);
      } else {
        const dest = path.join(action.dir, file.path);
        await fsp.mkdir(path.dirname(dest), { recursive: true });
        try {
          await fsp.rename(source, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await fsp.copyFile(source, dest, fsc.COPYFILE_EXCL);
          await fsp.unlink(source);
        }
      }
      fileLog.info({ event: 'file.after_upload', file: file.path, action: action.action }, 'file handled after upload');
    } catch (err) {
      fileLog.warn({ event: 'file.after_upload', file: file.path, action: action.action, err: (err as Error).message }, 'could not move or delete the file after its upload; it stays recorded as ok');
    }
  };

  const histories = new HistoryPool(client, ledger);
  const uploader = new Uploader({
    client,
    ledger,
    targets,
    histories,
    gate,
    log: fileLog,
    options: {
      method: config.upload.method,
      importDir,
      batchSize: config.upload.batch_size,
      maxAttempts: config.upload.max_attempts,
      backoffMaxMs: config.upload.backoff_max_seconds * 1000,
      jobTimeoutMs: config.upload.job_timeout_minutes * 60_000,
      lingerMs: deps.tuning?.lingerMs ?? 200,
      pollMinMs: deps.tuning?.pollMinMs ?? 1000,
      pollMaxMs: deps.tuning?.pollMaxMs ?? 10_000,
      rebuild,
    },
    now,
    ...(deps.random ? { random: deps.random } : {}),
    afterOk,
  });

  const record = (relPath: string, fp: Fingerprint, state: FileState, reason: string, event: 'file.skipped' | 'upload.failed'): void => {
    const prev = ledger.get(relPath);
    if (prev?.state === state && prev.lastError === reason && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs) return;
    ledger.put({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, state, attempts: prev?.attempts ?? 0, lastError: reason, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, updatedAt: now() });
    (state === 'failed' ? fileLog.error.bind(fileLog) : fileLog.warn.bind(fileLog))({ event, file: relPath, reason }, state === 'failed' ? 'upload failed' : 'file skipped');
  };

  /**
   * A name that is not valid UTF-8 reaches us with U+FFFD in place of its bad bytes, so the
   * name we have opens nothing: say so instead of dropping the file silently.
   */
  const skipUndecodable = (relPath: string): void => {
    if (!relPath.includes('\uFFFD')) return;
    record(relPath, { size: 0, mtimeMs: 0 }, 'skipped', 'the name is not valid UTF-8 (shown with \uFFFD for the bad bytes), so it cannot be opened or given to Galaxy: rename it with UTF-8 characters', 'file.skipped');
  };

  const statFile = async (relPath: string): Promise<Fingerprint | null> => {
    try {
      const st = await fsp.stat(path.join(importDir, relPath));
      return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : null;
    } catch {
      return null;
    }
  };

  const settler = new Settler({
    settleMs: config.import.settle_seconds * 1000,
    readyMarker: config.import.ready_marker,
    stat: statFile,
    markerExists: async (relDir) => {
      try {
        await fsp.access(path.join(importDir, relDir, config.import.ready_marker ?? ''));
        return true;
      } catch {
        return false;
      }
    },
    slowMs: deps.tuning?.slowMs ?? Math.max(10 * config.import.settle_seconds * 1000, 600_000),
    onSlow: (relPath, ms) => fileLog.warn({ event: 'file.unsettled', file: relPath, duration_ms: ms, reason: 'still being written; it is imported once it stops changing for settle_seconds' }, 'file still changing'),
    onGone: (relPath) => fileLog.warn({ event: 'file.gone', file: relPath, reason: 'deleted or replaced by a non-file before it settled' }, 'file dropped'),
    onReady: (relPath, fp) => {
      // Between the settler and the uploader the file is counted here, so that idle() never sees a gap.
      admitting++;
      void (async () => {
        try {
          await fsp.access(path.join(importDir, relPath), fsc.R_OK);
        } catch (err) {
          record(relPath, fp, 'failed', `not readable by this user (${(err as NodeJS.ErrnoException).code ?? 'error'}): fix its permissions, then run galaxy-importd retry`, 'upload.failed');
          return;
        }
        // Several replicas: the one whose claim lands uploads it; the others leave it alone.
        if (claims && !(await claims.claim({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs }))) {
          fileLog.debug({ event: 'file.claimed_elsewhere', file: relPath }, 'another replica holds or has done this file');
          return;
        }
        const route = routeFile(relPath, config);
        fileLog.info({ event: 'file.ready', file: relPath, size: fp.size, library: route.library, folder: `/${route.folder.join('/')}` }, 'file ready');
        uploader.add({ path: relPath, size: fp.size, mtimeMs: fp.mtimeMs, readyAt: now() }, route);
      })().finally(() => admitting--);
    },
  });

  /** admit: decide what a discovered path is, and hand candidates to the settler. */
  const consider = async (relPath: string, initialWalk: boolean, kind: EntryKind | null = null): Promise<void> => {
    if (stopping) return;
    if (uploader.has(relPath)) return;
    if (settler.has(relPath)) {
      settler.touch(relPath);
      return;
    }
    const reason = ignoredReason(relPath, isIgnored, config.import.ready_marker);
    if (reason !== null) {
      if (reason === 'ready marker') settler.markerAppeared(relPath.includes('/') ? relPath.slice(0, relPath.lastIndexOf('/')) : '');
      return;
    }
    const full = path.join(importDir, relPath);
    // The walk already knows a plain file from a symlink; only live events need the lstat.
    let lst = null;
    if (kind !== 'file') {
      try {
        lst = await fsp.lstat(full);
      } catch {
        skipUndecodable(relPath);
        return; // gone already
      }
    }
    if (lst?.isSymbolicLink()) {
      let real: string;
      try {
        real = await fsp.realpath(full);
      } catch {
        record(relPath, { size: 0, mtimeMs: lst.mtimeMs }, 'skipped', 'symlink whose target does not exist (or a symlink loop)', 'file.skipped');
        return;
      }
      const inside = path.relative(realImport, real);
      if (inside.startsWith('..') || path.isAbsolute(inside)) {
        record(relPath, { size: 0, mtimeMs: lst.mtimeMs }, 'skipped', `symlink leaves the import directory (points to ${real}); Galaxy would import it with an admin key, so galaxy-importd refuses it`, 'file.skipped');
        return;
      }
    }
    let st;
    try {
      st = await fsp.stat(full);
    } catch {
      return;
    }
    admitStat(relPath, st, initialWalk);
  };

  /** The part of admit that needs only the file's stat: type, ledger, backlog. */
  const admitStat = (relPath: string, st: Stats, initialWalk: boolean): void => {
    if (st.isDirectory()) return;
    const fp = { size: st.size, mtimeMs: st.mtimeMs };
    if (!st.isFile()) {
      record(relPath, fp, 'skipped', 'not a regular file (FIFO, socket or device)', 'file.skipped');
      return;
    }
    const prev = ledger.fingerprint(relPath);
    if (prev && prev.size === fp.size && prev.mtimeMs === fp.mtimeMs && DONE_STATES.has(prev.state)) return;
    if (prev && DONE_STATES.has(prev.state) && prev.state !== 'skipped') {
      fileLog.info({ event: 'file.changed', file: relPath, size: fp.size, reason: `was ${prev.state} with size ${prev.size}` }, 'file changed since its last upload; it is imported again');
    }
    if (initialWalk && firstStart && config.import.backlog === 'skip') {
      record(relPath, fp, 'skipped', 'present at the very first start and [import] backlog = skip', 'file.skipped');
      return;
    }
    settler.touch(relPath);
  };

  /**
   * The walk's fast path for plain files: a synchronous stat and ledger look-up
   * (a few microseconds each) instead of a promise per file, so a tree of
   * 100,000 done files is checked in about a second.
   */
  const considerWalked = (relPath: string, kind: EntryKind, initial: boolean): Promise<void> | undefined => {
    if (kind !== 'file' || stopping || uploader.has(relPath) || settler.has(relPath)) return consider(relPath, initial, kind);
    if (ignoredReason(relPath, isIgnored, config.import.ready_marker) !== null) return consider(relPath, initial, kind);
    const st = statSync(path.join(importDir, relPath), { throwIfNoEntry: false });
    const seen = knownDone.get(relPath);
    if (seen !== undefined) knownDone.delete(relPath);
    if (st && !(seen === `${st.size}:${st.mtimeMs}` && st.isFile())) admitStat(relPath, st, initial);
    if (!st) skipUndecodable(relPath);
    return undefined;
  };

  const runWalk = async (initial: boolean): Promise<void> => {
    const started = now();
    // At most 64 files are looked at concurrently: a walk of 100,000 files must not queue 100,000 stats.
    const pending = new Set<Promise<void>>();
    const result = await walk(importDir, {
      onEntry: (relPath, kind) => {
        const started = considerWalked(relPath, kind, initial);
        if (!started) return undefined;
        const p = started.finally(() => pending.delete(p));
        pending.add(p);
        return pending.size >= 64 ? Promise.race(pending) : undefined;
      },
      ...(watcher ? { onDir: (relDir: string) => (watcher as TreeWatcher).addDir(relDir) } : {}),
      onError: (relPath, err) => log.warn({ event: 'watch.error', file: relPath, err: err.code ?? err.message }, 'cannot read a directory; its files are not imported until it is readable'),
      skipDir: (relPath) => ignoredReason(relPath, isIgnored, null) !== null,
    });
    await Promise.all(pending);
    log.debug({ event: 'daemon.walk', files: result.files, dirs: result.dirs, duration_ms: now() - started }, 'walk done');
  };

  const doWalk = (initial: boolean): Promise<void> => {
    walking ??= (async () => {
      walkingDirs++;
      try {
        await runWalk(initial);
      } finally {
        walkingDirs--;
        knownDone.clear();
        walking = null;
      }
    })();
    return walking;
  };

  const DONE_WATCH_STATES: ReadonlySet<FileState> = new Set(['ok', 'skipped']);

  return {
    async start({ watch }) {
      if (shared) {
        // Another replica's request in doubt is looked for in its history: this one must not send there.
        histories.bar(await shared.historiesInDoubt());
        resumeOrReconsider(await shared.adopt(true), 'confirming uploads interrupted by the last stop of this replica');
        if (watch) {
          adoptTimer = setInterval(() => void adoptAbandoned(), Math.max(2000, (shared.leaseSeconds * 1000) / 2));
          adoptTimer.unref();
        }
      } else {
        resumeOrReconsider([...ledger.inState('submitted'), ...ledger.inState('retrying')], 'confirming uploads interrupted by the last stop');
      }
      if (watch) {
        watcher = createTreeWatcher(importDir, {
          poll: config.import.poll,
          intervalMs: 2000,
          ignored: (relPath, stats) => {
            const parts = relPath.split('/');
            if (parts.some((p) => isIgnored(p)) && parts[parts.length - 1] !== config.import.ready_marker) return true;
            if (!stats?.isFile()) return false;
            const rec = ledger.fingerprint(relPath);
            const done = rec !== undefined && DONE_WATCH_STATES.has(rec.state) && rec.size === stats.size && rec.mtimeMs === stats.mtimeMs;
            // The walk lists this directory next: it can skip the same look-up (100,000 of them at start).
            if (done && walkingDirs > 0) knownDone.set(relPath, `${stats.size}:${stats.mtimeMs}`);
            return done;
          },
          onFile: (relPath, event) => {
            if (event === 'unlink') {
              if (settler.forget(relPath)) fileLog.warn({ event: 'file.gone', file: relPath, reason: 'deleted before it settled' }, 'file dropped');
              return;
            }
            void consider(relPath, false);
          },
          onDir: (relPath, event) => {
            if (event === 'addDir') void walkSub(relPath);
            else void watcher?.removeDir(relPath);
          },
          onError: (err) => log.error({ event: 'watch.error', err: err.message, code: (err as NodeJS.ErrnoException).code }, (err as NodeJS.ErrnoException).code === 'ENOSPC'
            ? 'out of inotify watches: raise fs.inotify.max_user_watches (see docs/operations.md); periodic rescans still find every file'
            : 'watcher error; periodic rescans still find every file'),
        });
      }
      await doWalk(true);
      started = true;
      if (firstStart) ledger.setMeta('first_start_done', new Date(now()).toISOString());
      if (watch && config.import.rescan_minutes > 0) {
        rescanTimer = setInterval(() => void doWalk(false), config.import.rescan_minutes * 60_000);
        rescanTimer.unref();
      }
    },
    rescan: () => doWalk(false),
    async idle() {
      // A look every 100 ms: settling runs on timers, and while Galaxy refuses the key the
      // uploads wait on the gate, which idle() must notice rather than wait for.
      for (;;) {
        if (walking) await walking;
        if (gate.blocked !== null) return;
        if (settler.size === 0 && admitting === 0 && uploader.pending === 0 && !walking) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    live: () => !stopping,
    async readiness() {
      const reasons: string[] = [];
      if (!started) reasons.push('the start-up walk is not done yet');
      const pause = gate.pause;
      if (pause !== null) reasons.push(pause.kind === 'key' ? `Galaxy refuses the API key: ${pause.reason}` : `Galaxy's answers cannot be used: ${pause.reason}`);
      if (probe === null || now() - probe.at > 5000) {
        let problem: string | null = null;
        try {
          await client.version();
        } catch (err) {
          problem = `Galaxy is not reachable: ${(err as Error).message}`;
        }
        probe = { at: now(), problem };
      }
      if (probe.problem !== null) reasons.push(probe.problem);
      const ledgerProblem = shared?.problem() ?? null;
      if (ledgerProblem !== null) reasons.push(ledgerProblem);
      if (stopping) reasons.push('stopping');
      return reasons;
    },
    counts: () => ({ files: ledger.counts(), settling: settler.size + admitting, inFlight: uploader.pending }),
    paused: () => gate.pause,
    failedThisRun: () => ledger.inState('failed').filter((r: FileRecord) => r.updatedAt >= startedAt).map((r) => r.path),
    async stop(deadlineMs) {
      stopping = true;
      stopSignal.abort();
      if (rescanTimer) clearInterval(rescanTimer);
      if (adoptTimer) clearInterval(adoptTimer);
      settler.close();
      await watcher?.close();
      gate.close();
      await uploader.stop(deadlineMs);
      queue.clear();
      await client.close();
    },
  };

  /**
   * Rows to pick up: a request sent, or retrying after a lost answer whose job could not be
   * looked for yet, may have a job in Galaxy, found through the history the row names; it is
   * confirmed, not sent again blindly. With `reconsider` (files taken over from another
   * replica), the others are looked at again as if just found.
   */
  function resumeOrReconsider(rows: FileRecord[], message: string, reconsider = false): void {
    const resumable = rows.filter(isInDoubt);
    if (resumable.length > 0) {
      log.info({ event: 'daemon.resume', files: resumable.length }, message);
      uploader.resume(resumable, (p) => routeFile(p, config));
    }
    if (reconsider) for (const r of rows) if (!isInDoubt(r)) void consider(r.path, false);
  }

  /** Files whose replica stopped renewing its claims (it died), and files `retry` queued: this replica takes them. */
  async function adoptAbandoned(): Promise<void> {
    if (!shared || stopping) return;
    const rows = await shared.adopt(false);
    if (rows.length === 0 || stopping) return;
    log.info({ event: 'ledger.adopted', files: rows.length }, 'took over files no running replica holds');
    resumeOrReconsider(rows, 'confirming uploads of a replica that stopped', true);
  }

  async function walkSub(relDir: string): Promise<void> {
    // A directory created or moved in: watch it (and what is below it), then look at its files.
    if (ignoredReason(relDir, isIgnored, null) !== null) return;
    await walk(path.join(importDir as string, relDir), {
      onEntry: (p) => void consider(`${relDir}/${p}`, false),
      onError: () => undefined,
      skipDir: (p) => ignoredReason(`${relDir}/${p}`, isIgnored, null) !== null,
      ...(watcher ? { onDir: (p: string) => (watcher as TreeWatcher).addDir(p === '' ? relDir : `${relDir}/${p}`) } : {}),
    });
  }
}
