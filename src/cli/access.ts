import { systemClock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { FolderItem } from '../galaxy/client.js';
import type { GalaxyClient } from '../galaxy/client.js';
import { groupBy } from '../group.js';
import type { FileRecord } from '../ledger/ledger.js';
import { Access } from '../pipeline/access.js';
import { folderText, routeFile } from '../pipeline/route.js';
import type { DaemonIo } from './io.js';
import { commandClient, daemonSetup, openClientLedger } from './io.js';

/**
 * `galaxy-importd access [--fix] [--json]`, and check's row of the same: the datasets this ledger
 * imported whose access in Galaxy is not what their library folder's `access` says. Galaxy gives a
 * fetch job's datasets the importing user's default permissions (docs/galaxy-notes.md, "Access"):
 * before galaxy-importd set every dataset's access itself, a user with private defaults imported
 * private datasets into public libraries, and datasets of restricted folders stayed private to it.
 * Only datasets the ledger records as imported are looked at or changed, never others.
 */

export type AuditClient = Pick<GalaxyClient, 'listLibraries' | 'libraryContents' | 'folderContents' | 'currentUser'>;

export interface WrongAccess {
  file: string;
  datasetId: string;
  library: string;
  folder: string;
  /** The role its access names, or null: readable by everybody. */
  want: string | null;
  /** What Galaxy shows: readable by everybody, private to the key's user, or restricted to other roles. */
  has: 'everybody' | 'private' | 'restricted';
  item: FolderItem;
}

/**
 * A dataset's access against its route's: public wants is_unrestricted; a role wants a
 * restriction that is not private to the key's user (unless the role is that user's own). A
 * dataset restricted to other roles than its role is not told apart from one restricted to its
 * role without a request per dataset: the folder listing's is_private is what catches the case
 * that happened (the importer's private defaults).
 */
function wrongness(item: FolderItem, want: string | null, me: string | undefined): WrongAccess['has'] | null {
  const has: WrongAccess['has'] = item.is_unrestricted === true ? 'everybody' : item.is_private === true ? 'private' : 'restricted';
  if (item.is_unrestricted === undefined) return null;
  if (want === null) return has === 'everybody' ? null : has;
  if (has === 'everybody') return has;
  return has === 'private' && want !== me ? has : null;
}

/** A dataset of an imported file's name, in its folder, that no file of the ledger holds: a failed attempt's, or one uploaded by hand. */
export interface Leftover {
  file: string;
  datasetId: string;
  library: string;
  folder: string;
  state: string;
  size: number | null;
}

/**
 * The datasets this ledger imported, as Galaxy holds them now, one read of each folder: those
 * whose access differs from their folder's, and, beside each, the datasets of its name that no
 * file of the ledger holds (what a failed attempt left before galaxy-importd deleted such
 * datasets itself: docs/operations.md, "What galaxy-importd does when…").
 */
export async function auditImported(config: Config, rows: readonly FileRecord[], client: AuditClient): Promise<{ wrong: WrongAccess[]; leftovers: Leftover[]; checked: number }> {
  const me = (await client.currentUser()).email;
  const imported = rows.filter((r): r is FileRecord & { datasetId: string } => r.state === 'ok' && r.datasetId !== null);
  const routed = imported.map((r) => ({ row: r, route: routeFile(r.path, config) }));
  const libraries = await client.listLibraries(false);
  const wrong: WrongAccess[] = [];
  const leftovers: Leftover[] = [];
  const held = new Set(imported.map((r) => r.datasetId));
  let checked = 0;
  for (const [library, inLibrary] of groupBy(routed, (x) => x.route.library)) {
    const lib = libraries.find((l) => l.name === library);
    if (!lib) continue;
    const folders = new Map((await client.libraryContents(lib.id)).filter((e) => e.type === 'folder').map((e) => [e.name, e.id]));
    for (const [folder, inFolder] of groupBy(inLibrary, (x) => folderText(x.route))) {
      const folderId = folders.get(folder);
      if (folderId === undefined) continue;
      const listed = await client.folderContents(folderId);
      const items = new Map(listed.map((i) => [i.id, i]));
      const byName = groupBy(listed.filter((i) => i.type === 'file' && i.deleted !== true && !held.has(i.id)), (i) => i.name);
      for (const { row, route } of inFolder) {
        const item = items.get(row.datasetId);
        if (!item || item.deleted === true) continue;
        checked++;
        const has = wrongness(item, route.access, me);
        if (has !== null) wrong.push({ file: row.path, datasetId: row.datasetId, library, folder, want: route.access, has, item });
        for (const other of byName.get(item.name) ?? []) {
          leftovers.push({ file: row.path, datasetId: other.id, library, folder, state: String(other.state ?? 'unknown'), size: typeof other.raw_size === 'number' ? other.raw_size : null });
        }
      }
    }
  }
  return { wrong, leftovers, checked };
}

/** One line for a dataset's access: "readable by everybody", "private to admin@…", "restricted". */
export function describeAccess(has: WrongAccess['has'], me?: string): string {
  return has === 'everybody' ? 'readable by everybody' : has === 'private' ? `private to ${me ?? "the key's user"}` : 'restricted';
}

export async function accessCommand(config: Config, io: DaemonIo, o: { fix: boolean; json: boolean }): Promise<number> {
  const { key } = daemonSetup(config, io.env);
  const ledger = await openClientLedger(config, io.env);
  const client = commandClient(config, key);
  try {
    const { wrong, checked } = await auditImported(config, ledger.inState('ok'), client);
    const fixed: string[] = [];
    const failed: { file: string; reason: string }[] = [];
    if (o.fix && wrong.length > 0) {
      const access = new Access({ client, clock: systemClock, emit: () => undefined });
      for (const w of wrong) {
        try {
          await access.dataset(w.item, w.want);
          fixed.push(w.file);
        } catch (err) {
          failed.push({ file: w.file, reason: (err as Error).message });
        }
      }
    }
    if (o.json) {
      io.stdout.write(`${JSON.stringify({ checked, wrong: wrong.map(({ item: _item, ...w }) => w), fixed, failed }, null, 2)}\n`);
    } else {
      for (const w of wrong) {
        const status = fixed.includes(w.file) ? 'fixed' : o.fix ? 'FAILED' : 'wrong';
        io.stdout.write(`${status.padEnd(6)} ${w.file}: dataset ${w.datasetId} in ${w.library} ${w.folder} is ${describeAccess(w.has)}; its access ${w.want === null ? 'is empty: readable by everybody' : `is ${w.want}`}\n`);
      }
      for (const f of failed) io.stdout.write(`       ${f.file}: ${f.reason}\n`);
      const summary = wrong.length === 0
        ? `access: the ${checked} dataset${checked === 1 ? '' : 's'} galaxy-importd imported that Galaxy still holds have the access their folders say`
        : o.fix
          ? `access: ${fixed.length} of ${wrong.length} dataset${wrong.length === 1 ? '' : 's'} set to the access their folders say${failed.length ? `; ${failed.length} could not be (above)` : ''}`
          : `access: ${wrong.length} of ${checked} dataset${checked === 1 ? '' : 's'} do not have the access their folders say; galaxy-importd access --fix sets it`;
      io.stdout.write(`${summary}\n`);
    }
    return wrong.length === 0 || (o.fix && failed.length === 0) ? 0 : 1;
  } finally {
    await client.close();
    await ledger.close();
  }
}

type CheckOut = { pass(text: string): void; fail(text: string, fix: string): void; warn(text: string, fix: string): void };

/** How many files' names a check row shows. */
const NAMES_SHOWN = 3;

/**
 * check's rows on dataset access: the key's user's default dataset permissions (what Galaxy gives
 * every dataset a fetch job makes), and the datasets this ledger imported whose access differs
 * from their folder's.
 */
export async function checkDatasetAccess(config: Config, client: AuditClient & Pick<GalaxyClient, 'userDefaultPermissions'>, user: { id?: string; email?: string }, rows: readonly FileRecord[], out: CheckOut): Promise<void> {
  if (user.id !== undefined) {
    const access = (await client.userDefaultPermissions(user.id)).DATASET_ACCESS ?? [];
    if (access.length === 0) out.pass(`the default dataset permissions of ${user.email ?? "the key's user"} are public: Galaxy makes new datasets readable by everybody, and galaxy-importd restricts those whose folder has access`);
    else {
      out.warn(`the default dataset permissions of ${user.email ?? "the key's user"} restrict access to ${access.join(', ')}: Galaxy gives every dataset a fetch job makes those permissions, whatever its library; galaxy-importd sets each new dataset's access as its folder says (one more request a file)`,
        `nothing to do; to save that request, log in to Galaxy as ${user.email ?? "the key's user"}, User → Preferences → Set Dataset Permissions for New Histories, and remove every access role (galaxy-importd's upload histories made before keep the old defaults; it sets access either way)`);
    }
  }
  const { wrong, leftovers, checked } = await auditImported(config, rows, client);
  if (leftovers.length > 0) {
    const names = leftovers.slice(0, NAMES_SHOWN).map((l) => `${l.library} ${l.folder}: ${l.datasetId} (${l.state}, ${l.size ?? '?'} bytes) beside ${l.file}`).join('; ');
    out.warn(`${leftovers.length} dataset${leftovers.length === 1 ? '' : 's'} in the folders galaxy-importd imports into ${leftovers.length === 1 ? 'has' : 'have'} the name of an imported file but ${leftovers.length === 1 ? 'is' : 'are'} not its dataset: ${names}${leftovers.length > NAMES_SHOWN ? '; …' : ''}`,
      "left by failed uploads before galaxy-importd deleted them itself (a full disk leaves empty or cut-short ok datasets), the earlier version of a file written again and imported again, or uploaded by hand: look at each in Galaxy and delete those that are not wanted; the file's own dataset (its upload.ok log line's dataset_id) is not among them");
  }
  if (wrong.length === 0) {
    if (checked > 0) out.pass(`the ${checked} dataset${checked === 1 ? '' : 's'} galaxy-importd imported have the access their folders say`);
    return;
  }
  const names = wrong.slice(0, NAMES_SHOWN).map((w) => `${w.file} (${describeAccess(w.has, user.email)})`).join(', ');
  out.fail(`${wrong.length} of ${checked} dataset${checked === 1 ? '' : 's'} galaxy-importd imported do not have the access their folders say: ${names}${wrong.length > NAMES_SHOWN ? ', …' : ''}`,
    'galaxy-importd access lists them all; galaxy-importd access --fix sets each one\'s access as its folder says (docs/operations.md, "Access and notifications")');
}
