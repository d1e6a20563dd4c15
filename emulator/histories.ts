import { GalaxyError } from './errors.js';
import type { HistoryRec, User } from './records.js';
import type { Store } from './store.js';
import { now, str } from './store.js';

/** Histories: a fetch job runs in one, and its datasets take the history's default permissions. */

const HISTORY_STATES = ['deferred', 'discarded', 'empty', 'error', 'failed_metadata', 'new', 'ok', 'paused', 'queued', 'running', 'setting_metadata', 'upload'];

export function createHistory(s: Store, user: User | null, body: Record<string, unknown>): unknown {
  if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
  const h: HistoryRec = { id: s.next('history'), userId: user.id, name: str(body, 'name', 'Unnamed history'), createTime: now(), defaultAccess: [...(user.defaultAccess ?? [])] };
  s.codec.encode(h.id);
  s.histories.set(h.id, h);
  s.onChange();
  return historySummary(s, h);
}

function historySummary(s: Store, h: HistoryRec): Record<string, unknown> {
  return {
    model_class: 'History',
    id: s.codec.encode(h.id),
    name: h.name,
    deleted: h.deleted === true,
    purged: h.purged === true,
    count: 0,
    url: `/api/histories/${s.codec.encode(h.id)}`,
    create_time: h.createTime,
    update_time: h.createTime,
    tags: [],
    annotation: null,
    archived: false,
    contents_url: `/api/histories/${s.codec.encode(h.id)}/contents`,
    genome_build: null,
    importable: false,
    preferred_object_store_id: null,
    published: false,
    size: 0,
    slug: null,
    state: 'new',
    state_details: Object.fromEntries(HISTORY_STATES.map((x) => [x, 0])),
    state_ids: Object.fromEntries(HISTORY_STATES.map((x) => [x, []])),
    user_id: s.codec.encode(h.userId),
    username: [...s.users.values()].find((u) => u.id === h.userId)?.email.split('@')[0] ?? '',
    username_and_slug: null,
  };
}

export function listHistories(s: Store, user: User | null): unknown[] {
  if (!user) return [];
  return [...s.histories.values()].filter((h) => h.userId === user.id && !h.deleted).map((h) => historySummary(s, h));
}

/** DELETE /api/histories/{id}[?purge=true], as an admin does in the UI. */
export function deleteHistory(s: Store, user: User | null, encoded: string, purge: boolean): unknown {
  if (!user) throw new GalaxyError(403, 403001, 'API authentication required for this request');
  const h = s.histories.get(s.codec.decode(encoded, 'history id'));
  if (!h) throw new GalaxyError(400, 400008, 'History not found.');
  h.deleted = true;
  if (purge) h.purged = true;
  s.onChange();
  return historySummary(s, h);
}
