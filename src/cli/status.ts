import type { Config } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { FileRecord, ReplicaInfo } from '../ledger/ledger.js';
import { FILE_STATES, zeroCounts } from '../ledger/ledger.js';
import { ledgerWhere } from '../ledger/open.js';
import { countByFolder } from '../pipeline/route.js';
import { systemClock } from '../clock.js';
import { createLogger } from '../observe/logger.js';
import { logEvents } from '../observe/telemetry.js';
import { Files } from '../pipeline/files.js';
import type { DaemonIo } from './io.js';
import { openClientLedger, relativePath } from './io.js';

/** `status` (the ledger by state, folder and replica) and `retry` (failed files queued again). */

export async function statusCommand(config: Config, io: DaemonIo, opts: { failed: boolean; json: boolean }): Promise<number> {
  const ledger = await openClientLedger(config, io.env);
  try {
    const replicas = await ledger.coordinator.replicas();
    // One count by directory and state: the totals by state are its sums.
    const byDirectory = ledger.countsByDirectory();
    const counts = zeroCounts();
    for (const r of byDirectory) counts[r.state] += r.count;
    const byFolder = new Map([...countByFolder(byDirectory, config)].map(([key, f]) => [key, f.counts]));
    const failed = opts.failed ? ledger.inState('failed') : [];
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({
        states: counts,
        folders: Object.fromEntries(byFolder),
        ...(replicas ? { replicas } : {}),
        ...(opts.failed ? { failed: failed.map((r: FileRecord) => ({ file: r.path, reason: r.lastError, attempts: r.attempts })) } : {}),
      }, null, 2)}\n`);
      return 0;
    }
    const lines = [`ledger: ${ledgerWhere(config)}`, '', 'files by state:'];
    for (const s of FILE_STATES) if (counts[s] > 0) lines.push(`  ${s.padEnd(10)} ${counts[s]}`);
    if (FILE_STATES.every((s) => counts[s] === 0)) lines.push('  (none yet)');
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
      const rel = relativePath(config, p);
      const rec = ledger.get(rel);
      if (rec?.state === 'failed') chosen.push(rec);
      else unknown.push(rec ? `${p} (it is ${rec.state}, not failed)` : `${p} (not in the ledger)`);
    }
    // Through the files' state machine, each with its event (upload.requeued, a log line on stderr).
    const files = new Files({ ledger, emit: logEvents(createLogger(config.log.level, io.stderr)), clock: systemClock });
    ledger.transaction(() => {
      for (const r of chosen) files.retryRequested(r);
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

