import type { DatasetPermissions, LibraryPermissions, RoleSummary } from './answers.js';
import { expectArray, expectObject, expectRoleLists, shapeError } from './answers.js';
import type { Call } from './call.js';
import { enc } from './call.js';

/** Galaxy's roles, the permissions of libraries and datasets, users' default permissions, and notifications (client.ts puts them together). */
export function rolesApi(call: Call) {
  return {
    /** Every role an admin can see: groups' and admins' roles, and each user's private role (named by the user's email). */
    async listRoles(): Promise<RoleSummary[]> {
      const p = '/api/roles';
      return await call('GET', p, undefined, (b) => expectArray(b, 'GET', p, ['id', 'name'])) as RoleSummary[];
    },

    /** A library's roles by permission, each role as [name, id]. */
    async libraryPermissions(libraryId: string): Promise<LibraryPermissions> {
      const p = `/api/libraries/${enc(libraryId)}/permissions?scope=current`;
      return await call('GET', p, undefined, (b) => expectRoleLists(b, 'GET', `/api/libraries/${enc(libraryId)}/permissions`, 'access_library_role_list')) as unknown as LibraryPermissions;
    },

    /**
     * Set a library's permissions (each a list of role ids; the ones left out are emptied). Galaxy
     * leaves out, with only a line in its own log, a role it finds invalid: the answer says what holds.
     */
    async setLibraryPermissions(libraryId: string, ids: { access: readonly string[]; add: readonly string[]; manage: readonly string[]; modify: readonly string[] }): Promise<LibraryPermissions> {
      const p = `/api/libraries/${enc(libraryId)}/permissions`;
      const body = { action: 'set_permissions', 'access_ids[]': ids.access, 'add_ids[]': ids.add, 'manage_ids[]': ids.manage, 'modify_ids[]': ids.modify };
      return await call('POST', p, body, (b) => expectRoleLists(b, 'POST', p, 'access_library_role_list')) as unknown as LibraryPermissions;
    },

    /**
     * Restrict a library dataset (its `ld` id) to roles: who may read it (`access`: a user needs
     * every one of them) and manage its permissions. Invalid roles are left out as above.
     */
    async setDatasetPermissions(datasetId: string, ids: { access: readonly string[]; manage: readonly string[] }): Promise<DatasetPermissions> {
      const p = `/api/libraries/datasets/${enc(datasetId)}/permissions`;
      const body = { action: 'set_permissions', 'access_ids[]': ids.access, 'manage_ids[]': ids.manage };
      return await call('POST', p, body, (b) => expectRoleLists(b, 'POST', p, 'access_dataset_roles')) as unknown as DatasetPermissions;
    },

    /** Make a library dataset readable by everybody (action remove_restrictions); its manage roles stay. */
    async makeDatasetPublic(datasetId: string): Promise<DatasetPermissions> {
      const p = `/api/libraries/datasets/${enc(datasetId)}/permissions`;
      return await call('POST', p, { action: 'remove_restrictions' }, (b) => expectRoleLists(b, 'POST', p, 'access_dataset_roles')) as unknown as DatasetPermissions;
    },

    /**
     * A user's default dataset permissions, which a new history takes and a fetch job's datasets
     * take from its history (GET /api/users/{id}/permissions/inputs): the names of the roles each
     * action is restricted to (DATASET_ACCESS, DATASET_MANAGE_PERMISSIONS). This route's role ids
     * are Galaxy's plain numbers, not encoded ids, so names are what it gives.
     */
    async userDefaultPermissions(userId: string): Promise<Record<string, string[]>> {
      const p = `/api/users/${enc(userId)}/permissions/inputs`;
      const answer = await call('GET', p, undefined, (b) => expectObject(b, 'GET', '/api/users/{id}/permissions/inputs', []));
      if (!Array.isArray(answer.inputs)) throw shapeError('GET', '/api/users/{id}/permissions/inputs', 'the field "inputs" is not a list');
      const out: Record<string, string[]> = {};
      for (const input of answer.inputs as { name?: unknown; value?: unknown; options?: unknown }[]) {
        if (typeof input.name !== 'string') continue;
        const options = Array.isArray(input.options) ? input.options as unknown[][] : [];
        const values = Array.isArray(input.value) ? input.value : [];
        out[input.name] = values.map((v) => String(options.find((o) => Array.isArray(o) && String(o[1]) === String(v))?.[0] ?? v));
      }
      return out;
    },

    /** Send a personal message to roles' users (an admin's key); Galaxy answers how many it sent. */
    async sendNotification(o: { roleIds: readonly string[]; subject: string; message: string; source: string }): Promise<{ total_notifications_sent?: number }> {
      const p = '/api/notifications';
      const body = {
        recipients: { user_ids: [], group_ids: [], role_ids: o.roleIds },
        notification: { source: o.source, category: 'message', variant: 'info', content: { category: 'message', subject: o.subject, message: o.message } },
      };
      return await call('POST', p, body, (b) => expectObject(b, 'POST', p, []));
    },
  };
}

export type RolesApi = ReturnType<typeof rolesApi>;
