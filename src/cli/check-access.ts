import type { Config } from '../config/load.js';
import type { GalaxyClient } from '../galaxy/client.js';
import { groupBy } from '../group.js';
import { findRole } from '../pipeline/access.js';
import { NOTIFICATIONS_SINCE, galaxyNotifications } from '../pipeline/notify.js';
import { folderText, libraryAccess, routeFile } from '../pipeline/route.js';

/**
 * `check` of [library] access and [folder:NAME] access (and notify): each role exists; notify's
 * Galaxy has notifications on; each library is
 * restricted to its role (or public, which the daemon restricts at its next start); and the
 * datasets already in a restricted folder that everybody who sees the library can read (uploaded
 * before access was set) are reported, never changed.
 */

export interface CheckSink {
  pass(text: string): void;
  fail(text: string, fix: string): void;
  warn(text: string, fix: string): void;
}

type AccessClient = Pick<GalaxyClient, 'listRoles' | 'listLibraries' | 'libraryPermissions' | 'libraryContents' | 'folderContents' | 'version' | 'configuration'>;

/** How many unrestricted datasets' names a report shows. */
const NAMES_SHOWN = 3;

export async function checkAccess(config: Config, client: AccessClient, out: CheckSink): Promise<void> {
  const notify = [...(config.library.notify ?? []).map((r) => [r, '[library] notify'] as const), ...[...config.folders].flatMap(([name, rule]) => (rule.notify ?? []).map((r) => [r, `[folder:${name}] notify`] as const))];
  const uses: (readonly [string | undefined, string])[] = [
    [config.library.access?.[0], '[library] access'],
    ...[...config.folders].map(([name, rule]) => [rule.access?.[0], `[folder:${name}] access`] as const),
    ...notify,
  ];
  // Where each role is used, by role: "[library] access", "[folder:labA] access", "[library] notify".
  const wanted = new Map([...groupBy(uses.filter((u): u is readonly [string, string] => Boolean(u[0])), ([role]) => role)].map(([role, u]) => [role, u.map(([, where]) => where)]));
  if (notify.length > 0) await checkNotifications(client, out);
  const libraries = new Set([config.library.name, ...[...config.folders.values()].map((r) => r.library).filter((l): l is string => l !== undefined)]);
  /** Per library: its folders' bases set by [folder:NAME] sections, with their access. */
  const bases = (library: string): { base: string; access: string | null }[] => [...config.folders.keys()]
    .map((name) => routeFile(`${name}/x`, config))
    .filter((r) => r.library === library)
    .map((r) => ({ base: folderText(r), access: r.access }));
  const restricts = (library: string): boolean => libraryAccess(library, config) !== null || bases(library).some((b) => b.access !== null);
  if (wanted.size === 0) return;

  const roles = await client.listRoles();

  const ids = new Map<string, string>();
  for (const [role, where] of wanted) {
    const found = findRole(roles, role);
    if (found) {
      ids.set(role, found.id);
      out.pass(`role ${JSON.stringify(role)} exists in Galaxy${found.type === 'private' ? ' (that user\'s private role)' : ''} (${where.join(', ')})`);
    } else {
      out.fail(`${where.join(', ')} = ${role}: Galaxy has ${role.includes('@') ? `no user with the email ${JSON.stringify(role)}` : `no role named ${JSON.stringify(role)}`}; ${where.some((w) => w.endsWith('access')) ? 'files of its folders fail until it exists' : 'it is not notified'}`,
        role.includes('@') ? 'create the user in Galaxy, or correct the email' : "create the role in Galaxy (Admin → Roles → Create, with the lab's users or groups), or correct the name; then galaxy-importd retry --all-failed");
    }
  }

  const existing = await client.listLibraries(false);
  for (const library of libraries) {
    if (!restricts(library)) continue;
    const lib = existing.find((l) => l.name === library);
    const role = libraryAccess(library, config);
    if (!lib) {
      out.pass(`library ${JSON.stringify(library)} does not exist yet${role ? `; it is created restricted to ${role}` : ''}`);
      continue;
    }
    if (role !== null) {
      const access = (await client.libraryPermissions(lib.id)).access_library_role_list;
      const id = ids.get(role);
      if (id !== undefined && access.some(([, r]) => r === id)) out.pass(`library ${JSON.stringify(library)} is restricted to ${role}`);
      else if (access.length === 0) out.warn(`library ${JSON.stringify(library)} is public: everyone sees it`, `the daemon restricts it to ${role} when it next uses it (library.restricted in the log)`);
      else out.fail(`library ${JSON.stringify(library)} is restricted to ${access.map(([n]) => n).join(', ')}, not to its access ${role}; the daemon leaves it as it is`, `change the library's permissions in Galaxy (Libraries → ${library} → Permissions), or set access to match`);
    }
    await reportUnrestricted(client, lib.id, library, (folder) => {
      const rule = bases(library).filter((b) => folder === b.base || folder.startsWith(`${b.base}/`)).sort((a, b) => b.base.length - a.base.length)[0];
      return rule ? rule.access : role;
    }, out);
  }
}

/** notify needs Galaxy 23.1 or later with enable_notification_system. */
async function checkNotifications(client: AccessClient, out: CheckSink): Promise<void> {
  const g = await galaxyNotifications(client);
  if (g.old) out.fail(`notify: Galaxy ${g.release} has no notifications (they came in ${NOTIFICATIONS_SINCE})`, 'upgrade Galaxy, or remove notify from the config');
  else if (g.enabled === true) out.pass('notify: Galaxy\'s notifications are on');
  else out.fail("notify: Galaxy's notifications are off", 'set enable_notification_system: true in galaxy.yml and restart Galaxy');
}

/** Datasets readable by all in folders whose access says otherwise: one warning per folder. */
async function reportUnrestricted(client: AccessClient, libraryId: string, library: string, accessOf: (folder: string) => string | null, out: CheckSink): Promise<void> {
  const folders = (await client.libraryContents(libraryId)).filter((e) => e.type === 'folder');
  let clean = 0;
  for (const folder of folders) {
    const role = accessOf(folder.name);
    if (role === null) continue;
    const datasets = (await client.folderContents(folder.id)).filter((i) => i.type === 'file' && i.deleted !== true);
    const open = datasets.filter((i) => i.is_unrestricted === true);
    if (open.length === 0) {
      if (datasets.length > 0) clean++;
      continue;
    }
    const names = open.slice(0, NAMES_SHOWN).map((i) => JSON.stringify(i.name)).join(', ');
    out.warn(`library ${JSON.stringify(library)} folder ${folder.name}: ${open.length} dataset${open.length === 1 ? ' is' : 's are'} readable by everyone who sees the library, though its access is ${role} (${names}${open.length > NAMES_SHOWN ? ', …' : ''}): uploaded before access was set, or by hand`,
      'galaxy-importd never changes datasets it did not restrict itself; restrict them in Galaxy (each dataset\'s Permissions) if they should be');
  }
  if (clean > 0) out.pass(`library ${JSON.stringify(library)}: the datasets of ${clean} more folder${clean === 1 ? '' : 's'} are restricted as their access says`);
}
