import type { FolderItem } from './answers.js';

/**
 * Walking the pages of `GET /api/folders/{id}/contents` (galaxy-api.md 3.8): the whole folder,
 * or only what changed lately, newest first.
 */

export interface FolderPage {
  total: number;
  page: FolderItem[];
}

/** One page: `query` is the part after `?` without `limit` and `offset`. */
export type PageOf = (offset: number, limit: number, query: string) => Promise<FolderPage>;

/**
 * Every item, following pagination to the end. Handles both pagination styles of
 * galaxy-api.md 9: pages are requested until `total_rows` is reached or a page comes back
 * empty, and items seen twice are kept once.
 */
export async function allItems(pageOf: PageOf, limit: number, query: string): Promise<FolderItem[]> {
  const seen = new Map<string, FolderItem>();
  for (let offset = 0; ; offset += limit) {
    const { total, page } = await pageOf(offset, limit, query);
    for (const item of page) seen.set(item.id, item);
    if (page.length === 0 || offset + limit >= total) break;
  }
  return [...seen.values()];
}

/**
 * The folder's subfolders alone. Galaxy lists folders before datasets (galaxy-api.md 3.8), so
 * the pages end at the first dataset: the cost is the folder's subfolders, however many
 * datasets it holds.
 */
export async function leadingFolders(pageOf: PageOf, limit: number): Promise<FolderItem[]> {
  const seen = new Map<string, FolderItem>();
  for (let offset = 0; ; offset += limit) {
    const { total, page } = await pageOf(offset, limit, '');
    const firstDataset = page.findIndex((item) => item.type !== 'folder');
    for (const item of firstDataset < 0 ? page : page.slice(0, firstDataset)) seen.set(item.id, item);
    if (firstDataset >= 0 || page.length === 0 || offset + limit >= total) break;
  }
  return [...seen.values()];
}

/** How far apart the clocks of Galaxy's web server and job handlers may be: a dataset a job made may seem updated this much before the job was created. */
export const CLOCK_SLACK_MS = 10_000;

const GALAXY_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?$/;

/**
 * Galaxy's times are UTC without a zone ("2026-12-01T15:50:01.123456"); NaN when not a time.
 * That form is read by hand (Date.parse takes a slow path for six digits of fraction, and a
 * confirmation reads hundreds of these); any other goes to Date.parse, as UTC when it names no zone.
 */
export function galaxyTime(value: unknown): number {
  if (typeof value !== 'string') return NaN;
  const m = GALAXY_TIME.exec(value);
  if (m) {
    const [mo, d, h, mi, s] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 59) {
      return Date.UTC(Number(m[1]), mo - 1, d, h, mi, s, m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0')));
    }
  }
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(value) ? value : `${value}Z`);
}

export interface RecentOptions {
  /** Stop at the first dataset last updated before this (ms since the epoch; Galaxy's clock); null: no such bound. */
  sinceMs: number | null;
  limit: number;
  /** Stop as soon as the datasets seen so far are enough. */
  enough(datasets: readonly FolderItem[]): boolean;
}

/**
 * The folder's datasets (not its folders), most recently updated first, page by page until
 * `enough` says so, a dataset older than `sinceMs` comes, or the folder ends: what a batch's
 * confirmation needs costs a page or two however many datasets the folder holds. Those older
 * than `sinceMs` are left out. A Galaxy that ignores `order_by` (its pages are not newest
 * first) is read to the end, as the whole listing would be.
 */
export async function recentDatasets(pageOf: PageOf, o: RecentOptions): Promise<FolderItem[]> {
  const seen = new Map<string, FolderItem>();
  let ordered = true;
  let last = Infinity;
  for (let offset = 0; ; offset += o.limit) {
    const { total, page } = await pageOf(offset, o.limit, 'order_by=update_time&sort_desc=true');
    let older = false;
    for (const item of page) {
      if (item.type !== 'file') continue;
      const t = galaxyTime(item.update_time);
      if (t > last) ordered = false;
      if (!Number.isNaN(t)) last = t;
      if (o.sinceMs !== null && t < o.sinceMs) {
        older = true;
        continue;
      }
      seen.set(item.id, item);
    }
    const datasets = [...seen.values()];
    if ((ordered && older) || o.enough(datasets) || page.length === 0 || offset + o.limit >= total) return datasets;
  }
}
