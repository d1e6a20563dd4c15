import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LibraryPermissions, RoleSummary } from '../../src/galaxy/client.js';
import { Access, AccessError } from '../../src/pipeline/access.js';
import { events } from '../fakes.js';

/** A Galaxy of roles and one library's permissions in memory, counting the calls. */
function galaxy(o: { roles?: RoleSummary[]; library?: LibraryPermissions; drops?: boolean; keeps?: boolean } = {}) {
  const roles: RoleSummary[] = o.roles ?? [{ id: 'r1', name: 'lab-a', type: 'admin' }, { id: 'p1', name: 'admin@example.org', type: 'private' }];
  let library: LibraryPermissions = o.library ?? { access_library_role_list: [], add_library_item_role_list: [['curators', 'c1']], manage_library_role_list: [], modify_library_role_list: [] };
  const calls: string[] = [];
  const sets: unknown[] = [];
  let now = 0;
  const said = events();
  const access = new Access({
    clock: { now: () => now },
    emit: said,
    client: {
      listRoles: () => (calls.push('roles'), Promise.resolve([...roles])),
      currentUser: () => Promise.resolve({ email: 'admin@example.org' }),
      libraryPermissions: () => (calls.push('library'), Promise.resolve(library)),
      setLibraryPermissions: (_id, ids) => {
        sets.push(ids);
        const named = (list: readonly string[]): [string, string][] => list.map((id) => [roles.find((r) => r.id === id)?.name ?? '', id]);
        library = {
          access_library_role_list: o.drops ? [] : named(ids.access), add_library_item_role_list: named(ids.add),
          manage_library_role_list: named(ids.manage), modify_library_role_list: named(ids.modify),
        };
        return Promise.resolve(library);
      },
      setDatasetPermissions: (id, ids) => (sets.push({ id, ...ids }), Promise.resolve({ access_dataset_roles: o.drops ? [] : ids.access.map((r) => ['lab-a', r] as [string, string]) })),
      // keeps: Galaxy answers with the importing user's private role still there.
      makeDatasetPublic: (id) => (sets.push({ id, public: true }), Promise.resolve({ access_dataset_roles: o.keeps ? [['admin@example.org', 'p1'] as [string, string]] : [] })),
    },
  });
  return { access, calls, sets, roles, said, advance: (ms: number) => (now += ms) };
}

describe('Access', () => {
  it('resolves a role by name (an email to its private role) from one listing, kept a minute', async () => {
    const g = galaxy();
    assert.equal(await g.access.roleId('lab-a'), 'r1');
    assert.equal(await g.access.roleId('admin@example.org'), 'p1');
    g.advance(59_000);
    await g.access.roleId('lab-a');
    assert.deepEqual(g.calls, ['roles']);
    g.advance(2000);
    await g.access.roleId('lab-a');
    assert.deepEqual(g.calls, ['roles', 'roles']);
  });

  it('looks for a missing name in a new listing once, not again right after one; says which key names it', async () => {
    const g = galaxy();
    await assert.rejects(g.access.roleId('lab-b', 'notify'), (err: Error) => err instanceof AccessError && /^notify = lab-b: Galaxy has no role named "lab-b"; create it in Galaxy/.test(err.message));
    assert.deepEqual(g.calls, ['roles'], 'the listing just made is not asked again');
    g.roles.push({ id: 'r2', name: 'lab-b', type: 'admin' });
    assert.equal(await g.access.roleId('lab-b'), 'r2', 'a role made since is found in a new listing');
    assert.deepEqual(g.calls, ['roles', 'roles']);
  });

  it('restricts a public library keeping its other permissions, once per run', async () => {
    const g = galaxy();
    await g.access.library({ id: 'L1', name: 'Lab A' }, 'lab-a');
    await g.access.library({ id: 'L1', name: 'Lab A' }, 'lab-a');
    assert.deepEqual(g.sets, [{ access: ['r1'], add: ['c1'], manage: [], modify: [] }]);
    assert.equal(g.calls.filter((c) => c === 'library').length, 1);
  });

  it('leaves a library restricted to other roles as it is', async () => {
    const g = galaxy({ library: { access_library_role_list: [['other', 'o1']] } });
    await g.access.library({ id: 'L1', name: 'Lab A' }, 'lab-a');
    assert.deepEqual(g.sets, []);
  });

  it('fails when Galaxy answers without the role (it drops roles it finds invalid), for a library and a dataset', async () => {
    const g = galaxy({ drops: true });
    await assert.rejects(g.access.library({ id: 'L1', name: 'Lab A' }, 'lab-a'), /Galaxy did not restrict library "Lab A" to the role "lab-a"/);
    await assert.rejects(g.access.dataset({ id: 'D1', is_unrestricted: true }, 'lab-a'), /Galaxy did not restrict dataset D1 to the role "lab-a"/);
  });

  it('restricts a dataset to the role, the uploader keeping its manage permission, whatever Galaxy gave it (a private dataset too)', async () => {
    const g = galaxy();
    await g.access.dataset({ id: 'D1', is_unrestricted: true }, 'lab-a');
    // The importing user's private defaults made D2 private: restricted, but not to the role.
    await g.access.dataset({ id: 'D2', is_unrestricted: false }, 'lab-a');
    assert.deepEqual(g.sets, [{ id: 'D1', access: ['r1'], manage: ['p1'] }, { id: 'D2', access: ['r1'], manage: ['p1'] }]);
  });

  it('with no access: makes a restricted dataset public, says why once a run, and leaves a public one alone', async () => {
    const g = galaxy();
    await g.access.dataset({ id: 'D1', is_unrestricted: true }, null);
    await g.access.dataset({ id: 'D2', is_unrestricted: false }, null);
    await g.access.dataset({ id: 'D3', is_unrestricted: false }, null);
    assert.deepEqual(g.sets, [{ id: 'D2', public: true }, { id: 'D3', public: true }]);
    assert.deepEqual(g.said.of('access.defaults_private'), [{ type: 'access.defaults_private', dataset_id: 'D2' }]);
  });

  it('fails when Galaxy answers that a dataset made public is still restricted', async () => {
    const g = galaxy({ keeps: true });
    await assert.rejects(g.access.dataset({ id: 'D1', is_unrestricted: false }, null), /Galaxy did not make dataset D1 readable by everybody \(it answered with access \["admin@example.org"\]\)/);
  });
});
