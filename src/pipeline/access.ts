import type { Clock } from '../clock.js';
import { ImportdError } from '../errors.js';
import type { FolderItem, GalaxyClient, NamedRole, RoleSummary } from '../galaxy/client.js';
import type { Emit } from '../observe/events.js';

/**
 * access: who may see a library and read its datasets ([library] access, [folder:NAME] access).
 * Galaxy's model, as the real Galaxy showed it (docs/galaxy-notes.md, "Access"): a library's
 * access roles decide who sees the library (a member of any of them); a dataset's decide who
 * reads it (a holder of every one of them), and a dataset a fetch job makes is readable by all
 * until restricted, library access or not. So the library is restricted at its first use, and
 * each dataset once it is ok, before the file is recorded ok.
 */

export type AccessClient = Pick<GalaxyClient, 'listRoles' | 'currentUser' | 'libraryPermissions' | 'setLibraryPermissions' | 'setDatasetPermissions' | 'makeDatasetPublic'>;

/** A role that cannot be had, or a restriction Galaxy did not apply: the files wait for an admin. */
export class AccessError extends ImportdError {
  constructor(message: string) {
    super('ACCESS_ERROR', message);
  }
}

/** How long a listing of the roles answers for names it has; a name it lacks is looked for in a new one (a batch's files share it). */
const ROLES_TTL_MS = 60_000;

/** The role a name names: a role of that name, else the private role named by that email. */
export function findRole(list: readonly RoleSummary[], name: string): RoleSummary | undefined {
  return list.find((r) => r.name === name && r.type !== 'private') ?? list.find((r) => r.name === name);
}

export class Access {
  readonly #client: AccessClient;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #emit: Emit;
  #roles: { at: number; list: Promise<RoleSummary[]>; pending: boolean } | null = null;
  /** The key's user's private role: it keeps the right to manage what it restricts. */
  #own: Promise<string | null> | null = null;
  /** Libraries checked in this run, by id. */
  readonly #libraries = new Map<string, Promise<void>>();
  /** Whether this run said that the key's user's defaults make new datasets private. */
  #saidPrivate = false;

  constructor(o: { client: AccessClient; clock: Pick<Clock, 'now'>; emit: Emit }) {
    this.#client = o.client;
    this.#clock = o.clock;
    this.#emit = o.emit;
  }

  /** The roles, as listed at most `maxAgeMs` ago or by a listing under way; `fresh`: this call asked Galaxy. */
  async #listing(maxAgeMs: number): Promise<{ list: RoleSummary[]; fresh: boolean }> {
    const now = this.#clock.now();
    const held = this.#roles;
    if (held && (held.pending || now - held.at < maxAgeMs)) return { list: await held.list, fresh: false };
    const list = this.#client.listRoles();
    const entry = { at: now, list, pending: true };
    this.#roles = entry;
    list.then(() => (entry.pending = false), () => {
      if (this.#roles === entry) this.#roles = null;
    });
    return { list: await list, fresh: true };
  }

  /**
   * The id of the role `name` names: a role of that name, else the private role of the user with
   * that email. A name a held listing lacks is looked for in a new one (a role made since).
   * `setting` names the config key in the error.
   */
  async roleId(name: string, setting: 'access' | 'notify' = 'access'): Promise<string> {
    const first = await this.#listing(ROLES_TTL_MS);
    const found = findRole(first.list, name) ?? (first.fresh ? undefined : findRole((await this.#listing(0)).list, name));
    if (found) return found.id;
    const what = name.includes('@') ? `no user with the email ${JSON.stringify(name)} (nor a role of that name)` : `no role named ${JSON.stringify(name)}`;
    throw new AccessError(`${setting} = ${name}: Galaxy has ${what}; create it in Galaxy (Admin → Roles, or the user) or fix ${setting} in the config${setting === 'access' ? ', then run galaxy-importd retry --all-failed' : ''}`);
  }

  #ownRole(): Promise<string | null> {
    this.#own ??= (async () => {
      const me = await this.#client.currentUser();
      const { list } = await this.#listing(ROLES_TTL_MS);
      return list.find((r) => r.type === 'private' && r.name === me.email)?.id ?? null;
    })();
    this.#own.catch(() => (this.#own = null));
    return this.#own;
  }

  /**
   * At a library's first use in this run: a library with no access roles (public) is restricted
   * to `name`, its other permissions kept; one restricted to other roles is left as it is, said
   * once (check reports it).
   */
  library(lib: { id: string; name: string }, name: string): Promise<void> {
    let p = this.#libraries.get(lib.id);
    if (!p) {
      p = this.#restrictLibrary(lib, name);
      this.#libraries.set(lib.id, p);
      p.catch(() => this.#libraries.delete(lib.id));
    }
    return p;
  }

  async #restrictLibrary(lib: { id: string; name: string }, name: string): Promise<void> {
    const roleId = await this.roleId(name);
    const now = await this.#client.libraryPermissions(lib.id);
    const access = now.access_library_role_list;
    if (access.some(([, id]) => id === roleId)) return;
    if (access.length > 0) {
      this.#emit({ type: 'library.access_differs', library: lib.name, id: lib.id, access: name, roles: access.map(([n]) => n) });
      return;
    }
    const ids = (list: NamedRole[] | undefined): string[] => (list ?? []).map(([, id]) => id);
    const set = await this.#client.setLibraryPermissions(lib.id, {
      access: [roleId], add: ids(now.add_library_item_role_list), manage: ids(now.manage_library_role_list), modify: ids(now.modify_library_role_list),
    });
    if (!set.access_library_role_list.some(([, id]) => id === roleId)) {
      throw new AccessError(`Galaxy did not restrict library ${JSON.stringify(lib.name)} to the role ${JSON.stringify(name)} (it answered with access ${JSON.stringify(set.access_library_role_list.map(([n]) => n))}); nothing was uploaded into it`);
    }
    this.#emit({ type: 'library.restricted', library: lib.name, id: lib.id, access: name });
  }

  /**
   * Give a dataset the access its route says: restricted to `name`, or readable by everybody
   * (null). Galaxy gives a fetch job's datasets the default permissions of the job's history,
   * which a new history takes from its user's (docs/galaxy-notes.md, "Access"), not the
   * library's: a user whose defaults are private imports private datasets into a public library.
   * So a restricted dataset of a public route is made public, and a dataset of a restricted route
   * is set to its role whatever it holds (it may hold the importing user's private role). Its
   * manage permission goes to the key's user's private role, as Galaxy gave it at the upload.
   */
  async dataset(item: Pick<FolderItem, 'id' | 'is_unrestricted'>, name: string | null): Promise<void> {
    if (name === null) {
      if (item.is_unrestricted !== false) return;
      if (!this.#saidPrivate) {
        this.#saidPrivate = true;
        this.#emit({ type: 'access.defaults_private', dataset_id: item.id });
      }
      const set = await this.#client.makeDatasetPublic(item.id);
      if (set.access_dataset_roles.length > 0) {
        throw new AccessError(`Galaxy did not make dataset ${item.id} readable by everybody (it answered with access ${JSON.stringify(set.access_dataset_roles.map(([n]) => n))})`);
      }
      return;
    }
    const roleId = await this.roleId(name);
    const own = await this.#ownRole();
    const set = await this.#client.setDatasetPermissions(item.id, { access: [roleId], manage: own === null ? [] : [own] });
    if (set.access_dataset_roles.length !== 1 || set.access_dataset_roles[0]?.[1] !== roleId) {
      throw new AccessError(`Galaxy did not restrict dataset ${item.id} to the role ${JSON.stringify(name)} (it answered with access ${JSON.stringify(set.access_dataset_roles.map(([n]) => n))})`);
    }
  }
}
