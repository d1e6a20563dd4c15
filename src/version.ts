import { readFileSync } from 'node:fs';

/** galaxy-importd's version, from package.json (two levels above dist/src/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
