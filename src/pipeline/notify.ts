import path from 'node:path';
import type { Clock, Timer } from '../clock.js';
import { within } from '../clock.js';
import type { Config } from '../config/load.js';
import type { GalaxyClient } from '../galaxy/client.js';
import { GalaxyApiError, isUnusable } from '../galaxy/errors.js';
import { compareReleases } from '../galaxy/releases.js';
import type { DaemonEvent, Emit } from '../observe/events.js';
import type { Access } from './access.js';
import { classify } from './retry.js';
import { backoffMs, retry } from '../retry.js';
import { folderText, routeFile } from './route.js';

/**
 * notify: when files of a folder are ok, one Galaxy notification to the folder's `notify` roles
 * and users, naming library, folder and how many files; at most one per folder every
 * `[library] notify_minutes`. It listens to `upload.ok` (new uploads only, not datasets a
 * rebuilt ledger found in Galaxy). Notifications never hold a file back: a failure is logged,
 * and a Galaxy without notifications (before 23.1, or enable_notification_system off) is said
 * once, after which none is sent in this run.
 */

export type NotifyClient = Pick<GalaxyClient, 'version' | 'configuration' | 'sendNotification'>;

/** Ok files gather this long before the first notification of a quiet folder, so a batch makes one. */
export const NOTIFY_GATHER_MS = 10_000;
/** File names a notification lists. */
const NAMES_LISTED = 10;
/** The oldest Galaxy with the notifications API. */
export const NOTIFICATIONS_SINCE = '23.1';

interface Pending {
  library: string;
  folder: string;
  notify: readonly string[];
  count: number;
  names: string[];
  lastSent: number;
  timer: Timer | null;
}

/** What a Galaxy says of its notifications: its release, whether that is before them, and enable_notification_system (null when not said). */
export async function galaxyNotifications(client: Pick<NotifyClient, 'version' | 'configuration'>): Promise<{ release: string; old: boolean; enabled: boolean | null }> {
  const v = await client.version();
  if (compareReleases(v.version_major, NOTIFICATIONS_SINCE) < 0) return { release: v.version_major, old: true, enabled: null };
  const conf = await client.configuration(['enable_notification_system']);
  return { release: v.version_major, old: false, enabled: typeof conf.enable_notification_system === 'boolean' ? conf.enable_notification_system : null };
}

export interface NotifierDeps {
  client: NotifyClient;
  /** Names to role ids (access.ts): a role, or a user's email for the user's private role. */
  roles: Pick<Access, 'roleId'>;
  config: Pick<Config, 'library' | 'upload' | 'folders'>;
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout' | 'sleep'>;
  emit: Emit;
  /** [library] notify_minutes. */
  everyMs: number;
}

export class Notifier {
  readonly #o: NotifierDeps;
  readonly #folders = new Map<string, Pending>();
  /** Why notifications cannot be sent to this Galaxy, once known. */
  #off: string | null = null;
  #said = false;
  #checked: Promise<void> | null = null;
  readonly #sending = new Set<Promise<void>>();

  constructor(o: NotifierDeps) {
    this.#o = o;
  }

  /** The daemon's events: each new `upload.ok` counts toward its folder's next notification. */
  readonly observe = (e: DaemonEvent): void => {
    if (e.type !== 'upload.ok' || e.reason !== undefined || this.#off !== null) return;
    const route = routeFile(e.file, this.#o.config);
    if (route.notify.length === 0) return;
    const key = `${route.library}\u0000${folderText(route)}`;
    const now = this.#o.clock.now();
    let f = this.#folders.get(key);
    if (!f) {
      f = { library: route.library, folder: folderText(route), notify: route.notify, count: 0, names: [], lastSent: -Infinity, timer: null };
      this.#folders.set(key, f);
    }
    f.count++;
    if (f.names.length < NAMES_LISTED) f.names.push(path.posix.basename(e.file));
    if (f.timer === null) {
      const pending = f;
      pending.timer = this.#o.clock.setTimeout(() => this.#track(this.#send(key, pending)), Math.max(NOTIFY_GATHER_MS, f.lastSent + this.#o.everyMs - now));
    }
  };

  /** At stop (after the uploads): send what is gathered now, waiting at most `deadlineMs` for Galaxy. */
  async flush(deadlineMs: number): Promise<void> {
    for (const [key, f] of this.#folders) {
      if (f.timer === null) continue;
      this.#o.clock.clearTimeout(f.timer);
      this.#track(this.#send(key, f));
    }
    await within(this.#o.clock, Promise.allSettled([...this.#sending]), deadlineMs);
  }

  #track(p: Promise<void>): void {
    this.#sending.add(p);
    void p.finally(() => this.#sending.delete(p));
  }

  /** Whether this Galaxy has notifications, asked once. */
  #available(): Promise<void> {
    this.#checked ??= (async () => {
      const g = await galaxyNotifications(this.#o.client);
      if (g.old) this.#off = `Galaxy ${g.release} has no notifications (they came in ${NOTIFICATIONS_SINCE}); upgrade Galaxy, or remove notify from the config`;
      else if (g.enabled === false) this.#off = "notifications are off in this Galaxy: set enable_notification_system: true in galaxy.yml and restart Galaxy, or remove notify from the config";
    })();
    this.#checked.catch(() => (this.#checked = null));
    return this.#checked;
  }

  async #send(key: string, f: Pending): Promise<void> {
    f.timer = null;
    const { count, names } = f;
    if (count === 0) return;
    f.count = 0;
    f.names = [];
    f.lastSent = this.#o.clock.now();
    this.#prune();
    const at = { library: f.library, folder: f.folder, files: count };
    try {
      await this.#available();
      if (this.#off !== null) {
        this.#sayOff();
        return;
      }
      const roleIds: string[] = [];
      for (const name of f.notify) {
        try {
          roleIds.push(await this.#o.roles.roleId(name, 'notify'));
        } catch (err) {
          this.#o.emit({ type: 'notify.failed', ...at, reason: (err as Error).message });
        }
      }
      if (roleIds.length === 0) return;
      const more = count > names.length ? `, and ${count - names.length} more` : '';
      const sent = await retry(() => this.#o.client.sendNotification({
        roleIds,
        source: 'galaxy-importd',
        subject: `${count} new file${count === 1 ? '' : 's'} in ${f.library} ${f.folder}`,
        message: `${count} file${count === 1 ? ' was' : 's were'} imported into the data library **${f.library}**, folder **${f.folder}**: ${names.join(', ')}${more}.`,
      }), {
        clock: this.#o.clock,
        onFailure: (err, attempt) => (isUnusable(err) || attempt >= 3 || classify(err).kind !== 'transient' ? null : backoffMs(attempt, { firstMs: 1000, capMs: 4000, jitter: true })),
      });
      this.#o.emit({ type: 'notify.sent', ...at, recipients: f.notify, sent: typeof sent.total_notifications_sent === 'number' ? sent.total_notifications_sent : null });
    } catch (err) {
      // No such route, or notifications switched off since: say so once, send no more.
      if (isUnusable(err) || (err instanceof GalaxyApiError && err.status === 403 && err.errCode === 403004)) {
        this.#off = `${classify(err).message}; check enable_notification_system in galaxy.yml`;
        this.#sayOff();
        return;
      }
      this.#o.emit({ type: 'notify.failed', ...at, reason: classify(err).message });
    }
  }

  /** Why no notification is sent, said once. */
  #sayOff(): void {
    if (this.#said || this.#off === null) return;
    this.#said = true;
    this.#o.emit({ type: 'notify.unavailable', reason: this.#off });
  }

  /** Forget folders whose last notification is long past and that have nothing gathered. */
  #prune(): void {
    const now = this.#o.clock.now();
    for (const [key, f] of this.#folders) if (f.timer === null && f.count === 0 && now - f.lastSent > this.#o.everyMs) this.#folders.delete(key);
  }
}
