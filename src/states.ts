/**
 * The states of a file's journey, the ground floor's: the ledger stores them, the pipeline moves
 * files through them, and observe/ counts them.
 */

export type FileState = 'seen' | 'settling' | 'ready' | 'queued' | 'submitted' | 'retrying' | 'ok' | 'failed' | 'skipped' | 'missing';

/** `missing`: named by a provider's checksum list ([import] manifests) but not in the import directory (yet). */
export const FILE_STATES: readonly FileState[] = ['seen', 'settling', 'ready', 'queued', 'submitted', 'retrying', 'ok', 'failed', 'skipped', 'missing'];

/** States a file's journey ends in: only a change of the file (or `retry`) starts it again. */
export const DONE_STATES: ReadonlySet<FileState> = new Set(['ok', 'failed', 'skipped', 'missing']);

/** Every state at zero, to count into. */
export function zeroCounts(): Record<FileState, number> {
  return Object.fromEntries(FILE_STATES.map((s) => [s, 0])) as Record<FileState, number>;
}
