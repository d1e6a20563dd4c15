import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { systemClock } from '../../src/clock.js';
import type { FileRecord } from '../../src/ledger/ledger.js';
import { LedgerError, SqliteLedger } from '../../src/ledger/sqlite.js';
import { MIGRATIONS } from '../../src/ledger/sqlite-schema.js';
import { tempDir } from '../helpers.js';

const record = (p: string, fields: Partial<FileRecord> = {}): FileRecord => ({
  path: p,
  size: 10,
  mtimeMs: 1000,
  state: 'seen',
  attempts: 0,
  lastError: null,
  libraryId: null,
  folderId: null,
  datasetId: null,
  jobId: null,
  historyId: null,
  submittedAt: null,
  checksum: null,
  verified: false,
  updatedAt: 1,
  ...fields,
});

describe('SqliteLedger', () => {
  it('read-only: reads a closed ledger without adding a file beside it, and a ledger in use as its writer committed it', async (t) => {
    const dir = path.join(tempDir(t), 'state');
    const writer = new SqliteLedger(dir, systemClock);
    writer.put(record('run1/a.bed', { state: 'ok' }));
    writer.setMeta('first_start_done', 'yes');
    await writer.close();
    const bytes = readFileSync(path.join(dir, 'ledger.sqlite'));

    const closed = new SqliteLedger(dir, systemClock, { readonly: true });
    const seen = closed.fingerprint('run1/a.bed');
    assert.throws(() => {
      closed.put(record('run1/b.bed'));
      closed.flush();
    });
    await closed.close();

    assert.deepEqual(seen, { state: 'ok', size: 10, mtimeMs: 1000 });
    assert.deepEqual(readdirSync(dir), ['ledger.sqlite']);
    assert.ok(readFileSync(path.join(dir, 'ledger.sqlite')).equals(bytes));

    const running = new SqliteLedger(dir, systemClock);
    t.after(() => running.close());
    running.put(record('run1/c.bed', { state: 'queued' }));
    running.flush();
    const reader = new SqliteLedger(dir, systemClock, { readonly: true });
    t.after(() => reader.close());
    assert.equal(reader.fingerprint('run1/c.bed')?.state, 'queued');
    assert.equal(reader.getMeta('first_start_done'), 'yes');
  });

  it('creates the state directory and keeps records across reopening', (t) => {
    const dir = path.join(tempDir(t), 'state', 'nested');
    const first = new SqliteLedger(dir, systemClock);
    first.put(record('run1/a.bed', { state: 'ok', datasetId: 'abc' }));
    first.setMeta('first_start', 'done');
    first.close();

    const second = new SqliteLedger(dir, systemClock);
    t.after(() => second.close());

    assert.ok(existsSync(path.join(dir, 'ledger.sqlite')));
    assert.deepEqual(second.get('run1/a.bed'), record('run1/a.bed', { state: 'ok', datasetId: 'abc' }));
    assert.equal(second.getMeta('first_start'), 'done');
  });

  it('updates some fields and stamps updatedAt from its clock, not the system\'s', (t) => {
    let now = 42;
    const ledger = new SqliteLedger(tempDir(t), { ...systemClock, now: () => now });
    t.after(() => ledger.close());
    ledger.put(record('a'));
    ledger.put(record('b'));

    ledger.update('a', { state: 'failed', attempts: 3, lastError: 'Galaxy said no' });
    now = 1_700_000_000_000;
    ledger.update('b', { state: 'queued' });
    const b = ledger.get('b');
    ledger.update('b', { state: 'ok', updatedAt: 7 });

    assert.deepEqual(ledger.get('a'), record('a', { state: 'failed', attempts: 3, lastError: 'Galaxy said no', updatedAt: 42 }));
    assert.equal(b?.updatedAt, 1_700_000_000_000);
    assert.equal(ledger.get('b')?.updatedAt, 7, 'an updatedAt given is kept');
  });

  it('commits the writes of a turn when its clock\'s setImmediate runs', (t) => {
    const dir = tempDir(t);
    const ends: (() => void)[] = [];
    const ledger = new SqliteLedger(dir, { now: () => 5, setImmediate: (fn) => (ends.push(fn), {}) });
    const other = new SqliteLedger(dir, systemClock, { readonly: true });
    t.after(() => (void ledger.close(), void other.close()));

    ledger.put(record('a'));
    ledger.update('a', { state: 'queued' });
    const beforeEnd = other.get('a');
    ends.splice(0).forEach((fn) => fn());
    const afterEnd = other.get('a');

    assert.equal(beforeEnd, undefined);
    assert.deepEqual(afterEnd, record('a', { state: 'queued', updatedAt: 5 }));
    assert.equal(ends.length, 0, 'one end of turn per transaction');
  });

  it('counts files by state and by folder, and lists them by state', (t) => {
    const ledger = new SqliteLedger(tempDir(t), systemClock);
    t.after(() => ledger.close());
    ledger.transaction(() => {
      ledger.put(record('a', { state: 'ok', folderId: 'F1' }));
      ledger.put(record('b', { state: 'ok', folderId: 'F1' }));
      ledger.put(record('c', { state: 'failed', folderId: 'F2' }));
    });

    const counts = ledger.counts();

    assert.equal(counts.ok, 2);
    assert.equal(counts.failed, 1);
    assert.equal(counts.queued, 0);
    assert.deepEqual(ledger.inState('failed', 'retrying').map((r) => r.path), ['c']);
    assert.deepEqual(ledger.countsByDirectory(), [{ dir: '', state: 'failed', count: 1, verified: 0 }, { dir: '', state: 'ok', count: 2, verified: 0 }]);
  });

  it('counts files by directory and state without reading the rows', (t) => {
    const ledger = new SqliteLedger(tempDir(t), systemClock);
    t.after(() => ledger.close());
    ledger.transaction(() => {
      for (const p of ['run1/a.txt', 'run1/b.txt', 'run1/sub/c.txt', 'top.txt', 'run 2/x.y.z']) ledger.put(record(p, { state: 'ok', verified: p !== 'run1/b.txt' }));
      ledger.put(record('run1/bad.txt', { state: 'failed' }));
    });

    assert.deepEqual(ledger.countsByDirectory(), [
      { dir: '', state: 'ok', count: 1, verified: 1 },
      { dir: 'run 2', state: 'ok', count: 1, verified: 1 },
      { dir: 'run1', state: 'failed', count: 1, verified: 0 },
      { dir: 'run1', state: 'ok', count: 2, verified: 1 },
      { dir: 'run1/sub', state: 'ok', count: 1, verified: 1 },
    ]);
  });

  it('keeps names with spaces, quotes, newlines and non-ASCII characters intact', (t) => {
    const ledger = new SqliteLedger(tempDir(t), systemClock);
    t.after(() => ledger.close());
    const names = ["run 2/it's \"quoted\".bed", 'naïve/Größe.txt', 'odd/line\nbreak.txt'];

    for (const n of names) ledger.put(record(n));

    assert.deepEqual(names.map((n) => ledger.get(n)?.path), names);
  });

  it('rolls a failed transaction back whole', (t) => {
    const ledger = new SqliteLedger(tempDir(t), systemClock);
    t.after(() => ledger.close());

    assert.throws(() => ledger.transaction(() => {
      ledger.put(record('x'));
      throw new Error('boom');
    }));

    assert.equal(ledger.get('x'), undefined);
  });

  it('writes of one turn share a transaction: another connection sees them after the turn, or at once after commit()', async (t) => {
    const dir = tempDir(t);
    const ledger = new SqliteLedger(dir, systemClock);
    const other = new SqliteLedger(dir, systemClock);
    t.after(() => (void ledger.close(), void other.close()));

    ledger.put(record('a'));
    ledger.update('a', { state: 'queued' });
    const duringTurn = other.get('a');
    await new Promise((r) => setImmediate(r));
    const afterTurn = other.get('a')?.state;
    ledger.put(record('b'));
    await ledger.coordinator.commit();
    const afterCommit = other.get('b')?.state;

    assert.equal(duringTurn, undefined);
    assert.equal(afterTurn, 'queued');
    assert.equal(afterCommit, 'seen');
  });

  it('rolls back only the failed transaction of a turn, keeping the turn\'s other writes', async (t) => {
    const dir = tempDir(t);
    const ledger = new SqliteLedger(dir, systemClock);
    t.after(() => void ledger.close());

    ledger.put(record('kept'));
    assert.throws(() => ledger.transaction(() => {
      ledger.put(record('x'));
      throw new Error('boom');
    }));
    await new Promise((r) => setImmediate(r));
    await ledger.close();
    const again = new SqliteLedger(dir, systemClock);
    t.after(() => void again.close());

    assert.equal(again.get('x'), undefined);
    assert.equal(again.get('kept')?.state, 'seen');
  });

  it('migrates a ledger of schema 1 (before checksums): its rows kept, with no checksum and not verified; a checksum written reads back', async (t) => {
    const dir = path.join(tempDir(t), 'state');
    mkdirSync(dir);
    const old = new Database(path.join(dir, 'ledger.sqlite'));
    old.exec(`BEGIN; ${MIGRATIONS[0] ?? ''}; PRAGMA user_version = 1; COMMIT;`);
    old.prepare("INSERT INTO files (path, size, mtime_ms, state, attempts, updated_at, dataset_id) VALUES ('run1/a.bed', 10, 1000, 'ok', 1, 5, 'D1')").run();
    old.close();

    // Read only, before any daemon migrated it (scan --dry-run, audit): the rows read, nothing written.
    const reader = new SqliteLedger(dir, systemClock, { readonly: true });
    const unmigrated = reader.get('run1/a.bed');
    await reader.close();
    assert.deepEqual([unmigrated?.state, unmigrated?.checksum, unmigrated?.verified], ['ok', null, false]);

    const ledger = new SqliteLedger(dir, systemClock);
    const before = ledger.get('run1/a.bed');
    ledger.update('run1/a.bed', { checksum: 'SHA-256:ab', verified: true });
    await ledger.close();
    const again = new SqliteLedger(dir, systemClock, { readonly: true });
    const after = again.get('run1/a.bed');
    await again.close();

    assert.deepEqual([before?.state, before?.datasetId, before?.checksum, before?.verified], ['ok', 'D1', null, false]);
    assert.deepEqual([after?.checksum, after?.verified], ['SHA-256:ab', true]);
  });

  it('says which directory is unusable when the ledger cannot be opened', (t) => {
    const dir = tempDir(t);
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const err = (() => {
      try {
        new SqliteLedger(path.join(blocker, 'sub'), systemClock);
      } catch (e) {
        return e;
      }
      return null;
    })();

    assert.ok(err instanceof LedgerError);
    assert.match(err.message, /\[state\] dir/);
  });
});
