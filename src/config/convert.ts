import path from 'node:path';
import type { AfterUpload, OptionType } from './options.js';

/** Strict conversion of INI values by the option table's types. */

export type Value = string | number | boolean | readonly string[] | AfterUpload | { host: string; port: number } | null;

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
