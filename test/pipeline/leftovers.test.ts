import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FolderItem } from '../../src/galaxy/client.js';
import type { RecentOptions } from '../../src/galaxy/folder-pages.js';
import { Leftovers } from '../../src/pipeline/leftovers.js';
import { ROUTE, events } from '../fakes.js';

const target = { libraryId: 'L1', folderId: 'F1' };
const file = (p: string) => ({ path: p, size: 3, mtimeMs: 1, readyAt: 0 });
const item = (id: string, name: string, state: string, o: Partial<FolderItem> = {}): FolderItem => ({ id, name, type: 'file', state, raw_size: 0, ...o });

function setup(found: FolderItem[], o: { claimed?: string[]; refuse?: string[] } = {}) {
  const emit = events();
  const deleted: string[] = [];
  const asked: RecentOptions[] = [];
  const leftovers = new Leftovers({
    client: {
      recentDatasets: (_id, q) => (asked.push(q), Promise.resolve(found)),
      deleteLibraryDataset: (id) => (o.refuse?.includes(id) ? Promise.reject(new Error('403 You do not have proper permissions')) : (deleted.push(id), Promise.resolve({ deleted: true }))),
    },
    isClaimed: (id) => o.claimed?.includes(id) === true,
    datasetName: (f) => path.posix.basename(f.path),
    emit,
  });
  return { leftovers, emit, deleted, asked };
}

describe('Leftovers', () => {
  it('deletes the datasets of a failed job\'s files, in any state, made since shortly before the job; never one the ledger holds or of another name', async () => {
    const s = setup([
      item('D1', 'a.txt', 'ok', { raw_size: 0 }),
      item('D2', 'b.txt', 'ok', { raw_size: 213 }),
      item('D3', 'b.txt', 'error'),
      item('D4', 'a.txt', 'ok'),
      item('D5', 'other.txt', 'ok'),
      item('D6', 'a.txt', 'ok', { deleted: true }),
    ], { claimed: ['D4'] });

    const n = await s.leftovers.ofFailedJob('J1', Date.parse('2026-12-01T10:00:00Z'), [file('run1/a.txt'), file('run1/b.txt')], ROUTE, target);

    assert.equal(n, 3);
    assert.deepEqual(s.deleted, ['D1', 'D2', 'D3']);
    assert.equal(s.asked[0]?.sinceMs !== null && (s.asked[0]?.sinceMs ?? 0) < Date.parse('2026-12-01T10:00:00Z'), true, 'a little before the job, for the clocks');
    assert.deepEqual(s.emit.of('upload.leftover_deleted').map((e) => [e.dataset_id, e.name, e.state, e.size, e.job_id]), [['D1', 'a.txt', 'ok', 0, 'J1'], ['D2', 'b.txt', 'ok', 213, 'J1'], ['D3', 'b.txt', 'error', 0, 'J1']]);
  });

  it('a deletion Galaxy refuses is said with the dataset\'s id, and the others go on', async () => {
    const s = setup([item('D1', 'a.txt', 'ok'), item('D2', 'a.txt', 'error')], { refuse: ['D1'] });

    const n = await s.leftovers.ofFailedJob('J1', Number.NaN, [file('run1/a.txt')], ROUTE, target);

    assert.equal(n, 1);
    assert.equal(s.asked[0]?.sinceMs, null, 'no job time: the whole folder');
    assert.deepEqual(s.emit.of('upload.leftover_kept').map((e) => [e.dataset_id, e.reason]), [['D1', '403 You do not have proper permissions']]);
  });
});
