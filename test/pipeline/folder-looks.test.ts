import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FolderItem } from '../../src/galaxy/client.js';
import type { RecentOptions } from '../../src/galaxy/folder-pages.js';
import { FolderLooks } from '../../src/pipeline/folder-looks.js';

const at = (ms: number): string => new Date(ms).toISOString().slice(0, 23);
const item = (id: string, updated: number): FolderItem => ({ id, type: 'file', name: `${id}.txt`, update_time: at(updated) });

/** A folder whose newest datasets are `items` (newest first), counting the reads. */
function galaxy(items: FolderItem[], o: { fails?: boolean } = {}) {
  const asked: { folderId: string; sinceMs: number | null; limit: number }[] = [];
  const client = {
    recentDatasets: (folderId: string, q: RecentOptions) => {
      asked.push({ folderId, sinceMs: q.sinceMs, limit: q.limit });
      if (o.fails === true) return Promise.reject(new Error('502'));
      return Promise.resolve(items.filter((i) => q.sinceMs === null || Date.parse(`${String(i.update_time)}Z`) >= q.sinceMs));
    },
  };
  return { looks: new FolderLooks(client, { setTimeout: (fn, ms) => setTimeout(fn, ms) }), asked };
}

const enough = (): boolean => true;

describe('FolderLooks: confirmations of one folder due together share a read', () => {
  it('reads a folder once for the looks of one turn, from the earliest bound, and gives each what its own bound admits', async () => {
    const g = galaxy([item('c', 3000), item('b', 2000), item('a', 1000)]);
    const [late, early, other] = await Promise.all([
      g.looks.recentDatasets('F1', { sinceMs: 2500, limit: 10, enough }),
      g.looks.recentDatasets('F1', { sinceMs: 1500, limit: 30, enough }),
      g.looks.recentDatasets('F2', { sinceMs: 0, limit: 10, enough }),
    ]);

    assert.deepEqual(g.asked, [{ folderId: 'F1', sinceMs: 1500, limit: 40 }, { folderId: 'F2', sinceMs: 0, limit: 10 }]);
    assert.deepEqual(late?.map((i) => i.id), ['c'], 'nothing older than its own bound');
    assert.deepEqual(early?.map((i) => i.id), ['c', 'b']);
    assert.deepEqual(other?.map((i) => i.id), ['c', 'b', 'a']);
  });

  it('reads until every look has enough, and a failed read fails each look', async () => {
    const seenBy: number[] = [];
    const g = galaxy([item('b', 2000), item('a', 1000)]);
    await Promise.all([
      g.looks.recentDatasets('F1', { sinceMs: null, limit: 10, enough: (seen) => (seenBy.push(seen.length), true) }),
      g.looks.recentDatasets('F1', { sinceMs: 1500, limit: 10, enough: (seen) => seen.every((i) => i.id !== 'a') }),
    ]);
    const failing = galaxy([], { fails: true });
    const results = await Promise.allSettled([failing.looks.recentDatasets('F1', { sinceMs: 1, limit: 1, enough }), failing.looks.recentDatasets('F1', { sinceMs: 2, limit: 1, enough })]);

    assert.equal(g.asked[0]?.sinceMs, null, 'a look with no bound reads without one');
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(failing.asked.length, 1);
  });
});
