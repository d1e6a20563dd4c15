import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ini from 'ini';
import { ConfigError } from '../errors.js';
import type { OptionSpec, OptionType } from './options.js';
import { FOLDER_OPTIONS, OPTIONS, SECTIONS } from './options.js';
import { readLibraryImportDir } from './galaxy-config.js';

export type AfterUpload = { action: 'keep' } | { action: 'delete' } | { action: 'move'; dir: string };

export interface FolderRule {
  library?: string;
  folder?: string;
  file_type?: string;
  dbkey?: string;
  tags?: readonly string[];
  link_data_only?: boolean;
}

export interface Config {
  readonly file: string | null;
  readonly galaxy: {
    readonly url: string | null;
    readonly api_key_file: string | null;
    readonly galaxy_config: string | null;
    readonly timeout_seconds: number;
  };
  readonly import: {
    /** Absolute; null only when no config names one (the api commands need none). */
    readonly dir: string | null;
    readonly settle_seconds: number;
    readonly ready_marker: string | null;
    readonly ignore: readonly string[];
    readonly poll: boolean;
    readonly rescan_minutes: number;
    readonly backlog: 'upload' | 'skip';
    readonly after_upload: AfterUpload;
  };
  readonly library: { readonly name: string; readonly description: string };
  readonly upload: {
    readonly method: 'fetch' | 'paths';
    readonly concurrency: number;
    readonly rate_per_second: number;
    readonly batch_size: number;
    readonly file_type: string;
    readonly dbkey: string;
    readonly link_data_only: boolean;
    readonly job_timeout_minutes: number;
    readonly max_attempts: number;
    readonly backoff_max_seconds: number;
  };
  readonly state: {
    readonly dir: string;
    readonly ledger: 'sqlite' | 'postgresql';
    readonly postgresql_url: string | null;
    readonly postgresql_password_file: string | null;
    readonly lease_seconds: number;
    readonly replica_name: string | null;
  };
  readonly log: { readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' };
  readonly http: { readonly listen: { host: string; port: number } | null };
  /** [folder:NAME] sections by subdirectory name, exactly as written (dots and spaces kept). */
  readonly folders: ReadonlyMap<string, FolderRule>;
}

type Value = string | number | boolean | readonly string[] | AfterUpload | { host: string; port: number } | null;

const describe = (raw: unknown): string => `${JSON.stringify(raw)} (${typeof raw})`;

/** Strict conversion of one INI value: "12abc" is an error, not 12. */
export function convert(type: OptionType, raw: unknown, baseDir: string): { value: Value } | { error: string } {
  // ini turns bare true/false/null into JSON values; everything else stays a string.
  const text = raw === null ? '' : typeof raw === 'boolean' ? String(raw) : raw;
  if (typeof text !== 'string') return { error: `expected a single value, got ${describe(raw)} (write it once, without [])` };
  const s = text.trim();
  switch (type.kind) {
    case 'string':
      return { value: s };
    case 'path':
      if (s === '') return { error: 'expected a path, got an empty value' };
      return { value: path.resolve(baseDir, s) };
    case 'url': {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        return { error: `expected an http:// or https:// URL, got ${JSON.stringify(s)}` };
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: `expected an http:// or https:// URL, got ${JSON.stringify(s)}` };
      if (u.searchParams.has('key')) return { error: 'the URL carries a key= parameter: put the API key in api_key_file or $GALAXY_API_KEY, never in the URL' };
      if (u.username || u.password) return { error: 'the URL carries credentials: remove them' };
      return { value: s.replace(/\/+$/, '') };
    }
    case 'postgresql_url': {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        // Not echoed: a mistyped URL may hold a password.
        return { error: 'expected a URL such as postgresql://USER@HOST:5432/DATABASE; this one does not parse' };
      }
      if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') return { error: `expected a postgresql:// URL, got ${JSON.stringify(`${u.protocol}//…`)}` };
      if (u.password || u.searchParams.has('password')) return { error: 'the URL carries a password: remove it and put it in [state] postgresql_password_file or $PGPASSWORD (the URL is logged; the password never is)' };
      return { value: s };
    }
    case 'integer':
    case 'number': {
      const pattern = type.kind === 'integer' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)$/;
      if (!pattern.test(s)) return { error: `expected ${type.kind === 'integer' ? 'a whole number' : 'a number'} from ${type.min} to ${type.max}, got ${JSON.stringify(s)}` };
      const n = Number(s);
      if (n < type.min || n > type.max) return { error: `expected ${type.kind === 'integer' ? 'a whole number' : 'a number'} from ${type.min} to ${type.max}, got ${JSON.stringify(s)}` };
      return { value: n };
    }
    case 'boolean': {
      const v = s.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(v)) return { value: true };
      if (['false', 'no', 'off', '0'].includes(v)) return { value: false };
      return { error: `expected true or false, got ${JSON.stringify(s)}` };
    }
    case 'list':
      return { value: s.split(',').map((x) => x.trim()).filter((x) => x !== '') };
    case 'enum':
      if (!type.values.includes(s)) return { error: `expected one of ${type.values.join(', ')}, got ${JSON.stringify(s)}` };
      return { value: s };
    case 'listen': {
      if (s === '') return { value: null };
      const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s);
      const port = m ? Number(m[2]) : NaN;
      if (!m || !(port >= 0 && port <= 65535)) return { error: `expected host:port (such as 127.0.0.1:9187) or nothing, got ${JSON.stringify(s)}` };
      return { value: { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port } };
    }
    case 'after_upload':
      if (s === 'keep' || s === 'delete') return { value: { action: s } };
      if (s.startsWith('move:') && s.length > 'move:'.length) return { value: { action: 'move', dir: path.resolve(baseDir, s.slice(5).trim()) } };
      return { error: `expected keep, delete or move:DIR, got ${JSON.stringify(s)}` };
  }
}

interface Scanned {
  text: string;
  problems: string[];
  lines: Map<string, number>;
}

/**
 * A pass over the raw lines before `ini` sees them: `ini` skips nothing it
 * cannot parse (a line without '=' becomes a key set to true) and nests
 * dotted section names, so malformed lines are reported here with their
 * numbers and dots in section names are escaped.
 */
function scan(text: string, file: string): Scanned {
  const problems: string[] = [];
  const lines = new Map<string, number>();
  const seen = new Set<string>();
  let section = '';
  const out: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const n = i + 1;
    const t = line.trim();
    if (t === '' || t.startsWith(';') || t.startsWith('#')) {
      out.push(line);
      return;
    }
    const header = /^\[(.*)\]\s*(?:[;#].*)?$/.exec(t);
    if (header) {
      section = (header[1] ?? '').trim();
      out.push(`[${section.replaceAll('.', '\\.')}]`);
      return;
    }
    if (t.startsWith('[')) {
      problems.push(`${file}:${n}: malformed section header ${JSON.stringify(t)}: write it as [section]`);
      out.push('');
      return;
    }
    if (/^\s/.test(line) && out.length > 0) {
      problems.push(`${file}:${n}: indented line ${JSON.stringify(t)}: continuation lines are not supported, write the value on one line`);
      out.push('');
      return;
    }
    const eq = t.indexOf('=');
    if (eq <= 0) {
      problems.push(`${file}:${n}: malformed line ${JSON.stringify(t)}: expected key = value`);
      out.push('');
      return;
    }
    if (section === '') {
      problems.push(`${file}:${n}: ${JSON.stringify(t)} comes before any [section]`);
      out.push('');
      return;
    }
    const key = t.slice(0, eq).trim();
    const id = `${section}\u0000${key}`;
    if (seen.has(id)) problems.push(`${file}:${n}: [${section}] ${key} is set twice; keep one`);
    seen.add(id);
    lines.set(id, n);
    out.push(line);
  });
  return { text: out.join('\n'), problems, lines };
}

function closest(word: string, candidates: readonly string[]): string | null {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = d[i] as number[];
        const prev = d[i - 1] as number[];
        row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    return (d[a.length] as number[])[b.length] ?? Infinity;
  };
  let best: string | null = null;
  let bestD = 3;
  for (const c of candidates) {
    const dd = dist(word, c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return best;
}

export interface LoadOptions {
  /** An explicit --config: it must exist. */
  explicitPath?: string;
  /** Paths tried in order when there is no explicit one; none existing gives an all-default config. */
  defaultPaths?: readonly string[];
}

export const DEFAULT_CONFIG_PATHS = ['/etc/galaxy-importd/galaxy-importd.ini', './galaxy-importd.ini'] as const;

/** Find, read, convert and validate the config; every problem is reported at once in a ConfigError. */
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
  return parseConfig(text, file);
}

/** Convert and validate config text; `file` names it in messages and anchors relative paths. */
export function parseConfig(text: string, file: string | null): Config {
  const where = file ?? '(defaults)';
  const baseDir = file === null ? process.cwd() : path.dirname(file);
  const scanned = scan(text, where);
  const problems = [...scanned.problems];
  const parsed = ini.decode(scanned.text) as Record<string, unknown>;
  const at = (section: string, key: string): string => {
    const line = scanned.lines.get(`${section}\u0000${key}`);
    return line === undefined ? `${where}: [${section}] ${key}` : `${where}:${line}: [${section}] ${key}`;
  };

  const values = new Map<string, Value>();
  const folders = new Map<string, FolderRule>();

  const convertSection = (section: string, raw: Record<string, unknown>, specs: readonly OptionSpec[], sink: (key: string, v: Value) => void): void => {
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
      else sink(key, res.value);
    }
  };

  for (const [section, raw] of Object.entries(parsed)) {
    if (typeof raw !== 'object' || raw === null) continue; // keys outside sections were reported by scan()
    const body = raw as Record<string, unknown>;
    if (section.startsWith('folder:')) {
      const name = section.slice('folder:'.length);
      if (name === '' || name.includes('/')) {
        problems.push(`${where}: [${section}]: the part after folder: must be one subdirectory name of the import directory`);
        continue;
      }
      const rule: Record<string, unknown> = {};
      convertSection(section, body, FOLDER_OPTIONS, (k, v) => {
        rule[k] = v;
      });
      folders.set(name, rule);
      continue;
    }
    if (!SECTIONS.includes(section)) {
      const hint = closest(section, [...SECTIONS, 'folder:NAME']);
      problems.push(`${where}: [${section}]: unknown section${hint ? `; did you mean [${hint}]?` : ''}`);
      continue;
    }
    convertSection(section, body, OPTIONS.filter((o) => o.section === section), (k, v) => values.set(`${section}.${k}`, v));
  }
  for (const spec of OPTIONS) {
    const id = `${spec.section}.${spec.key}`;
    if (values.has(id) || spec.default === undefined) continue;
    const res = convert(spec.type, spec.default, baseDir);
    if ('error' in res) throw new Error(`option table default for ${id} is invalid: ${res.error}`);
    values.set(id, res.value);
  }
  const get = <T extends Value>(id: string): T => values.get(id) as T;
  const opt = <T extends Value>(id: string): T | null => (values.has(id) ? (values.get(id) as T) : null);

  let importDir = opt<string>('import.dir');
  const galaxyConfig = opt<string>('galaxy.galaxy_config');
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
  const after = get<AfterUpload>('import.after_upload');
  const anyLink = get<boolean>('upload.link_data_only') || [...folders.values()].some((f) => f.link_data_only === true);
  if (after.action !== 'keep' && anyLink) {
    problems.push(`${at('import', 'after_upload')}: ${after.action} cannot be combined with link_data_only = true: linked datasets point at the files, which must stay where they are`);
  }
  if (after.action === 'move' && importDir !== null) {
    const rel = path.relative(importDir, after.dir);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      problems.push(`${at('import', 'after_upload')}: move:${after.dir} lies inside the import directory, so moved files would be imported again; choose a directory outside it`);
    }
  }
  if (get<string>('state.ledger') === 'postgresql' && !opt<string>('state.postgresql_url')) {
    problems.push(`${at('state', 'ledger')}: postgresql needs [state] postgresql_url, such as postgresql://galaxy_importd@db.example.org:5432/galaxy_importd`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    file,
    galaxy: Object.freeze({
      url: opt<string>('galaxy.url'),
      api_key_file: opt<string>('galaxy.api_key_file'),
      galaxy_config: galaxyConfig,
      timeout_seconds: get<number>('galaxy.timeout_seconds'),
    }),
    import: Object.freeze({
      dir: importDir,
      settle_seconds: get<number>('import.settle_seconds'),
      ready_marker: opt<string>('import.ready_marker') || null,
      ignore: get<string[]>('import.ignore'),
      poll: get<boolean>('import.poll'),
      rescan_minutes: get<number>('import.rescan_minutes'),
      backlog: get<'upload' | 'skip'>('import.backlog'),
      after_upload: after,
    }),
    library: Object.freeze({ name: get<string>('library.name'), description: get<string>('library.description') }),
    upload: Object.freeze({
      method: get<'fetch' | 'paths'>('upload.method'),
      concurrency: get<number>('upload.concurrency'),
      rate_per_second: get<number>('upload.rate_per_second'),
      batch_size: get<number>('upload.batch_size'),
      file_type: get<string>('upload.file_type'),
      dbkey: get<string>('upload.dbkey'),
      link_data_only: get<boolean>('upload.link_data_only'),
      job_timeout_minutes: get<number>('upload.job_timeout_minutes'),
      max_attempts: get<number>('upload.max_attempts'),
      backoff_max_seconds: get<number>('upload.backoff_max_seconds'),
    }),
    state: Object.freeze({
      dir: get<string>('state.dir'),
      ledger: get<'sqlite' | 'postgresql'>('state.ledger'),
      postgresql_url: opt<string>('state.postgresql_url'),
      postgresql_password_file: opt<string>('state.postgresql_password_file'),
      lease_seconds: get<number>('state.lease_seconds'),
      replica_name: opt<string>('state.replica_name') || null,
    }),
    log: Object.freeze({ level: get<Config['log']['level']>('log.level') }),
    http: Object.freeze({ listen: get<{ host: string; port: number } | null>('http.listen') }),
    folders,
  });
}

/** The checks only the daemon's commands need: a Galaxy URL and an import directory. */
export function requireDaemonKeys(config: Config): void {
  const problems: string[] = [];
  const where = config.file ?? 'the config file (none was found; pass --config PATH)';
  if (config.galaxy.url === null) problems.push(`${where}: [galaxy] url is required: Galaxy's base URL, such as http://127.0.0.1:8080`);
  if (config.import.dir === null) problems.push(`${where}: [import] dir is required (or [galaxy] galaxy_config naming a Galaxy config that sets library_import_dir)`);
  if (problems.length > 0) throw new ConfigError(problems);
}
