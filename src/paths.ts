/**
 * Paths relative to the import directory, '/'-separated: a file's identity in the ledger, the
 * log and the routes.
 */

/** The directory of a relative path: 'run1/a/x.fastq' → 'run1/a'; '' for a file at the top. */
export function relDirOf(relPath: string): string {
  const i = relPath.lastIndexOf('/');
  return i < 0 ? '' : relPath.slice(0, i);
}
