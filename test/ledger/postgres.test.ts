/**
 * The shared PostgreSQL ledger against a real server (scripts/test-postgres.sh): migrations
 * run by several replicas at once, claims that never overlap, leases that run out and are
 * taken over, writes refused once another replica holds a file, the creation lock, the
 * replica name, an outage, and the password kept out of every message.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { FileRecord } from '../../src/ledger/ledger.js';
import { LedgerUnavailableError } from '../../src/ledger/ledger.js';
import type { PostgresLedgerOptions } from '../../src/ledger/postgres/connection.js';
import { PostgresLedger } from '../../src/ledger/postgres/store.js';
import { SCHEMA_VERSION } from '../../src/ledger/postgres/sql.js';
import { createLogger } from '../../src/observe/logger.js';
import { freshDatabase, NO_POSTGRES, PGPASSWORD, sql, startProxy } from '../postgres.js';

interface Captured {
  lines: string[];
  log: ReturnType<typeof createLogger>;
}

function capture(): Captured {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger('debug', sink) };
}

async function open(t: TestContext, url: string, replica: string | null, extra: Partial<PostgresLedgerOptions> = {}): Promise<PostgresLedger> {
  const ledger = await PostgresLedger.open({
    url, password: PGPASSWORD, leaseSeconds: 30, replica, role: 'replica', version: 'test', log: capture().log, waitForDatabase: false, clock: systemClock, ...extra,
  });
  t.after(() => ledger.close(1000));
  return ledger;
}

const file = (i: number): { path: string; size: number; mtimeMs: number } => ({ path: `run/f${i}.txt`, size: 100 + i, mtimeMs: 1_700_000_000_000.5 + i });

function record(f: { path: string; size: number; mtimeMs: number }, fields: Partial<FileRecord> = {}): FileRecord {
  return {
    ...f, state: 'queued', attempts: 0, lastError: null, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, checksum: null, verified: false, updatedAt: Date.now(), ...fields,
  };
}

describe('PostgreSQL ledger', { skip: NO_POSTGRES }, () => {
  it('migrates once when several replicas start at the same moment', async (t) => {
    const url = await freshDatabase(t);
    const all = await Promise.all(['a', 'b', 'c', 'd'].map((n) => open(t, url, n)));
    assert.equal(all.length, 4);
    const versions = await sql<{ version: number }>(url, 'SELECT version FROM importd_schema');
    assert.deepEqual(versions, [{ version: SCHEMA_VERSION }]);
    const tables = await sql<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'importd_%' ORDER BY tablename");
    assert.deepEqual(tables.map((r) => r.tablename), ['importd_files', 'importd_jobs', 'importd_meta', 'importd_replicas', 'importd_schema']);
  });

  it('refuses a database made by a newer galaxy-importd, saying so', async (t) => {
    const url = await freshDatabase(t);
    await open(t, url, 'a');
    await sql(url, 'UPDATE importd_schema SET version = 99');
    await assert.rejects(open(t, url, 'b'), new RegExp(`schema version 99, newer than this galaxy-importd knows \\(${SCHEMA_VERSION}\\): upgrade this replica`));
  });

  it('gives each file to one replica when three claim the same files at once', async (t) => {
    const url = await freshDatabase(t);
    const replicas = await Promise.all(['a', 'b', 'c'].map((n) => open(t, url, n)));
    const files = Array.from({ length: 300 }, (_, i) => file(i));
    // Each claims every file, in chunks and orders of its own, all at once.
    const held = await Promise.all(replicas.map(async (r, k) => {
      const mine = new Set<string>();
      const order = k === 1 ? [...files].reverse() : files;
      await Promise.all([0, 1, 2, 3, 4].map(async (c) => {
        for (const p of await r.claim(order.slice(c * 60, c * 60 + 60))) mine.add(p);
      }));
      return mine;
    }));
    const total = held.reduce((n, s) => n + s.size, 0);
    assert.equal(total, files.length, 'every file is held exactly once');
    const union = new Set(held.flatMap((s) => [...s]));
    assert.equal(union.size, files.length);
    const owners = await sql<{ owner: string; n: number }>(url, 'SELECT owner, count(*)::int AS n FROM importd_files GROUP BY owner ORDER BY owner');
    assert.deepEqual(owners.map((o) => o.n).reduce((a, b) => a + b, 0), files.length);
    // A replica that did not get a file knows who has it now: its row is in memory.
    const loser = replicas.find((_, k) => !held[k]?.has(files[0]?.path ?? ''));
    assert.equal(loser?.get(files[0]?.path ?? '')?.state, 'ready');
  });

  it('does not claim a file done with the same fingerprint, and claims it again once it changed', async (t) => {
    const url = await freshDatabase(t);
    const a = await open(t, url, 'a');
    const b = await open(t, url, 'b');
    const f = file(1);
    assert.deepEqual([...(await a.claim([f]))], [f.path]);
    a.put(record(f, { state: 'ok', datasetId: 'd1' }));
    await a.commit();
    assert.equal((await b.claim([f])).size, 0, 'done: nobody claims it');
    assert.equal(b.get(f.path)?.state, 'ok');
    assert.equal(b.isClaimed('d1'), true, 'the dataset is known to be taken');
    const changed = { ...f, size: f.size + 1 };
    assert.deepEqual([...(await b.claim([changed]))], [f.path], 'written again: claimable');
  });

  it('writes behind: a change is in the database once commit() resolves, and a client sees it', async (t) => {
    const url = await freshDatabase(t);
    const a = await open(t, url, 'a');
    const f = file(2);
    await a.claim([f]);
    a.put(record(f));
    a.update(f.path, { state: 'submitted', historyId: 'h1', submittedAt: 5, attempts: 1, checksum: 'SHA-256:ab' });
    a.rememberJob('h1', 'j1');
    a.setMeta('created_at', 'x');
    // A reason with a NUL (a job's stderr may have one): stored, and nothing else is held up.
    const other = file(20);
    await a.claim([other]);
    a.put(record(other, { state: 'failed', lastError: 'bad\u0000byte' }));
    await a.commit();
    assert.deepEqual(await sql(url, 'SELECT last_error FROM importd_files WHERE path = $1', [other.path]), [{ last_error: 'bad\uFFFDbyte' }]);
    const rows = await sql<{ state: string; history_id: string; owner: string; attempts: number }>(url, 'SELECT state, history_id, owner, attempts FROM importd_files WHERE path = $1', [f.path]);
    assert.deepEqual(rows, [{ state: 'submitted', history_id: 'h1', owner: 'a', attempts: 1 }]);
    const client = await open(t, url, null, { role: 'client' });
    assert.equal(client.get(f.path)?.state, 'submitted');
    assert.deepEqual([client.get(f.path)?.checksum, client.get(f.path)?.verified], ['SHA-256:ab', false], 'the checksum written behind, read by another process');
    assert.deepEqual([...client.jobsOf('h1')], ['j1']);
    assert.equal(client.getMeta('created_at'), 'x');
  });

  it("takes over a file whose holder stopped renewing, and the old holder's later writes do not land", async (t) => {
    const url = await freshDatabase(t);
    const a = await open(t, url, 'a');
    const b = await open(t, url, 'b');
    const sent = file(3);
    const waiting = file(4);
    await a.claim([sent, waiting]);
    a.put(record(sent, { state: 'submitted', historyId: 'ha', submittedAt: 1 }));
    a.put(record(waiting));
    a.rememberJob('ha', 'old-job');
    await a.commit();
    assert.deepEqual(await b.adopt(false), [], 'held and renewed: nothing to take');
    assert.deepEqual([...(await b.historiesInDoubt())], ['ha'], "a's request in doubt: b must not send in ha");
    // a's leases run out (as when it is killed, or cut off from the database).
    await sql(url, "UPDATE importd_files SET lease_until = now() - interval '1 second' WHERE owner = 'a'");
    const taken = await b.adopt(false);
    assert.deepEqual(taken.map((r) => `${r.path}:${r.state}`).sort(), [`${sent.path}:submitted`, `${waiting.path}:queued`]);
    assert.deepEqual([...b.jobsOf('ha')], ['old-job'], "the history's known jobs come with the rows");
    assert.equal((await b.adopt(false)).length, 0, 'taken once');
    // a wakes up and writes: refused; a learns it no longer holds the file.
    a.update(waiting.path, { state: 'submitted', historyId: 'ha2', submittedAt: 2 });
    await a.commit();
    assert.equal(a.owns(waiting.path), false);
    assert.equal(a.get(waiting.path)?.state, 'queued', "a's memory shows b's row again");
    const rows = await sql<{ owner: string; state: string }>(url, 'SELECT owner, state FROM importd_files WHERE path = $1', [waiting.path]);
    assert.deepEqual(rows, [{ owner: 'b', state: 'queued' }]);
    // b's leases lapse too (an outage): a still cannot write b's rows, and b does not adopt its own.
    await sql(url, "UPDATE importd_files SET lease_until = now() - interval '1 second' WHERE owner = 'b'");
    a.update(waiting.path, { state: 'retrying', lastError: 'stale' });
    await a.commit();
    assert.deepEqual(await sql(url, 'SELECT owner, state FROM importd_files WHERE path = $1', [waiting.path]), [{ owner: 'b', state: 'queued' }]);
    assert.equal((await b.adopt(false)).length, 0, 'a replica never adopts its own files while it runs');
  });

  it('at start a replica takes back its own files from its last run, and files retry queued', async (t) => {
    const url = await freshDatabase(t);
    const first = await open(t, url, 'a');
    const f = file(5);
    await first.claim([f]);
    first.put(record(f, { state: 'submitted', historyId: 'h', submittedAt: 1 }));
    await first.commit();
    // Stopped with a request in doubt: that row stays held by "a" (the rest would be handed back).
    await first.close(1000);
    const client = await open(t, url, null, { role: 'client' });
    const failed = file(6);
    client.put(record(failed, { state: 'queued', lastError: 'retry requested' }));
    await client.commit();
    const again = await open(t, url, 'a');
    const rows = await again.adopt(true);
    assert.deepEqual(rows.map((r) => r.path).sort(), [f.path, failed.path]);
  });

  it('lets one replica at a time create a library or folder', async (t) => {
    const url = await freshDatabase(t);
    const a = await open(t, url, 'a');
    const b = await open(t, url, 'b');
    const trace: string[] = [];
    const work = (who: string) => async (): Promise<string> => {
      trace.push(`${who} in`);
      await new Promise((r) => setTimeout(r, 150));
      trace.push(`${who} out`);
      return who;
    };
    const results = await Promise.all([a.withLock('folder x', work('a')), b.withLock('folder x', work('b')), a.withLock('folder y', work('c'))]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    const ab = trace.filter((x) => !x.startsWith('c'));
    assert.ok(ab[0]?.endsWith('in') && ab[1]?.endsWith('out') && ab[2]?.endsWith('in') && ab[3]?.endsWith('out'), `no overlap on one key: ${trace.join(', ')}`);
    assert.ok(trace.indexOf('c in') < trace.lastIndexOf('a out') || trace.indexOf('c in') < trace.lastIndexOf('b out'), 'other keys do not wait');
  });

  it('makes a second replica with a name in use wait until the first is gone', async (t) => {
    const url = await freshDatabase(t);
    const first = await open(t, url, 'same');
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1500);
    const log = capture();
    await assert.rejects(open(t, url, 'same', { signal: stop.signal, log: log.log }), /stopped while waiting for the replica name "same"/);
    assert.ok(log.lines.some((l) => l.includes('"event":"ledger.replica_name"') && l.includes('set a different [state] replica_name')), log.lines.join('\n'));
    // A waiting one starts once the first is gone, with what the first wrote meanwhile.
    const waiting = open(t, url, 'same');
    await new Promise((r) => setTimeout(r, 500));
    const f = file(30);
    await first.claim([f]);
    first.put(record(f, { state: 'ok', datasetId: 'd30' }));
    await first.close(1000);
    const second = await waiting;
    assert.equal(second.replica, 'same');
    assert.equal(second.get(f.path)?.state, 'ok', 'rows written while it waited are known');
  });

  it('keeps changes while the database is unreachable and writes them when it is back; claims fail as unavailable', async (t) => {
    const url = await freshDatabase(t);
    const proxy = await startProxy(url);
    t.after(() => proxy.close());
    const log = capture();
    const a = await open(t, proxy.url(url), 'a', { log: log.log });
    const f = file(7);
    await a.claim([f]);
    a.put(record(f));
    await a.commit();
    await proxy.down();
    a.update(f.path, { state: 'submitted', historyId: 'h', submittedAt: 3 });
    let committed = false;
    const commit = a.commit().then(() => (committed = true));
    await assert.rejects(a.claim([file(8)]), LedgerUnavailableError);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(committed, false, 'not written while the database is away');
    assert.ok(log.lines.some((l) => l.includes('"event":"ledger.unavailable"')), 'the outage is logged');
    await proxy.up();
    await commit;
    const rows = await sql<{ state: string }>(url, 'SELECT state FROM importd_files WHERE path = $1', [f.path]);
    assert.deepEqual(rows, [{ state: 'submitted' }]);
    assert.ok(log.lines.some((l) => l.includes('"event":"ledger.available"')), 'the recovery is logged');
  });

  it('never shows the password: a refused password names the user and the fix only', async (t) => {
    const url = await freshDatabase(t);
    const secret = 'wrong-Pa55word-xyz';
    const log = capture();
    const err = await PostgresLedger.open({ url, password: secret, leaseSeconds: 30, replica: 'a', role: 'client', version: 'test', log: log.log, waitForDatabase: false, clock: systemClock }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.ok(err, 'opening with a wrong password fails');
    assert.match(err.message, /password authentication failed for user "importd".*Check \[state\] postgresql_url/s);
    assert.equal(err.message.includes(secret), false);
    assert.equal(log.lines.join('\n').includes(secret), false);
    // A replica that waits for the database logs the failure without the password either.
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 800);
    await assert.rejects(PostgresLedger.open({ url, password: secret, leaseSeconds: 30, replica: 'a', role: 'replica', version: 'test', log: log.log, waitForDatabase: true, signal: stop.signal, clock: systemClock }));
    assert.ok(log.lines.some((l) => l.includes('ledger.unavailable')));
    assert.equal(log.lines.join('\n').includes(secret), false);
  });

  it('reports each replica and what it holds', async (t) => {
    const url = await freshDatabase(t);
    const a = await open(t, url, 'a');
    await open(t, url, 'b');
    await a.claim([file(9), file(10)]);
    a.put(record(file(9)));
    await a.commit();
    const client = await open(t, url, null, { role: 'client' });
    const replicas = await client.replicas();
    const byName = new Map(replicas.map((r) => [r.name, r]));
    assert.equal(byName.get('a')?.alive, true);
    assert.deepEqual(byName.get('a')?.holds, { queued: 1, ready: 1 });
    assert.deepEqual(byName.get('b')?.holds, {});
    assert.equal(byName.get('b')?.pid, process.pid);
  });
});
