import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FolderItem } from '../../src/galaxy/answers.js';
import type { PageOf } from '../../src/galaxy/folder-pages.js';
import { allItems, galaxyTime, leadingFolders, recentDatasets } from '../../src/galaxy/folder-pages.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const stamp = (ms: number): string => new Date(ms).toISOString().replace('Z', '000');

/** A folder of `n` datasets, one updated per second from T0, as Galaxy pages it; `ordered: false` ignores order_by. */
function folder(n: number, o: { folders?: number; ordered?: boolean } = {}): { pageOf: PageOf; asked: string[] } {
  const subfolders: FolderItem[] = Array.from({ length: o.folders ?? 0 }, (_, i) => ({ id: `F${i}`, type: 'folder', name: `sub${i}`, update_time: stamp(T0) }));
  const datasets: FolderItem[] = Array.from({ length: n }, (_, i) => ({ id: `D${i}`, type: 'file', name: `f${i}.txt`, state: 'ok', raw_size: i, update_time: stamp(T0 + i * 1000) }));
  const asked: string[] = [];
  const pageOf: PageOf = (offset, limit, query) => {
    asked.push(`${offset}:${limit}:${query}`);
    const newest = query.includes('order_by=update_time') && query.includes('sort_desc=true') && o.ordered !== false;
    const items = [...subfolders, ...(newest ? [...datasets].reverse() : datasets)];
    return Promise.resolve({ total: items.length, page: items.slice(offset, offset + limit) });
  };
  return { pageOf, asked };
}

describe('folder pages', () => {
  it('reads Galaxy\'s zoneless times as UTC', () => {
    assert.equal(galaxyTime('2026-12-01T10:00:00.123456'), T0 + 123);
    assert.equal(galaxyTime('2026-12-01T10:00:00Z'), T0);
    assert.ok(Number.isNaN(galaxyTime(undefined)));
  });

  it('reads every form as Date.parse reads it as UTC: fractions of 0 to 9 digits, zones, and what is not a time', () => {
    const forms = ['2026-12-01T10:00:00', '2026-12-01T10:00:00.1', '2026-12-01T10:00:00.12', '2026-12-01T10:00:00.999999', '2026-12-01T10:00:00.123456789', '2024-02-29T23:59:59.5', '1999-12-31T00:00:00.000001', '2026-12-01T10:00:00+02:00', '2026-12-01T10:00:00.5Z'];
    for (const v of forms) assert.equal(galaxyTime(v), Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(v) ? v : `${v}Z`), v);
    for (const v of ['2026-13-01T10:00:00', '2026-12-01T24:00:01', 'yesterday', '']) assert.ok(Number.isNaN(galaxyTime(v)), v);
  });

  it('lists a whole folder page by page', async () => {
    const f = folder(1234, { folders: 3 });
    const items = await allItems(f.pageOf, 500, '');
    assert.equal(items.length, 1237);
    assert.equal(f.asked.length, 3);
  });

  it('lists only the subfolders of a folder of 50,000 datasets: the pages end at the first dataset', async () => {
    const few = folder(50_000, { folders: 3 });
    const many = folder(50_000, { folders: 250 });
    const none = folder(0, { folders: 200 });

    assert.deepEqual((await leadingFolders(few.pageOf, 100)).map((f) => f.name), ['sub0', 'sub1', 'sub2']);
    assert.equal(few.asked.length, 1);
    assert.equal((await leadingFolders(many.pageOf, 100)).length, 250);
    assert.equal(many.asked.length, 3);
    assert.equal((await leadingFolders(none.pageOf, 100)).length, 200);
    assert.equal(none.asked.length, 2, 'a folder of folders alone ends at total_rows');
  });

  it('reads one page of a folder of 50,000 datasets when the newest are enough', async () => {
    const f = folder(50_000);
    const want = new Set(['f49990.txt', 'f49999.txt']);
    const found = await recentDatasets(f.pageOf, { sinceMs: null, limit: 100, enough: (seen) => [...want].every((n) => seen.some((i) => i.name === n)) });
    assert.deepEqual(f.asked, ['0:100:order_by=update_time&sort_desc=true']);
    assert.equal(found.length, 100);
    assert.equal(found[0]?.name, 'f49999.txt');
  });

  it('stops at the first dataset older than the bound, and leaves the older ones out', async () => {
    const f = folder(50_000);
    const sinceMs = T0 + 49_750 * 1000;
    const found = await recentDatasets(f.pageOf, { sinceMs, limit: 100, enough: () => false });
    assert.equal(f.asked.length, 3);
    assert.equal(found.length, 250);
    assert.ok(found.every((i) => galaxyTime(i.update_time) >= sinceMs));
  });

  it('skips the folders, and reads to the end of a Galaxy that ignores order_by', async () => {
    const f = folder(1000, { folders: 5, ordered: false });
    const found = await recentDatasets(f.pageOf, { sinceMs: T0 + 990 * 1000, limit: 100, enough: () => false });
    assert.equal(f.asked.length, 11);
    assert.deepEqual(found.map((i) => i.name), Array.from({ length: 10 }, (_, i) => `f${990 + i}.txt`));
  });
});
