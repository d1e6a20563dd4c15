import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Read library_import_dir (or another path setting) from Galaxy's own configuration: galaxy.yml (the
 * `galaxy:` mapping) or the older paste-style galaxy.ini / universe_wsgi.ini
 * (`[app:main]`). Both are read line by line: `ini` would cut values at '#'
 * and ';' and there is no YAML parser in the dependencies, and only one flat
 * key is needed. Returns null when the file does not set it.
 */
export function readLibraryImportDir(file: string): string | null {
  return readGalaxyPath(file, 'library_import_dir');
}

/** A path setting of Galaxy's config (`key`, such as file_path), resolved against the file's directory; null when unset. */
export function readGalaxyPath(file: string, key: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const value = /\.ya?ml$/i.test(file) ? fromYaml(text, key) : fromPasteIni(text, key);
  if (value === null || value === '' || value === 'None' || value === 'null' || value === '~') return null;
  const here = path.dirname(path.resolve(file));
  return path.resolve(here, value.replaceAll('%(here)s', here));
}

function unquote(v: string): string {
  const t = v.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t.replace(/\s+#.*$/, '').trim();
}

function fromYaml(text: string, key: string): string | null {
  let inGalaxy = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line) && !line.startsWith('#')) inGalaxy = /^galaxy:\s*(#.*)?$/.test(line);
    if (!inGalaxy) continue;
    const m = new RegExp(`^\\s+${key}:\\s*(.*)$`).exec(line);
    if (m) return unquote(m[1] ?? '');
  }
  return null;
}

function fromPasteIni(text: string, key: string): string | null {
  let section = '';
  for (const line of text.split(/\r?\n/)) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    if (section !== 'app:main') continue;
    const m = new RegExp(`^\\s*${key}\\s*[=:]\\s*(.*)$`).exec(line);
    if (m) return (m[1] ?? '').trim();
  }
  return null;
}
