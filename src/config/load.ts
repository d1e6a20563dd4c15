import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ini from 'ini';
import { ConfigError } from '../errors.js';
import { convert } from './convert.js';
import type { Value } from './convert.js';
import { checkEnvironment } from './environment.js';
import { closest, scanIni } from './ini-scan.js';
import type { AfterUpload, Config, FolderRule, OptionSpec } from './options.js';
import { FOLDER_OPTIONS, OPTIONS, SECTIONS } from './options.js';

export type { AfterUpload, Config, FolderRule } from './options.js';

/**
 * Reading the config: the file, then its text parsed by the option table (options.ts) without
 * any other I/O, then what it names on this host (environment.ts). Every problem found is
 * reported at once, in one ConfigError.
 */

export interface LoadOptions {
  /** An explicit --config: it must exist. */
  explicitPath?: string;
  /** Paths tried in order when there is no explicit one; none existing gives an all-default config. */
  defaultPaths?: readonly string[];
}

export const DEFAULT_CONFIG_PATHS = ['/etc/galaxy-importd/galaxy-importd.ini', './galaxy-importd.ini'] as const;

/** Find and read the config file, parse it, and check what it names on this host. */
export function loadConfig(opts: LoadOptions = {}): Config {
  let file: string | null;
  if (opts.explicitPath !== undefined) {
    file = path.resolve(opts.explicitPath);
    if (!existsSync(file)) {
      throw new ConfigError([`${file}: no such config file (given with --config). Copy config/galaxy-importd.ini there and edit it.`]);
    }
  } else {
    file = (opts.defaultPaths ?? DEFAULT_CONFIG_PATHS).map((p) => path.resolve(p)).find((p) => existsSync(p)) ?? null;
  }
  let text = '';
  if (file !== null) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)}); check its permissions.`], { cause: err });
    }
  }
  const parsed = parse(text, file);
  const env = checkEnvironment(parsed.config, parsed.at);
  return finish(env.config, [...parsed.problems, ...env.problems], parsed.at);
}

/** Convert and validate config text, with no I/O; `file` names it in messages and anchors relative paths. */
export function parseConfig(text: string, file: string | null): Config {
  const parsed = parse(text, file);
  return finish(parsed.config, parsed.problems, parsed.at);
}

/** The checks between keys, then every problem at once. */
function finish(config: Config, problems: string[], at: (section: string, key: string) => string): Config {
  const all = [...problems, ...crossChecks(config, at)];
  if (all.length > 0) throw new ConfigError(all);
  return config;
}

function crossChecks(config: Config, at: (section: string, key: string) => string): string[] {
  const problems: string[] = [];
  const after: AfterUpload = config.import.after_upload;
  const anyLink = config.upload.link_data_only || [...config.folders.values()].some((f) => f.link_data_only === true);
  if (after.action !== 'keep' && anyLink) {
    problems.push(`${at('import', 'after_upload')}: ${after.action} cannot be combined with link_data_only = true: linked datasets point at the files, which must stay where they are`);
  }
  const importDir = config.import.dir;
  if (after.action === 'move' && importDir !== null) {
    const rel = path.relative(importDir, after.dir);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      problems.push(`${at('import', 'after_upload')}: move:${after.dir} lies inside the import directory, so moved files would be imported again; choose a directory outside it`);
    }
  }
  problems.push(...accessChecks(config, at));
  if (config.state.ledger === 'postgresql' && config.state.postgresql_url === null) {
    problems.push(`${at('state', 'ledger')}: postgresql needs [state] postgresql_url, such as postgresql://galaxy_importd@db.example.org:5432/galaxy_importd`);
  }
  return problems;
}

/**
 * Galaxy lets a dataset be read only by users who hold every one of its access roles (AND),
 * while a library is seen by members of any of its roles: so one role per access, and one
 * access per library.
 */
function accessChecks(config: Config, at: (section: string, key: string) => string): string[] {
  const problems: string[] = [];
  const one = (section: string, list: readonly string[] | null | undefined): void => {
    if (list && list.length > 1) {
      problems.push(`${at(section, 'access')}: names ${list.length} roles (${list.join(', ')}); Galaxy lets a dataset be read only by users who hold every one of its access roles, so name one: a role with the lab's people and groups (Galaxy: Admin → Roles → Create), or one user's email`);
    }
  };
  one('library', config.library.access);
  const byLibrary = new Map<string, { section: string; access: string }>();
  for (const [name, rule] of config.folders) {
    one(`folder:${name}`, rule.access);
    if (rule.library === undefined || rule.library === config.library.name) continue;
    const access = rule.access?.[0] ?? '';
    const first = byLibrary.get(rule.library);
    if (!first) byLibrary.set(rule.library, { section: `folder:${name}`, access });
    else if (first.access !== access) {
      problems.push(`${at(`folder:${name}`, 'access')}: library ${JSON.stringify(rule.library)} gets access ${JSON.stringify(access)} here but ${JSON.stringify(first.access)} in [${first.section}]; a library has one access in Galaxy, so give every section that names it the same access`);
    }
  }
  return problems;
}

/** The text converted by the tables: the Config (defaults where a value was bad) and the problems. */
function parse(text: string, file: string | null): { config: Config; problems: string[]; at: (section: string, key: string) => string } {
  const where = file ?? '(defaults)';
  const baseDir = file === null ? process.cwd() : path.dirname(file);
  const scanned = scanIni(text, where);
  const problems = [...scanned.problems];
  const parsed = ini.decode(scanned.text) as Record<string, unknown>;
  const at = (section: string, key: string): string => {
    const line = scanned.lines.get(`${section}\u0000${key}`);
    return line === undefined ? `${where}: [${section}] ${key}` : `${where}:${line}: [${section}] ${key}`;
  };
  const sections = new Map<string, Map<string, Value>>(SECTIONS.map((s) => [s, new Map()]));
  const folders = new Map<string, FolderRule>();

  const convertSection = (section: string, raw: Record<string, unknown>, specs: readonly OptionSpec[], sink: Map<string, Value>): void => {
    const known = specs.map((o) => o.key);
    for (const [key, rawValue] of Object.entries(raw)) {
      const spec = specs.find((o) => o.key === key);
      if (!spec) {
        const hint = closest(key, known);
        problems.push(`${at(section, key)}: unknown key${hint ? `; did you mean ${hint}?` : `; known keys: ${known.join(', ')}`}`);
        continue;
      }
      const res = convert(spec.type, rawValue, baseDir);
      if ('error' in res) problems.push(`${at(section, key)}: ${res.error}`);
      // An optional text option set to nothing is not set.
      else if (!(res.value === '' && spec.default === undefined)) sink.set(key, res.value);
    }
  };

  for (const [section, raw] of Object.entries(parsed)) {
    if (typeof raw !== 'object' || raw === null) continue; // keys outside sections were reported by scanIni()
    const body = raw as Record<string, unknown>;
    if (section.startsWith('folder:')) {
      const name = section.slice('folder:'.length);
      if (name === '' || name.includes('/')) {
        problems.push(`${where}: [${section}]: the part after folder: must be one subdirectory name of the import directory`);
        continue;
      }
      const rule = new Map<string, Value>();
      convertSection(section, body, FOLDER_OPTIONS, rule);
      folders.set(name, Object.fromEntries(rule));
      continue;
    }
    const values = sections.get(section);
    if (!values) {
      const hint = closest(section, [...SECTIONS, 'folder:NAME']);
      problems.push(`${where}: [${section}]: unknown section${hint ? `; did you mean [${hint}]?` : ''}`);
      continue;
    }
    convertSection(section, body, OPTIONS.filter((o) => o.section === section), values);
  }
  // Every option of the table: its value, else its default, else null.
  const built: Record<string, Record<string, Value>> = {};
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    const values = sections.get(spec.section) as Map<string, Value>;
    let value = values.get(spec.key) ?? null;
    if (!values.has(spec.key) && spec.default !== undefined) {
      const res = convert(spec.type, spec.default, baseDir);
      if ('error' in res) throw new Error(`option table default for [${spec.section}] ${spec.key} is invalid: ${res.error}`);
      value = res.value;
    }
    (built[spec.section] ??= {})[spec.key] = value;
  }
  const config = Object.freeze({
    ...Object.fromEntries(Object.entries(built).map(([s, v]) => [s, Object.freeze(v)])),
    file,
    folders,
  }) as unknown as Config;
  return { config, problems, at };
}

/** The checks only the daemon's commands need: the table's required options (a Galaxy URL, an import directory). */
export function requireDaemonKeys(config: Config): void {
  const where = config.file ?? 'the config file (none was found; pass --config PATH)';
  const values = config as unknown as Record<string, Record<string, unknown>>;
  const problems = (OPTIONS as readonly OptionSpec[])
    .filter((o) => o.required !== undefined && values[o.section]?.[o.key] === null)
    .map((o) => `${where}: [${o.section}] ${o.key} is required${o.required ?? ''}`);
  if (problems.length > 0) throw new ConfigError(problems);
}
