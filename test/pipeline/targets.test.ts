import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContentsEntry, FolderDetails, LibrarySummary } from '../../src/galaxy/client.js';
import { systemClock } from '../../src/clock.js';
import { localCoordinator } from '../../src/ledger/coordinator.js';
import type { Route } from '../../src/pipeline/route.js';
import type { TargetClient } from '../../src/pipeline/targets.js';
import { FRESH_MS, Targets } from '../../src/pipeline/targets.js';
import { events, memoryRows, turns } from '../fakes.js';

const route = (folder: string[]): Route => ({ library: 'Lab', folder, fileType: 'auto', dbkey: '?', tags: [], link: false, access: null, notify: [] });

/** A Galaxy of libraries and folders in memory, counting the calls. */
function galaxy(o: { loseCreateAnswer?: boolean } = {}) {
  const libraries: LibrarySummary[] = [];
  const folders: ContentsEntry[] = [{ id: 'Froot', type: 'folder', name: '/' }];
  const calls = { listLibraries: 0, createLibrary: 0, subfolders: 0, createFolder: 0 };
  let lose = o.loseCreateAnswer ?? false;
  const client: TargetClient = {
    listLibraries: () => (calls.listLibraries++, Promise.resolve([...libraries])),
    createLibrary: (name) => {
      calls.createLibrary++;
      const lib = { id: `L${libraries.length + 1}`, name, root_folder_id: 'Froot' };
      libraries.push(lib);
      return Promise.resolve(lib);
    },
    subfolders: (parentId) => {
      calls.subfolders++;
      const parent = folders.find((f) => f.id === parentId)?.name ?? '';
      const prefix = parent === '/' ? '/' : `${parent}/`;
      const children = folders.filter((f) => f.name.startsWith(prefix) && f.name !== parent && !f.name.slice(prefix.length).includes('/'));
      return Promise.resolve(children.map((f) => ({ id: f.id, type: 'folder', name: f.name.slice(prefix.length) })));
    },
    createFolder: (parentId, name) => {
      calls.createFolder++;
      const parent = folders.find((f) => f.id === parentId);
      const full = `${parent?.name === '/' ? '' : parent?.name ?? ''}/${name}`;
      const created: FolderDetails = { id: `F${folders.length}`, name };
      folders.push({ id: created.id, type: 'folder', name: full });
      if (lose) {
        lose = false;
        return Promise.reject(new Error('socket hang up (the answer was lost)'));
      }
      return Promise.resolve(created);
    },
  };
  return { client, calls, folders };
}

describe('Targets (fakes)', () => {
  it('finds or creates library and folder path once for many callers at once, and says what it created', async () => {
    const g = galaxy();
    const emit = events();
    const targets = new Targets({ client: g.client, libraryDescription: 'd', emit, lock: localCoordinator(memoryRows()) });

    const all = await Promise.all(Array.from({ length: 10 }, () => targets.resolve(route(['run1', 'lane2']))));

    assert.equal(new Set(all.map((t) => t.folderId)).size, 1);
    assert.equal(g.calls.createLibrary, 1);
    assert.equal(g.calls.createFolder, 2);
    assert.deepEqual(emit.seen.map((e) => e.type), ['library.created', 'folder.created', 'folder.created']);
    await targets.resolve(route(['run1', 'lane2']));
    assert.equal(g.calls.subfolders, 0, 'with the ledger to itself, no look under folders it just made');
    assert.equal(all[0]?.madeHere, true, 'this process made the folder');
    const another = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()) });
    assert.equal((await another.resolve(route(['run1', 'lane2']))).madeHere, false, 'another process found it');
  });

  it('with replicas, each creation looks at its parent\'s subfolders first; a library found is read folder by folder, never listed whole', async () => {
    const g = galaxy();
    const lock = { replica: 'a', withLock: <T>(_key: string, fn: (since: number) => Promise<T>): Promise<T> => fn(0) };
    const targets = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock });
    await targets.resolve(route(['run1', 'lane2']));
    assert.equal(g.calls.subfolders, 2);
    assert.equal(g.calls.createFolder, 2);

    const replica = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock });
    await Promise.all([replica.resolve(route(['run1', 'lane2'])), replica.resolve(route(['run1', 'lane3']))]);
    assert.equal(g.calls.subfolders, 5, 'read folder by folder on the path, once each (root, run1), and looked at again before creating under a folder found');
    assert.equal(g.calls.createFolder, 3);
    await replica.resolve(route(['run1', 'lane3']));
    assert.equal(g.calls.subfolders, 5, 'what was read or made is known');
  });

  it('alone, a creation under a folder whose subfolders it has just read does not read them again; over FRESH_MS later it does', async () => {
    const g = galaxy();
    let now = 0;
    const clock = { now: () => now, setTimeout: (fn: () => void, ms: number) => systemClock.setTimeout(fn, ms) };
    await new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()) }).resolve(route(['run1', 'lane2']));
    const before = g.calls.subfolders;
    const alone = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()), clock });
    await Promise.all([alone.resolve(route(['run1', 'lane2'])), alone.resolve(route(['run1', 'lane3']))]);
    assert.equal(g.calls.subfolders - before, 2, 'root and run1 read once each, no look again before creating lane3');
    assert.equal(g.calls.createFolder, 3);
    now += FRESH_MS;
    await alone.resolve(route(['run1', 'lane4']));
    assert.equal(g.calls.subfolders - before, 3, 'run1 read over FRESH_MS ago: looked at again before creating lane4');
    assert.equal(g.calls.createFolder, 4);
  });

  it('alone, under a folder it made over FRESH_MS ago, a creation looks first (someone may have made it since)', async () => {
    const g = galaxy();
    let now = 0;
    const clock = { now: () => now, setTimeout: (fn: () => void, ms: number) => systemClock.setTimeout(fn, ms) };
    const targets = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()), clock });
    await targets.resolve(route(['run1']));
    assert.equal(g.calls.subfolders, 0, 'just made: no look');
    now += FRESH_MS;
    await targets.resolve(route(['run2']));
    await targets.resolve(route(['run1', 'lane1']));
    assert.equal(g.calls.subfolders, 2, 'one look before each creation under folders made FRESH_MS ago');
    assert.equal(g.calls.createFolder, 3);
  });

  it('a folder created but whose answer was lost is found by a fresh listing, not created twice', async () => {
    const g = galaxy({ loseCreateAnswer: true });
    const targets = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()) });
    await assert.rejects(targets.resolve(route(['run1'])), /answer was lost/);
    await turns();

    const t = await targets.resolve(route(['run1']));

    assert.equal(g.calls.createFolder, 1);
    assert.equal(t.folderId, g.folders.find((f) => f.name === '/run1')?.id);
    assert.equal(t.madeHere, false, 'found, not known to be made here: what it holds is looked for');
  });

  it('alone, under a parent just read, a creation whose answer was lost looks before trying again, and is not made twice', async () => {
    const g = galaxy();
    await new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()) }).resolve(route(['run1']));
    const lost = galaxy({ loseCreateAnswer: true });
    lost.folders.push(...g.folders.slice(1));
    const alone = new Targets({ client: { ...lost.client, listLibraries: g.client.listLibraries }, libraryDescription: 'd', emit: events(), lock: localCoordinator(memoryRows()) });
    await assert.rejects(alone.resolve(route(['run1', 'lane1'])), /answer was lost/);
    await turns();
    const looks = lost.calls.subfolders;
    const t = await alone.resolve(route(['run1', 'lane1']));
    assert.equal(lost.calls.subfolders, looks + 1, 'looked at run1 again before trying again');
    assert.equal(lost.calls.createFolder, 1, 'found, not made twice');
    assert.equal(t.folderId, lost.folders.find((f) => f.name === '/run1/lane1')?.id);
  });

  it('creates under the coordinator\'s lock, by library and by folder', async () => {
    const g = galaxy();
    const locked: string[] = [];
    const lock = { replica: null, withLock: <T>(key: string, fn: (since: number) => Promise<T>): Promise<T> => (locked.push(key.split('\u0000')[0] ?? ''), fn(0)) };
    const targets = new Targets({ client: g.client, libraryDescription: 'd', emit: events(), lock });
    await targets.resolve(route(['run1']));

    assert.deepEqual(locked, ['library', 'folder']);
  });
});
