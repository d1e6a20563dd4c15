import { statSync } from 'node:fs';
import { readLibraryImportDir } from './galaxy-config.js';
import type { Config } from './options.js';

/**
 * What the config names on this host, checked apart from parsing: [galaxy] galaxy_config is
 * read for library_import_dir when [import] dir is not set, and the import directory must be
 * a directory. `at` names a key with its file and line for messages.
 */
export function checkEnvironment(config: Config, at: (section: string, key: string) => string): { config: Config; problems: string[] } {
  const problems: string[] = [];
  let importDir = config.import.dir;
  const galaxyConfig = config.galaxy.galaxy_config;
  if (importDir === null && galaxyConfig !== null) {
    try {
      importDir = readLibraryImportDir(galaxyConfig);
      if (importDir === null) problems.push(`${at('galaxy', 'galaxy_config')}: ${galaxyConfig} does not set library_import_dir; set it there (Galaxy needs it) or set [import] dir`);
    } catch (err) {
      problems.push(`${at('galaxy', 'galaxy_config')}: ${(err as Error).message}`);
    }
  }
  if (importDir !== null) {
    let st;
    try {
      st = statSync(importDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${at('import', 'dir')}: ${importDir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`}: create it, mount it, or fix the path`);
    }
    if (st && !st.isDirectory()) problems.push(`${at('import', 'dir')}: ${importDir} is not a directory`);
  }
  const found = importDir === config.import.dir ? config : { ...config, import: Object.freeze({ ...config.import, dir: importDir }) };
  return { config: found, problems };
}
