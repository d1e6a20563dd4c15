import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { Ledger } from '../ledger/ledger.js';
import { walk } from '../watch/walk.js';
import { LIST_SKIPPED } from './lists.js';
import { Rules, compileIgnore, ignoredReason } from './rules.js';
import { folderText, routeFile } from './route.js';
import { relDirOf } from '../paths.js';

/**
 * The plan of `scan --dry-run`: for each file below the import directory, what the daemon would
 * do with it now, decided by admission's own rules (rules.ts, `decide`) and routing (route.ts). It reads
 * the tree and the ledger; it writes nothing and asks Galaxy nothing.
 */

export type PlannedAction = 'upload' | 'done' | 'skip' | 'wait' | 'fail';

export interface PlannedFile {
  file: string;
  /** upload: it would be sent; done: the ledger holds this very version; wait: for its ready marker; fail: it would be recorded failed. */
  action: PlannedAction;
  /** Why, for every action but upload. */
  reason?: string;
  size?: number;
  library?: string;
  folder?: string;
  file_type?: string;
  dbkey?: string;
  tags?: readonly string[];
  link_data_only?: boolean;
  /** The Galaxy role its dataset would be restricted to; null: readable by all who see the library. */
  access?: string | null;
  notify?: readonly string[];
  /** Something to know about an upload: still being written, or a new version of an imported file. */
  note?: string;
}

export interface PlanOptions {
  config: Pick<Config, 'import' | 'library' | 'upload' | 'folders'>;
  /** The ledger, read only; null when there is none yet (the very first start). */
  ledger: Pick<Ledger, 'fingerprint' | 'getMeta'> | null;
  clock: Pick<Clock, 'now' | 'yieldTurn'>;
  onFile(file: PlannedFile): void;
}

/** Walk the import directory and say, for each file, what the daemon would do with it. */
export async function planImport(o: PlanOptions): Promise<void> {
  const { config, ledger } = o;
  const importDir = config.import.dir ?? '';
  const realImportDir = realpathSync(importDir);
  const marker = config.import.ready_marker;
  const rules = new Rules({ importDir, realImportDir, ignore: config.import.ignore, readyMarker: marker, fingerprint: (p) => ledger?.fingerprint(p) });
  const isList = compileIgnore(config.import.manifests);
  const skipBacklog = config.import.backlog === 'skip' && ledger?.getMeta('first_start_done') === undefined;
  const settleMs = config.import.settle_seconds * 1000;
  const markers = new Map<string, boolean>();
  const hasMarker = (relDir: string): boolean => {
    let has = markers.get(relDir);
    if (has === undefined) markers.set(relDir, (has = existsSync(path.join(importDir, relDir, marker ?? ''))));
    return has;
  };

  const entry = async (rel: string, kind: 'file' | 'symlink' | 'other'): Promise<PlannedFile> => {
    const d = await rules.decide(rel, { kind, backlog: skipBacklog });
    switch (d.kind) {
      case 'marker': return { file: rel, action: 'skip', reason: 'the ready marker itself is never imported' };
      case 'ignored': return { file: rel, action: 'skip', reason: d.reason };
      case 'gone': return { file: rel, action: 'skip', reason: 'gone while it was looked at' };
      case 'directory': return { file: rel, action: 'skip', reason: 'a symlink to a directory: walks and watches do not follow symlinked directories' };
      case 'skip': return { file: rel, action: 'skip', reason: d.reason, ...(d.stat ? { size: d.fp.size } : {}) };
      case 'done': {
        const reason = d.state === 'failed'
          ? 'failed before, with this very size and modification time: galaxy-importd status --failed says why, galaxy-importd retry sends it again'
          : `${d.state} in the ledger with this very size and modification time`;
        return { file: rel, action: 'done', reason, size: d.fp.size };
      }
      case 'candidate': break;
    }
    const st = d.fp;
    if (!config.import.import_manifests && isList(path.posix.basename(rel))) return { file: rel, action: 'skip', reason: LIST_SKIPPED, size: st.size };
    const unreadable = rules.settled(rel);
    if (unreadable !== null) return { file: rel, action: 'fail', reason: unreadable, size: st.size };
    const relDir = relDirOf(rel);
    if (marker !== null && !hasMarker(relDir)) {
      return { file: rel, action: 'wait', reason: `its directory has no ready marker (${marker}) yet: nothing in it is imported before the marker exists`, size: st.size };
    }
    const route = routeFile(rel, config);
    const notes: string[] = [];
    if (d.changed !== null) notes.push(`a new version (the ledger's ${d.changed}): uploaded as a new dataset`);
    const age = o.clock.now() - st.mtimeMs;
    if (age < settleMs) notes.push(`changed ${Math.max(0, Math.round(age / 1000))} s ago: sent once unchanged for settle_seconds (${config.import.settle_seconds})`);
    return {
      file: rel, action: 'upload', size: st.size, library: route.library, folder: folderText(route), file_type: route.fileType, dbkey: route.dbkey,
      tags: route.tags, link_data_only: route.link, access: route.access, notify: route.notify, ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
    };
  };

  await walk(importDir, {
    skipDir: (rel) => {
      const reason = ignoredReason(rel, rules.isIgnored, null);
      if (reason !== null) o.onFile({ file: `${rel}/`, action: 'skip', reason: `directory: ${reason}; nothing below it is imported` });
      return reason !== null;
    },
    onError: (rel, err) => o.onFile({ file: `${rel}/`, action: 'skip', reason: `directory cannot be read (${err.code ?? err.message}): nothing below it is imported until this user can read it` }),
    onEntry: async (rel, kind) => o.onFile(await entry(rel, kind)),
  }, o.clock);
}
