import { GalaxyError } from './errors.js';
import type { User } from './records.js';
import { newRole } from './roles.js';
import type { Store } from './store.js';

/** Users (with their API keys and default dataset permissions), whoami, the version and the configuration. */

export function addUser(s: Store, email: string, key: string, admin: boolean): User {
  const user: User = { id: s.next('user'), email, username: email.split('@')[0] ?? email, key, admin };
  s.users.set(user.id, user);
  s.codec.encode(user.id);
  newRole(s, email, 'private', '', [user.id]);
  return user;
}

export function userByKey(s: Store, key: string): User | undefined {
  for (const u of s.users.values()) if (u.key === key) return u;
  return undefined;
}

export function whoami(s: Store, user: User | null): unknown {
  if (!user) return null;
  return {
    model_class: 'User',
    id: s.codec.encode(user.id),
    username: user.username,
    email: user.email,
    deleted: false,
    active: true,
    last_password_change: null,
  };
}

/** GET /api/users/{id}/permissions/inputs: the user's default dataset permissions as a form; role ids are plain numbers here. */
export function userPermissions(s: Store, user: User | null, encodedId: string): unknown {
  const target = permissionsUser(s, user, encodedId);
  const roles = [...s.roles.values()].filter((r) => r.userIds.includes(target.id)).map((r) => [r.name, r.id]);
  const input = (name: string, label: string, value: number[]): unknown => ({ type: 'select', multiple: true, optional: true, name, label, help: '', options: roles, value });
  const own = [...s.roles.values()].find((r) => r.type === 'private' && r.userIds.includes(target.id))?.id;
  return { inputs: [input('DATASET_MANAGE_PERMISSIONS', 'manage permissions', own === undefined ? [] : [own]), input('DATASET_ACCESS', 'access', target.defaultAccess ?? [])] };
}

/** PUT /api/users/{id}/permissions/inputs {DATASET_ACCESS: [role number…], …}. */
export function setUserPermissions(s: Store, user: User | null, encodedId: string, body: Record<string, unknown>): unknown {
  const target = permissionsUser(s, user, encodedId);
  const access = Array.isArray(body.DATASET_ACCESS) ? body.DATASET_ACCESS.map(Number) : [];
  target.defaultAccess = access.filter((id) => s.roles.has(id));
  s.onChange();
  return { message: 'Permissions have been saved.' };
}

function permissionsUser(s: Store, user: User | null, encodedId: string): User {
  if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
  const id = s.codec.decode(encodedId, 'user id');
  const target = s.users.get(id);
  if (!target) throw new GalaxyError(404, 404001, 'User not found.');
  if (target.id !== user.id && !user.admin) throw new GalaxyError(403, 403006, 'Access denied.');
  return target;
}

export function currentUser(s: Store, user: User | null): unknown {
  if (!user) return { total_disk_usage: 0, nice_total_disk_usage: '0 bytes', quota_percent: null };
  return {
    id: s.codec.encode(user.id),
    username: user.username,
    email: user.email,
    deleted: false,
    is_admin: user.admin,
    purged: false,
    preferences: {},
    preferred_object_store_id: null,
    quota: 'unlimited',
    quota_bytes: null,
    quota_percent: null,
    tags_used: [],
    total_disk_usage: 0,
    nice_total_disk_usage: '0 bytes',
  };
}

export function configuration(s: Store, user: User | null, keys: string[] | null): Record<string, unknown> {
  const all: Record<string, unknown> = {
    version_major: s.settings.version.split('.').slice(0, 2).join('.'),
    version_minor: s.settings.version.split('.')[2] ?? null,
    brand: null,
    is_admin_user: Boolean(user?.admin),
    user_library_import_dir_available: false,
    allow_user_creation: true,
    enable_quotas: false,
    enable_notification_system: s.settings.notifications,
    enable_celery_tasks: s.settings.celery !== 'none',
  };
  if (user?.admin) {
    Object.assign(all, {
      library_import_dir: s.settings.libraryImportDir,
      user_library_import_dir: null,
      allow_library_path_paste: s.settings.allowPathPaste,
      allow_user_deletion: false,
    });
  }
  if (!keys) return all;
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(all, k)).map((k) => [k, all[k]]));
}
