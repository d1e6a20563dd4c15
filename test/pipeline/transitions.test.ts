import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FileRecord, FileState } from '../../src/ledger/ledger.js';
import { FILE_STATES } from '../../src/ledger/ledger.js';
import { Files } from '../../src/pipeline/files.js';
import type { TransitionName } from '../../src/pipeline/transitions.js';
import { TRANSITIONS, TransitionError, allowed } from '../../src/pipeline/transitions.js';
import { ROUTE, events, memoryRows } from '../fakes.js';

const PATH = 'run1/a.txt';
const target = { libraryId: 'L1', folderId: 'F1' };
const file = { path: PATH, size: 3, mtimeMs: 1000, readyAt: 100 };
/** Another version of the file: a transition that takes a new fingerprint writes it. */
const other = { size: 5, mtimeMs: 2000 };

function row(state: FileState): FileRecord {
  return {
    path: PATH, size: file.size, mtimeMs: file.mtimeMs, state, attempts: 1, lastError: null, libraryId: null, folderId: null,
    datasetId: null, jobId: null, historyId: 'H1', submittedAt: 50, checksum: null, verified: false, updatedAt: 60,
  };
}

/** How each transition is asked for, as the pipeline asks; `held`: the file is on its way in this process (uploads, confirm, recover). */
const DRIVERS: Record<TransitionName, { held: boolean; run: (files: Files, rec: FileRecord | undefined) => unknown }> = {
  seen: { held: false, run: (f, rec) => f.seen(PATH, other, rec) },
  settling: { held: false, run: (f) => f.settling(PATH) },
  gone: { held: false, run: (f) => f.gone(PATH, 'deleted') },
  skipped: { held: false, run: (f) => f.rejected(PATH, other, 'skipped', 'a name rule') },
  refused: { held: false, run: (f) => f.rejected(PATH, other, 'failed', 'not readable') },
  claimed: { held: false, run: (f) => f.claim(file, ROUTE) },
  queued: { held: false, run: (f) => f.queued(file, ROUTE) },
  submitted: { held: true, run: (f) => f.submitted([file], ROUTE, { attempt: 2, target, historyId: 'H2' }) },
  job_known: { held: true, run: (f) => f.jobKnown([file], 'H1', 'J1') },
  retrying: { held: true, run: (f) => f.retrying([file], ROUTE, 'a 502', 2, 1000) },
  requeued: { held: true, run: (f) => f.requeued([file]) },
  split: { held: true, run: (f) => f.split([file], ROUTE, 'the job failed as a whole', 'J1') },
  unassigned: { held: true, run: (f) => f.unassigned([file], 'H1') },
  failed: { held: true, run: (f) => f.failed(file, ROUTE, 'an error', 2) },
  ok: { held: true, run: (f) => f.ok(file, ROUTE, 'D1', { jobId: 'J1' }) },
  found: { held: true, run: (f) => f.ok(file, ROUTE, 'D1', { found: target }) },
  resettled: { held: true, run: (f) => f.resettled(file, 'Galaxy read other bytes') },
  retry_requested: { held: false, run: (f, rec) => f.retryRequested(rec ?? row('failed')) },
  listed_missing: { held: false, run: (f) => f.missing(PATH, 'run1/md5.txt', 3) },
};

/** A file in state `from` (null: no row), then the transition: the state it is left in, the events said, or the error. */
async function walk(name: TransitionName, from: FileState | null) {
  const rows = memoryRows();
  const emit = events();
  // The shared ledger's claim writes `ready` in its own statement (ledger/postgres/sql.ts); here the fake does.
  const claim = (f: { path: string; size: number; mtimeMs: number }) => {
    rows.put({ ...row('ready'), ...f, historyId: null, submittedAt: null });
    return Promise.resolve(true);
  };
  const files = new Files({ ledger: rows, emit, clock: { now: () => 1000 }, claim });
  if (from !== null) rows.put(row(from));
  if (DRIVERS[name].held && from !== null) files.resumed([file]);
  try {
    await DRIVERS[name].run(files, rows.get(PATH));
    return { state: rows.get(PATH)?.state ?? null, said: emit.seen.map((e) => e.type), error: null };
  } catch (err) {
    return { state: rows.get(PATH)?.state ?? null, said: emit.seen.map((e) => e.type), error: err };
  }
}

describe('the transition table (files.ts carries out transitions.ts)', () => {
  for (const name of Object.keys(TRANSITIONS) as TransitionName[]) {
    const t = TRANSITIONS[name];
    it(`${name}: ${t.what}; from ${t.from.map((s) => s ?? 'no row').join(', ')} to ${t.to}, saying ${t.event ?? 'nothing'}; refused from any other state`, async () => {
      // retry_requested takes a row: there is no "no row" to start from.
      const starts: (FileState | null)[] = name === 'retry_requested' ? [...FILE_STATES] : [null, ...FILE_STATES];
      for (const from of starts) {
        const r = await walk(name, from);
        if (allowed(name, from)) {
          assert.equal(r.error, null, `${name} from ${from ?? 'no row'}: ${String(r.error)}`);
          assert.equal(r.state, t.to, `${name} from ${from ?? 'no row'} leaves the file ${t.to}`);
          if (t.event === null) assert.deepEqual(r.said, [], `${name} says nothing`);
          else assert.deepEqual(r.said, [t.event], `${name} from ${from ?? 'no row'} says ${t.event}, once`);
        } else if (name === 'unassigned' && from === null) {
          // No row names the history: nothing to forget.
          assert.equal(r.error, null);
          assert.equal(r.state, null);
          assert.deepEqual(r.said, []);
        } else if (name === 'gone') {
          // Carried out only for a row that said it was waiting: a file gone that no row said was
          // waiting is said, and its row (if any) left as it is.
          assert.equal(r.error, null);
          assert.equal(r.state, from, `gone from ${from ?? 'no row'} writes nothing`);
          assert.deepEqual(r.said, ['file.gone']);
        } else {
          assert.ok(r.error instanceof TransitionError, `${name} from ${from ?? 'no row'} is refused`);
          assert.equal(r.state, from, `${name} from ${from ?? 'no row'} writes nothing`);
          assert.deepEqual(r.said, [], `${name} from ${from ?? 'no row'} says nothing`);
        }
      }
    });
  }

  it('every state is reached by some transition, and left by some (but the journey\'s ends, left only by a new version or retry)', () => {
    const reached = new Set(Object.values(TRANSITIONS).map((t) => t.to));
    const left = new Set(Object.values(TRANSITIONS).flatMap((t) => t.from));
    assert.deepEqual(FILE_STATES.filter((s) => !reached.has(s)), []);
    assert.deepEqual(FILE_STATES.filter((s) => !left.has(s)), []);
  });

  it('the daemon reports a transition the table lacks and carries it out, so that no file is stranded', () => {
    const rows = memoryRows();
    const reported: TransitionError[] = [];
    const files = new Files({ ledger: rows, emit: events(), clock: { now: () => 1000 }, unexpected: (err) => reported.push(err) });
    rows.put(row('ok'));
    files.settling(PATH);

    assert.equal(reported.length, 1);
    assert.match(reported[0]?.message ?? '', /settling from ok to settling is not a transition/);
    assert.equal(rows.get(PATH)?.state, 'settling');
  });

  it('no module but files.ts (and its machinery, file-states.ts) writes a file\'s state (the ledger stores it; the shared ledger\'s claim statement writes ready)', () => {
    const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
    const writers: string[] = [];
    const visit = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) visit(full);
        else if (e.name.endsWith('.ts')) {
          const rel = path.relative(src, full);
          if (rel === path.join('pipeline', 'files.ts') || rel === path.join('pipeline', 'file-states.ts') || rel.startsWith(`ledger${path.sep}`)) continue;
          if (/\.(update|put)\([^;]*\bstate: '/.test(readFileSync(full, 'utf8'))) writers.push(rel);
        }
      }
    };
    visit(src);
    assert.ok(readdirSync(src).includes('daemon.ts'), `the sources are at ${src}`);
    assert.deepEqual(writers, []);
  });
});
