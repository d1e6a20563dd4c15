import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../src/clock.js';
import { SqliteLedger } from '../src/ledger/sqlite.js';
import { tempDir } from './helpers.js';

// The ledger's native addon must be built for the Node that runs it (ABI-bound:
// a build for Node 20 does not load in Node 24). .ci/run rebuilds it for each.
describe('runtime', () => {
  it(`loads better-sqlite3 under Node ${process.versions.node} and writes a WAL ledger file`, (t) => {
    const dir = tempDir(t);
    const ledger = new SqliteLedger(dir, systemClock);

    ledger.setMeta('probe', 'written');
    const value = ledger.getMeta('probe');
    const wal = existsSync(path.join(dir, 'ledger.sqlite-wal'));
    ledger.close();

    assert.equal(value, 'written');
    assert.ok(wal, 'journal_mode is WAL');
  });

  it('keeps working across many ledgers opened, closed and garbage collected', (t) => {
    const dir = tempDir(t);

    for (let i = 0; i < 20; i++) {
      const ledger = new SqliteLedger(path.join(dir, String(i)), systemClock);
      ledger.put({ path: `f${i}`, size: 1, mtimeMs: 1, state: 'ok', attempts: 0, lastError: null, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, checksum: null, verified: false, updatedAt: 1 });
      ledger.update(`f${i}`, { attempts: i });
      ledger.counts();
      ledger.close();
    }
    for (let i = 0; i < 5; i++) globalThis.gc?.();
    const ledger = new SqliteLedger(path.join(dir, '0'), systemClock);
    t.after(() => ledger.close());

    assert.equal(ledger.get('f0')?.state, 'ok');
  });
});
