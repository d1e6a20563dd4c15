import { adminRequired, GalaxyError, missingParameter } from './errors.js';
import { getLibrary } from './libraries.js';
import type { LibraryRec, RoleRec, User } from './records.js';
import type { Store } from './store.js';
import { str } from './store.js';

/**
 * Roles and permissions: GET and POST /api/roles, a library's permissions and a library
 * dataset's. A user's private role is made with the user (users.ts).
 */

export function newRole(s: Store, name: string, type: RoleRec['type'], description: string, userIds: number[]): RoleRec {
  const role: RoleRec = { id: s.next('role'), name, type, description, userIds };
  s.roles.set(role.id, role);
  s.codec.encode(role.id);
  return role;
}

function roleView(s: Store, r: RoleRec): Record<string, unknown> {
  const id = s.codec.encode(r.id);
  return { model_class: 'Role', id, name: r.name, type: r.type, description: r.type === 'private' ? null : r.description, url: `role?id=${id}` };
}

/** GET /api/roles: an admin sees every role, a user the roles they are in. */
export function listRoles(s: Store, user: User | null): unknown[] {
  return [...s.roles.values()].filter((r) => user?.admin === true || (user !== null && r.userIds.includes(user.id))).map((r) => roleView(s, r));
}

/** POST /api/roles {name, description, user_ids, group_ids}. */
export function createRole(s: Store, user: User | null, body: Record<string, unknown>): unknown {
  if (!user?.admin) throw adminRequired();
  const name = str(body, 'name', '');
  if (name === '') throw missingParameter('name');
  if ([...s.roles.values()].some((r) => r.name === name)) throw new GalaxyError(409, 409001, `A role with that name already exists`);
  const ids = Array.isArray(body.user_ids) ? body.user_ids.map((u) => s.codec.decode(String(u), 'user id')) : [];
  const role = newRole(s, name, 'admin', str(body, 'description', ''), ids);
  s.onChange();
  return roleView(s, role);
}

/** Role ids from a permissions payload's `key[]` (one id or a list); an id that is no role is refused as Galaxy does. */
function roleIds(s: Store, body: Record<string, unknown>, key: string): number[] {
  const raw = body[`${key}[]`];
  const list = (Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  return list.map((enc) => {
    let id: number;
    try {
      id = s.codec.decode(enc, 'role id');
    } catch {
      throw new GalaxyError(400, 400009, `Wrong  id ( ${enc} ) specified, unable to decode.`);
    }
    if (!s.roles.has(id)) throw new GalaxyError(404, 404001, 'Role with the id provided was not found.');
    return id;
  });
}

function named(s: Store, ids: number[] | undefined): [string, string][] {
  return (ids ?? []).map((id) => [s.roles.get(id)?.name ?? '', s.codec.encode(id)]);
}

function libraryPermissionsView(s: Store, lib: LibraryRec): unknown {
  return {
    access_library_role_list: named(s, lib.access),
    modify_library_role_list: named(s, lib.modify),
    manage_library_role_list: named(s, lib.manage),
    add_library_item_role_list: named(s, lib.add),
  };
}

/** GET /api/libraries/{id}/permissions?scope=current. */
export function libraryPermissions(s: Store, user: User | null, encoded: string): unknown {
  if (!user?.admin) throw new GalaxyError(403, 403005, 'You do not have proper permission to access permissions of this library.');
  return libraryPermissionsView(s, getLibrary(s, user, encoded));
}

/** POST /api/libraries/{id}/permissions {action: set_permissions | remove_restrictions, access_ids[], add_ids[], manage_ids[], modify_ids[]}. */
export function setLibraryPermissions(s: Store, user: User | null, encoded: string, body: Record<string, unknown>): unknown {
  if (!user?.admin) throw new GalaxyError(403, 403005, 'You do not have proper permission to modify permissions of this library.');
  const lib = getLibrary(s, user, encoded);
  if (body.action === 'remove_restrictions') lib.access = [];
  else if (body.action === 'set_permissions') {
    lib.access = roleIds(s, body, 'access_ids');
    lib.add = roleIds(s, body, 'add_ids');
    lib.manage = roleIds(s, body, 'manage_ids');
    lib.modify = roleIds(s, body, 'modify_ids');
  } else throw new GalaxyError(400, 400008, 'The mandatory parameter "action" has an invalid value.Allowed values are: "remove_restrictions", set_permissions"');
  s.onChange();
  return libraryPermissionsView(s, lib);
}

/** POST /api/libraries/datasets/{id}/permissions {action: set_permissions, access_ids[], manage_ids[]}. */
export function setDatasetPermissions(s: Store, user: User | null, encoded: string, body: Record<string, unknown>): unknown {
  if (!['remove_restrictions', 'make_private', 'set_permissions'].includes(String(body.action))) {
    throw new GalaxyError(400, 400008, 'The mandatory parameter "action" has an invalid value. Allowed values are: "remove_restrictions", "make_private", "set_permissions"');
  }
  const d = s.datasets.get(s.codec.decode(encoded, 'library dataset id'));
  if (!d || d.deleted) throw new GalaxyError(404, 404001, 'Library dataset with the id provided was not found.');
  if (!user?.admin) throw new GalaxyError(403, 403005, 'You do not have proper permissions to manage permissions on this dataset.');
  if (body.action === 'remove_restrictions') d.access = [];
  else if (body.action === 'make_private') d.access = [...s.roles.values()].filter((r) => r.type === 'private' && r.userIds.includes(user.id)).map((r) => r.id);
  else {
    d.access = roleIds(s, body, 'access_ids');
    d.manage = roleIds(s, body, 'manage_ids');
  }
  s.onChange();
  return { access_dataset_roles: named(s, d.access), manage_dataset_roles: named(s, d.manage), modify_item_roles: [] };
}
