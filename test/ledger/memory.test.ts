import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileRecord } from '../../src/ledger/ledger.js';
import { MemoryRows } from '../../src/ledger/postgres/memory.js';

const record = (p: string): FileRecord => ({
  path: p, size: 10, mtimeMs: 1000, state: 'queued', attempts: 0, lastError: null, libraryId: null, folderId: null, datasetId: null, jobId: null, historyId: null, submittedAt: null, checksum: null, verified: false, updatedAt: 1,
});

describe('MemoryRows (the shared ledger\'s rows in memory, no database)', () => {
  it('stamps updatedAt on update() from the clock it was given, unless one is given', () => {
    let now = 42;
    const rows = new MemoryRows({ now: () => now });
    rows.put(record('a'));

    rows.update('a', { state: 'submitted' });
    const first = rows.get('a')?.updatedAt;
    now = 1_700_000_000_000;
    rows.update('a', { state: 'ok' });
    const second = rows.get('a')?.updatedAt;
    rows.update('a', { attempts: 2, updatedAt: 7 });

    assert.equal(first, 42);
    assert.equal(second, 1_700_000_000_000);
    assert.equal(rows.get('a')?.updatedAt, 7);
    assert.deepEqual(rows.take().paths, ['a'], 'the change is marked for the writer');
  });
});
