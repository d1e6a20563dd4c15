import { GalaxyError, invalidParameter } from './errors.js';
import type { NotificationRec, User } from './records.js';
import type { Store } from './store.js';
import { now } from './store.js';

/** Notifications (enable_notification_system): sent by admins to users and roles, read by their users. */

/** POST /api/notifications (admins): a message to the users of the given users, roles (groups are not modelled). */
export function sendNotification(s: Store, user: User | null, body: Record<string, unknown>): unknown {
  if (!s.settings.notifications) throw new GalaxyError(403, 403004, 'Notifications are disabled in this Galaxy.');
  if (!user?.admin) throw new GalaxyError(403, 403006, 'Only administrators can create and send notifications.');
  const recipients = (body.recipients ?? {}) as Record<string, unknown>;
  const notification = (body.notification ?? {}) as Record<string, unknown>;
  const content = (notification.content ?? {}) as Record<string, unknown>;
  if (typeof content.subject !== 'string' || typeof content.message !== 'string') throw invalidParameter('notification', 'Field required in (\'body\', \'notification\', \'content\', \'subject\')');
  const ids = (key: string): number[] => (Array.isArray(recipients[key]) ? (recipients[key] as unknown[]).map((v) => s.codec.decode(String(v), key)) : []);
  const userIds = new Set(ids('user_ids'));
  for (const r of ids('role_ids')) for (const u of s.roles.get(r)?.userIds ?? []) userIds.add(u);
  const t = now();
  const rec: NotificationRec = { id: s.next('notification'), userIds: [...userIds], source: typeof notification.source === 'string' ? notification.source : '', variant: typeof notification.variant === 'string' ? notification.variant : 'info', subject: content.subject, message: content.message, createTime: t };
  s.codec.encode(rec.id);
  s.notifications.push(rec);
  return { total_notifications_sent: rec.userIds.length, notification: notificationView(s, rec) };
}

/** GET /api/notifications: the key's user's own. */
export function listNotifications(s: Store, user: User | null): unknown[] {
  if (!s.settings.notifications) throw new GalaxyError(403, 403004, 'Notifications are disabled in this Galaxy.');
  if (!user) throw new GalaxyError(403, 403001, 'You must be logged in to see your notifications.');
  return s.notifications.filter((n) => n.userIds.includes(user.id)).map((n) => ({ ...notificationView(s, n), seen_time: null, deleted: false }));
}

function notificationView(s: Store, n: NotificationRec): Record<string, unknown> {
  return { id: s.codec.encode(n.id), source: n.source, category: 'message', variant: n.variant, create_time: n.createTime, update_time: n.createTime, publication_time: n.createTime, content: { subject: n.subject, message: n.message, category: 'message' } };
}
