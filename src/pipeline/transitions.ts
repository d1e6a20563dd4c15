import type { EventType } from '../observe/events.js';
import type { FileState } from '../states.js';
import { FILE_STATES } from '../states.js';

/**
 * Every change of a file's state, in one table (docs/architecture.md, "Per-file states"): from
 * which states (null: no row yet) to which, and the event it emits. `Files` (files.ts) carries
 * them out and refuses any other; test/pipeline/transitions.test.ts walks the table.
 */

export type TransitionName =
  | 'seen' | 'settling' | 'gone' | 'skipped' | 'refused' | 'claimed' | 'queued' | 'submitted' | 'job_known'
  | 'retrying' | 'requeued' | 'split' | 'unassigned' | 'failed' | 'ok' | 'found' | 'retry_requested' | 'resettled' | 'listed_missing';

export interface Transition {
  from: readonly (FileState | null)[];
  to: FileState;
  /** The event it emits; null for a write that adds what is known of the same request (its event was said with it). */
  event: EventType | null;
  /** What it means, for the docs and the test's names. */
  what: string;
  /** Carried out only when the row is in one of `from` (and says what `when` says); else nothing is written. */
  when?: string;
}

const ANY: readonly (FileState | null)[] = [null, ...FILE_STATES];
/** States of a file on its way to Galaxy in this process (files.ts, `#active`). */
const ON_ITS_WAY: readonly FileState[] = ['queued', 'submitted', 'retrying'];

export const TRANSITIONS: Readonly<Record<TransitionName, Transition>> = {
  seen: { from: ANY.filter((s) => s !== 'ok'), to: 'seen', event: 'file.seen', what: 'found while the window was full (or settling when the last run stopped): waits for its turn' },
  settling: { from: ['seen'], to: 'settling', event: 'file.settling', what: 'a waiting file\'s turn came' },
  gone: { from: ['seen', 'settling'], to: 'skipped', event: 'file.gone', what: 'deleted before it settled', when: 'a row said it was waiting (file.gone is said in any case)' },
  skipped: { from: ANY, to: 'skipped', event: 'file.skipped', what: 'never imported (a name rule, a symlink, not a regular file, the backlog)' },
  refused: { from: ANY, to: 'failed', event: 'upload.failed', what: 'settled but cannot be sent (not readable)' },
  claimed: { from: ANY, to: 'ready', event: 'file.ready', what: 'settled and claimed by this process (several replicas: one statement writes it for all of a turn)' },
  queued: { from: ANY, to: 'queued', event: 'upload.queued', what: 'ready and in its folder\'s batch' },
  submitted: { from: ['ready', ...ON_ITS_WAY], to: 'submitted', event: 'upload.submitted', what: 'recorded before the request goes out' },
  job_known: { from: ['submitted', 'retrying'], to: 'submitted', event: null, what: 'the request\'s job is known' },
  retrying: { from: ON_ITS_WAY, to: 'retrying', event: 'upload.retry', what: 'a failed try, sent again after a pause' },
  requeued: { from: ON_ITS_WAY, to: 'queued', event: 'upload.requeued', what: 'Galaxy refused the key: back to queued, the attempt not counted' },
  split: { from: ON_ITS_WAY, to: 'retrying', event: 'upload.split', what: 'a request that failed as a whole goes again in halves' },
  unassigned: { from: ['submitted', 'retrying'], to: 'retrying', event: null, what: 'the request created no job: the row forgets its history', when: 'the row still names that history' },
  failed: { from: ['ready', ...ON_ITS_WAY], to: 'failed', event: 'upload.failed', what: 'failed for good' },
  ok: { from: ON_ITS_WAY, to: 'ok', event: 'upload.ok', what: 'its dataset is ok in Galaxy' },
  found: { from: ON_ITS_WAY, to: 'ok', event: 'upload.ok', what: 'its dataset was in Galaxy already' },
  retry_requested: { from: ['failed'], to: 'queued', event: 'upload.requeued', what: 'galaxy-importd retry' },
  resettled: { from: ON_ITS_WAY, to: 'settling', event: 'file.changed', what: 'Galaxy read other bytes than those of its checksum: it settles again' },
  listed_missing: { from: [null, 'missing'], to: 'missing', event: 'file.missing', what: 'a provider\'s checksum list names it, and it is not in the import directory settle_seconds after the list was read' },
};

/** A change the table does not allow: a defect of galaxy-importd's, said with the file and both states. */
export class TransitionError extends Error {
  constructor(readonly file: string, readonly transition: TransitionName, readonly from: FileState | null) {
    super(`${file}: ${transition} from ${from ?? 'no row'} to ${TRANSITIONS[transition].to} is not a transition galaxy-importd makes`);
    this.name = 'TransitionError';
  }
}

/** Whether `name` may leave a file in state `from` (null: no row). */
export function allowed(name: TransitionName, from: FileState | null): boolean {
  return TRANSITIONS[name].from.includes(from);
}

/** Whether `name` may leave a file in any state: then the file's state need not be read to check it. */
export function fromAny(name: TransitionName): boolean {
  return ANY.every((s) => TRANSITIONS[name].from.includes(s));
}
