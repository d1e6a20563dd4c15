/**
 * Name rules: which paths are never imported. Patterns use * and ? and match
 * whole path components, so `.*` also covers hidden directories and rsync's
 * `.name.XXXXXX` temporaries.
 */
export function compileIgnore(patterns: readonly string[]): (name: string) => boolean {
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`, 's'));
  return (name) => regexes.some((re) => re.test(name));
}

/** Why a relative path is never imported, or null when it may be. */
export function ignoredReason(relPath: string, isIgnored: (name: string) => boolean, readyMarker: string | null): string | null {
  const parts = relPath.split('/');
  const name = parts[parts.length - 1] ?? '';
  if (readyMarker !== null && name === readyMarker) return 'ready marker';
  const hit = parts.find((p) => isIgnored(p));
  return hit === undefined ? null : `name matches [import] ignore (${hit})`;
}
