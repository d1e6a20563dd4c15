import { systemClock } from '../clock.js';
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { ledgerWhere, openLedgerReadOnly } from '../ledger/open.js';
import { createLogger } from '../observe/logger.js';
import type { PlannedAction, PlannedFile } from '../pipeline/plan.js';
import { planImport } from '../pipeline/plan.js';
import { version } from '../version.js';
import type { DaemonIo } from './io.js';

/**
 * `scan --dry-run`: what a scan would do with each file now, and why it would leave one out.
 * Uploads nothing, creates nothing in Galaxy (it asks Galaxy nothing) and writes nothing to the
 * ledger. Exit 1 when a file would fail (unreadable), else 0.
 */
export async function dryRunCommand(config: Config, io: DaemonIo, opts: { json: boolean }): Promise<number> {
  if (config.import.dir === null) throw new ConfigError([`${config.file ?? 'the config file'}: [import] dir is required (or [galaxy] galaxy_config naming a Galaxy config that sets library_import_dir)`]);
  const ledger = await openLedgerReadOnly(config, { log: createLogger('silent'), env: io.env, version: version(), clock: systemClock });
  const counts: Record<PlannedAction, number> = { upload: 0, done: 0, skip: 0, wait: 0, fail: 0 };
  /** Per destination: files, bytes, and the attributes its datasets get. */
  const destinations = new Map<string, { files: number; bytes: number; sample: PlannedFile }>();
  const files: PlannedFile[] = [];
  const lines: string[] = [];
  try {
    await planImport({
      config, ledger, clock: systemClock,
      onFile: (f) => {
        counts[f.action]++;
        if (opts.json) files.push(f);
        else lines.push(line(f));
        if (f.action !== 'upload') return;
        const key = `${f.library ?? ''}\u0000${f.folder ?? ''}\u0000${f.file_type ?? ''}\u0000${f.dbkey ?? ''}\u0000${(f.tags ?? []).join(',')}\u0000${String(f.link_data_only)}\u0000${f.access ?? ''}\u0000${(f.notify ?? []).join(',')}`;
        const d = destinations.get(key) ?? { files: 0, bytes: 0, sample: f };
        d.files++;
        d.bytes += f.size ?? 0;
        destinations.set(key, d);
      },
    });
  } finally {
    await ledger?.close();
  }
  const summary = {
    ledger: ledger === null ? `${ledgerWhere(config)} (none yet: a first start)` : ledgerWhere(config),
    ...counts,
    destinations: [...destinations.values()].map(({ files: n, bytes, sample: s }) => ({
      library: s.library, folder: s.folder, files: n, bytes, file_type: s.file_type, dbkey: s.dbkey, tags: s.tags, link_data_only: s.link_data_only, access: s.access, notify: s.notify,
    })),
  };
  if (opts.json) {
    io.stdout.write(`${JSON.stringify({ dry_run: true, files, summary }, null, 2)}\n`);
  } else {
    const out = ['scan --dry-run: nothing is uploaded, nothing is created in Galaxy, the ledger is only read', `ledger: ${summary.ledger}`, '', ...lines];
    if (lines.length === 0) out.push('(no files below the import directory)');
    if (summary.destinations.length > 0) out.push('', 'where uploads would go (libraries and folders are created when missing):');
    for (const d of summary.destinations) {
      const attrs = [`file_type ${d.file_type ?? ''}`, `dbkey ${d.dbkey ?? ''}`];
      if ((d.tags ?? []).length > 0) attrs.push(`tags ${(d.tags ?? []).join(', ')}`);
      if (d.link_data_only === true) attrs.push('linked, not copied');
      attrs.push(d.access ? `access ${d.access} only` : 'access: all who see the library');
      if ((d.notify ?? []).length > 0) attrs.push(`notify ${(d.notify ?? []).join(', ')}`);
      out.push(`  ${JSON.stringify(d.library)} ${d.folder ?? ''}: ${d.files} file${d.files === 1 ? '' : 's'}, ${d.bytes} bytes (${attrs.join('; ')})`);
    }
    out.push('', `${counts.upload} to upload, ${counts.done} done already, ${counts.skip} skipped, ${counts.wait} waiting for a ready marker, ${counts.fail} that would fail`);
    io.stdout.write(`${out.join('\n')}\n`);
  }
  return counts.fail > 0 ? 1 : 0;
}

function line(f: PlannedFile): string {
  const name = JSON.stringify(f.file);
  if (f.action !== 'upload') return `${f.action.padEnd(6)} ${name}: ${f.reason ?? ''}`;
  return `upload ${name} -> ${JSON.stringify(f.library)} ${f.folder ?? ''}${f.note ? ` (${f.note})` : ''}`;
}
