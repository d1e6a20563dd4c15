import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from './helpers.js';

// The ledger's native addon must be built for the Node that runs it (ABI-bound:
// a build for Node 20 does not load in Node 24). .ci/run rebuilds it for each.
describe('runtime', () => {
  it(`loads better-sqlite3 under Node ${process.versions.node} and writes a WAL database file`, (t) => {
    const file = path.join(tempDir(t), 'ledger.sqlite');
    const db = new Database(file);
    t.after(() => db.close());

    const mode = db.pragma('journal_mode = WAL', { simple: true });
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
    db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 1);

    assert.equal(mode, 'wal');
    assert.deepEqual(db.prepare('SELECT v FROM t WHERE k = ?').get('a'), { v: 1 });
  });
});
