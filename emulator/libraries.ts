import { adminRequired, GalaxyError, missingParameter } from './errors.js';
import { newFolder } from './folders.js';
import type { LibraryRec, User } from './records.js';
import type { Store } from './store.js';
import { now, str } from './store.js';

/** Data libraries, each with a root folder (folders.ts); who sees which. */

/** Whether a user may see a library: an admin, a public one, or a member of one of its access roles. */
function sees(s: Store, user: User | null, lib: LibraryRec): boolean {
  return user?.admin === true || (lib.access ?? []).length === 0 || (user !== null && (lib.access ?? []).some((id) => s.roles.get(id)?.userIds.includes(user.id) === true));
}

function librarySummary(s: Store, lib: LibraryRec, user: User | null): Record<string, unknown> {
  const admin = Boolean(user?.admin);
  return {
    model_class: 'Library',
    id: s.codec.encode(lib.id),
    name: lib.name,
    description: lib.description,
    synopsis: lib.synopsis,
    root_folder_id: s.codec.folder(lib.rootFolderId),
    create_time: lib.createTime,
    create_time_pretty: '',
    deleted: lib.deleted,
    public: (lib.access ?? []).length === 0,
    can_user_add: admin,
    can_user_modify: admin,
    can_user_manage: admin,
  };
}

export function listLibraries(s: Store, user: User | null, deleted: boolean | null): unknown[] {
  if (deleted === true && !user?.admin) throw adminRequired();
  const visible = [...s.libraries.values()].filter((lib) => {
    if (!user?.admin) return !lib.deleted && sees(s, user, lib);
    return deleted === null ? true : lib.deleted === deleted;
  });
  visible.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id - b.id);
  return visible.map((lib) => librarySummary(s, lib, user));
}

export function createLibrary(s: Store, user: User | null, body: Record<string, unknown>): unknown {
  if (!user?.admin) throw adminRequired();
  if (body.name === undefined || body.name === null) throw missingParameter('name');
  const name = str(body, 'name', '');
  const t = now();
  const lib: LibraryRec = {
    id: s.next('library'),
    name,
    description: str(body, 'description', ''),
    synopsis: str(body, 'synopsis', ''),
    rootFolderId: 0,
    deleted: false,
    createTime: t,
  };
  s.codec.encode(lib.id);
  const root = newFolder(s, lib.id, null, name, '');
  lib.rootFolderId = root.id;
  s.libraries.set(lib.id, lib);
  s.onChange();
  return librarySummary(s, lib, user);
}

export function getLibrary(s: Store, user: User | null, encoded: string): LibraryRec {
  const lib = s.libraries.get(s.codec.decode(encoded, 'library id'));
  if (!lib) throw new GalaxyError(404, 404001, 'Library with the id provided was not found.');
  if (lib.deleted && !user?.admin) throw new GalaxyError(404, 404001, 'Library with the id provided is deleted.');
  return lib;
}

export function showLibrary(s: Store, user: User | null, encoded: string): unknown {
  return librarySummary(s, getLibrary(s, user, encoded), user);
}

export function deleteLibrary(s: Store, user: User | null, encoded: string, undelete: boolean): unknown {
  if (!user?.admin) throw adminRequired();
  const lib = getLibrary(s, user, encoded);
  lib.deleted = !undelete;
  s.onChange();
  return librarySummary(s, lib, user);
}
