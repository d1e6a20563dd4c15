import type { FileRecord } from '../ledger/ledger.js';
import type { Group } from './batcher.js';
import type { Confirmer } from './confirm.js';
import type { Files, ReadyFile } from './files.js';
import type { HistoryPool } from './histories.js';
import { isHistoryGone } from './histories.js';
import type { Recovery } from './recover.js';
import type { Verdict } from './retry.js';
import { classify } from './retry.js';
import { checksumOf } from './checksum.js';
import type { Route } from './route.js';
import { routeKey } from './route.js';
import type { Part, Sent, Submitter } from './submit.js';
import type { Emit } from '../observe/events.js';

/**
 * One request's run (uploads.ts runs the loop around it): sent in an upload history, a lost
 * answer looked for among the history's jobs, a deleted history replaced, and what came of it:
 * confirmed (each folder in its own), to be sent again, to be split, or failed.
 */

/** A folder's files in a request about to go: its target, and the attempt it is for them. */
export interface Sending extends Part {
  files: ReadyFile[];
  attempt: number;
}

/** What came of a request. `split`: these parts' files go again, apart (a request that failed as a whole). */
export type Attempt = { kind: 'stopped' } | { kind: 'done' } | { kind: 'resend' } | { kind: 'split'; parts: Sending[]; reason: string; jobId: string | null; tooLarge?: boolean };

export const allFiles = (parts: readonly { files: readonly ReadyFile[] }[]): ReadyFile[] => parts.flatMap((p) => p.files);

export interface RequestDeps {
  files: Pick<Files, 'jobKnown' | 'datasetKnown' | 'unassigned' | 'failed' | 'requeued'>;
  histories: Pick<HistoryPool, 'release' | 'retire'>;
  submitter: Pick<Submitter, 'send'>;
  confirmer: Pick<Confirmer, 'confirm'>;
  recovery: Pick<Recovery, 'acceptedJob'>;
  emit: Emit;
  /** Wait as a failed request's verdict says (its files recorded retrying); false when stopping. */
  afterFailure(verdict: Verdict, parts: readonly Sending[]): Promise<boolean>;
  /** Whether Galaxy took the request is still unknown: look for it again later, in its history. */
  recoverLater(parts: readonly Sending[], history: string): void;
}

/** One request for `parts`, and what came of it; `answered()` once Galaxy has answered it (the folders' next batches may go). */
export async function sendRequest(d: RequestDeps, parts: Sending[], history: string | null, answered: () => void): Promise<Attempt> {
const { files: states, histories } = d;
  const files = allFiles(parts);
  let sent: Sent | null = null;
  let failure: Verdict | null = null;
  try {
    sent = await d.submitter.send(parts, history).finally(answered);
  } catch (err) {
    failure = classify(err);
    if (history !== null && isHistoryGone(err)) {
      // Deleted or purged in Galaxy: a new history is made and the files are sent again
      // (the attempt counts, so this too ends after max_attempts).
      histories.retire(history);
      d.emit({ type: 'history.replaced', history_id: history, reason: failure.message });
      failure = { kind: 'transient', uncertain: false, retryAfterMs: null, message: `upload history ${history} was deleted in Galaxy (${failure.message})` };
    }
    if (history !== null && failure.kind === 'transient' && failure.uncertain) {
      try {
        const jobId = await d.recovery.acceptedJob(history);
        if (jobId !== null) sent = { kind: 'job', jobId };
      } catch (checkErr) {
        // Still unknown whether Galaxy took it: keep the history reserved and look again after a pause.
        if (!(await d.afterFailure(classify(checkErr), parts))) return { kind: 'stopped' };
        d.recoverLater(parts, history);
        return { kind: 'done' };
      }
    }
  }
  if (sent?.kind === 'job') {
    states.jobKnown(files, history, sent.jobId);
    if (history !== null) histories.release(history);
    return await confirmAll(d, sent.jobId, parts, { justSent: true, historyId: history });
  }
  if (sent?.kind === 'datasets') {
    for (const [p, id] of sent.ids) states.datasetKnown(p, id);
    const [part] = parts;
    if (part === undefined) return { kind: 'done' };
    const c = await d.confirmer.confirm(null, part.files, part.route, part.target, part.attempt, { known: sent.ids, justSent: true });
    // (No job, so never interrupted: a legacy upload's datasets exist from the start.)
    return c.kind === 'split' || c.kind === 'interrupted' ? { kind: 'split', parts, reason: c.reason, jobId: c.jobId } : c;
  }
  if (history !== null) {
    states.unassigned(files, history);
    histories.release(history);
  }
  if (failure === null) return { kind: 'done' };
  if (failure.kind === 'permanent') {
    if (files.length > 1) return { kind: 'split', parts, reason: failure.message, jobId: null, tooLarge: failure.tooLarge === true };
    for (const p of parts) for (const f of p.files) states.failed(f, p.route, failure.message, p.attempt);
    return { kind: 'done' };
  }
  // The key, not the files, is at fault: this attempt does not count.
  if (failure.kind === 'blocked') states.requeued(files);
  return (await d.afterFailure(failure, parts)) ? { kind: 'resend' } : { kind: 'stopped' };
}

/**
 * Each folder's files of one job confirmed in their folder. A job of several folders that
 * failed as a whole is handed back to be split even for a folder of one file: the bad file may
 * be another folder's.
 */
export async function confirmAll(d: Pick<RequestDeps, 'confirmer' | 'afterFailure'>, jobId: string, parts: readonly Sending[], o: { justSent?: boolean; historyId: string | null }): Promise<Attempt> {
  const shared = parts.length > 1;
  const jobFiles = parts.reduce((n, p) => n + p.files.length, 0);
  const outcomes = await Promise.all(parts.map((p) => d.confirmer.confirm(jobId, [...p.files], p.route, p.target, p.attempt, { ...o, shared, jobFiles })));
  // A job a Galaxy restart killed: the whole request goes again after a pause, each file's attempt counted (max_attempts bounds it).
  const killed = outcomes.find((c) => c.kind === 'interrupted');
  if (killed?.kind === 'interrupted') {
    return (await d.afterFailure({ kind: 'transient', uncertain: false, retryAfterMs: null, message: killed.reason }, parts)) ? { kind: 'resend' } : { kind: 'stopped' };
  }
  const split = parts.filter((_, i) => outcomes[i]?.kind === 'split');
  const first = outcomes.find((c) => c.kind === 'split');
  if (first?.kind === 'split') return { kind: 'split', parts: split, reason: first.reason, jobId: first.jobId };
  return outcomes.some((c) => c.kind === 'stopped') ? { kind: 'stopped' } : { kind: 'done' };
}

/**
 * The ledger's rows in doubt, by the request that sent them (one job, or one history and time),
 * whatever folders they are in: the job found for a request is theirs, all of them.
 */
export function requestsOf(records: readonly FileRecord[], routeOf: (relPath: string) => Route, now: number): { first: FileRecord; groups: Group[] }[] {
  const requests = new Map<string, { first: FileRecord; groups: Map<string, Group> }>();
  for (const r of records) {
    const key = r.jobId !== null ? `job:${r.jobId}` : `history:${r.historyId ?? ''}:${r.submittedAt ?? ''}`;
    let request = requests.get(key);
    if (!request) requests.set(key, (request = { first: r, groups: new Map() }));
    const route = routeOf(r.path);
    let g = request.groups.get(routeKey(route));
    if (!g) request.groups.set(routeKey(route), (g = { route, files: [] }));
    // Sent again with the checksum it was first sent with: Galaxy verifies the same bytes.
    g.files.push({ path: r.path, size: r.size, mtimeMs: r.mtimeMs, readyAt: now, checksum: checksumOf(r.checksum) });
  }
  return [...requests.values()].map((r) => ({ first: r.first, groups: [...r.groups.values()] }));
}

/** A request's groups in two of about as many files each: its folders apart, or one folder's files in halves. */
export function halves(groups: readonly Group[]): Group[][] {
  const [only] = groups;
  if (groups.length === 1 && only !== undefined) {
    const half = Math.ceil(only.files.length / 2);
    return [[{ route: only.route, files: only.files.slice(0, half) }], [{ route: only.route, files: only.files.slice(half) }]].filter((h) => (h[0]?.files.length ?? 0) > 0);
  }
  const total = groups.reduce((n, g) => n + g.files.length, 0);
  let first = 0;
  let files = 0;
  // At least one folder on each side; the first side takes folders while it holds under half the files.
  while (first < groups.length - 1 && (first === 0 || files + (groups[first]?.files.length ?? 0) <= total / 2)) files += groups[first++]?.files.length ?? 0;
  return [groups.slice(0, first), groups.slice(first)];
}
