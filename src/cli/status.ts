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

/** One file's row, for `status PATH`: its state, where it went, its checksum and whether Galaxy verified it. */
function fileView(r: FileRecord): Record<string, unknown> {
  const [hashFunction, hex] = r.checksum === null ? [null, null] : [r.checksum.slice(0, r.checksum.indexOf(':')), r.checksum.slice(r.checksum.indexOf(':') + 1)];
  return {
    file: r.path, state: r.state, size: r.state === 'missing' ? null : r.size, mtime: r.state === 'missing' ? null : new Date(r.mtimeMs).toISOString(), attempts: r.attempts,
    library_id: r.libraryId, folder_id: r.folderId, dataset_id: r.datasetId, job_id: r.jobId,
    checksum: hex === null ? null : { hash_function: hashFunction, hex }, verified_by_galaxy: r.verified, reason: r.lastError, updated: new Date(r.updatedAt).toISOString(),
  };
}

export async function statusCommand(config: Config, io: DaemonIo, opts: { failed: boolean; json: boolean; paths?: readonly string[] }): Promise<number> {
  const ledger = await openClientLedger(config, io.env);
  try {
    if (opts.paths !== undefined && opts.paths.length > 0) {
      const views = opts.paths.map((p) => ({ p, r: ledger.get(relativePath(config, p)) }));
      if (opts.json) io.stdout.write(`${JSON.stringify(views.map(({ p, r }) => (r ? fileView(r) : { file: p, state: null, reason: 'not in the ledger' })), null, 2)}\n`);
      else {
        const lines = views.flatMap(({ p, r }) => {
          if (!r) return [`${p}: not in the ledger (not found yet, or outside the import directory)`, ''];
          const v = fileView(r);
          const sum = r.checksum === null ? 'none taken' : `${r.checksum.replace(':', ' ')}${r.verified ? ', verified by Galaxy in the job that imported it' : r.state === 'ok' ? ', not verified by Galaxy' : ''}`;
          return [
            `${r.path}: ${r.state}`, r.state === 'missing' ? '  not in the import directory' : `  size ${r.size}, modified ${String(v.mtime)}, ${r.attempts} attempt(s)`, `  checksum: ${sum}`,
            ...(r.datasetId ? [`  dataset ${r.datasetId} in folder ${r.folderId ?? '?'} of library ${r.libraryId ?? '?'}${r.jobId ? `, job ${r.jobId}` : ''}`] : []),
            ...(r.lastError ? [`  reason: ${r.lastError}`] : []), '',
          ];
        });
        io.stdout.write(lines.join('\n'));
      }
      return 0;
    }
    const replicas = await ledger.coordinator.replicas();
    // One count by directory and state: the totals by state are its sums.
    const byDirectory = ledger.countsByDirectory();
    const counts = zeroCounts();
    for (const r of byDirectory) counts[r.state] += r.count;
    const folders = countByFolder(byDirectory, config);
    const byFolder = new Map([...folders].map(([key, f]) => [key, f.counts]));
    const failed = opts.failed ? ledger.inState('failed') : [];
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({
        states: counts,
        folders: Object.fromEntries(byFolder),
        verified: Object.fromEntries([...folders].map(([key, f]) => [key, f.verified])),
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
      const verified = folders.get(folder)?.verified ?? 0;
      lines.push(`  ${folder}: ${FILE_STATES.filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}${s === 'ok' && verified > 0 ? ` (${verified} verified)` : ''}`).join(', ')}`);
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
      const rec = ledger.get(relativePath(config, p));
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

