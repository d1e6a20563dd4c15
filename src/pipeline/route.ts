import type { Config } from '../config/load.js';
import type { FileState } from '../ledger/ledger.js';
import { zeroCounts } from '../ledger/ledger.js';

/** Where a file goes in Galaxy and with which dataset attributes. */
export interface Route {
  library: string;
  /** Folder path below the library root as segments; [] is the root folder. */
  folder: readonly string[];
  fileType: string;
  dbkey: string;
  tags: readonly string[];
  link: boolean;
  /** The Galaxy role (a name, or an email for a user's private role) its dataset is restricted to; null: readable by all who see the library. */
  access: string | null;
  /** Roles or emails told when files of this folder are ok. */
  notify: readonly string[];
}

/** The target folder's identity, for batching and caching: library and folder path. */
export function routeKey(route: Route): string {
  return `${route.library}\u0000/${route.folder.join('/')}`;
}

export function folderText(route: Route): string {
  return `/${route.folder.join('/')}`;
}

/**
 * The first path component is the subdirectory: it maps to the library folder
 * `/<subdir>` of [library] name unless a [folder:<subdir>] section says
 * otherwise; deeper directories become nested folders below it. Files at the
 * top of the import directory go to the library's root folder.
 */
export function routeFile(relPath: string, config: Pick<Config, 'library' | 'upload' | 'folders'>): Route {
  const dirs = relPath.split('/').slice(0, -1);
  const subdir = dirs[0];
  const rule = subdir === undefined ? undefined : config.folders.get(subdir);
  const base = subdir === undefined ? [] : (rule?.folder ?? `/${subdir}`).split('/').filter((s) => s !== '');
  return {
    library: rule?.library ?? config.library.name,
    folder: [...base, ...dirs.slice(1)],
    fileType: rule?.file_type ?? config.upload.file_type,
    dbkey: rule?.dbkey ?? config.upload.dbkey,
    tags: rule?.tags ?? [],
    link: rule?.link_data_only ?? config.upload.link_data_only,
    access: rule?.access !== undefined ? (rule.access[0] ?? null) : libraryAccess(rule?.library ?? config.library.name, config),
    notify: rule?.notify ?? config.library.notify ?? [],
  };
}

/**
 * The role a library is restricted to: [library] access for [library] name; for another
 * library, the access of the [folder:NAME] sections that name it (config/load.ts keeps them
 * equal); null when public.
 */
export function libraryAccess(library: string, config: Pick<Config, 'library' | 'folders'>): string | null {
  if (library === config.library.name) return config.library.access?.[0] ?? null;
  for (const rule of config.folders.values()) if (rule.library === library) return rule.access?.[0] ?? null;
  return null;
}

/** Files by library folder (where the config routes them) and state, for `status` and the status page. */
export interface FolderCounts {
  library: string;
  folder: string;
  counts: Record<FileState, number>;
  /** Files whose checksum Galaxy verified. */
  verified: number;
}

export function countByFolder(rows: Iterable<{ dir: string; state: FileState; count: number; verified: number }>, config: Pick<Config, 'library' | 'upload' | 'folders'>): Map<string, FolderCounts> {
  const byFolder = new Map<string, FolderCounts>();
  for (const r of rows) {
    // A route depends on the directory only: any name in it routes the same.
    const route = routeFile(r.dir === '' ? 'f' : `${r.dir}/f`, config);
    const key = `${route.library} ${folderText(route)}`;
    let entry = byFolder.get(key);
    if (!entry) byFolder.set(key, (entry = { library: route.library, folder: folderText(route), counts: zeroCounts(), verified: 0 }));
    entry.counts[r.state] += r.count;
    entry.verified += r.verified;
  }
  return byFolder;
}
