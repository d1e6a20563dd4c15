import { invalidParameter } from './errors.js';
import { IdCodec } from './ids.js';
import type { DatasetRec, EmulatorSettings, FolderRec, HistoryRec, JobFault, JobRec, LibraryRec, NotificationRec, RoleRec, Snapshot, User } from './records.js';

/**
 * The emulator's state, shared by the resource modules (roles.ts, users.ts, libraries.ts, ...):
 * the settings, the id codec, the tables and their id counters, the job faults in force and
 * the job runner's timers. GalaxyModel (model.ts) owns one and hands it to every call.
 */
export class Store {
  readonly settings: EmulatorSettings;
  readonly codec: IdCodec;
  readonly secret: string;
  counters: Record<string, number> = {};
  readonly users = new Map<number, User>();
  readonly roles = new Map<number, RoleRec>();
  readonly notifications: NotificationRec[] = [];
  readonly libraries = new Map<number, LibraryRec>();
  readonly folders = new Map<number, FolderRec>();
  readonly datasets = new Map<number, DatasetRec>();
  readonly histories = new Map<number, HistoryRec>();
  readonly jobs = new Map<number, JobRec>();
  readonly jobFaults: JobFault[] = [];
  /** The job runner's pending timers (jobs.ts), cleared by close. */
  readonly timers = new Set<NodeJS.Timeout>();
  closed = false;
  /** Called after every change, so a state file can be kept. */
  onChange: () => void = () => undefined;

  constructor(settings: EmulatorSettings, secret: string) {
    this.settings = settings;
    this.secret = secret;
    this.codec = new IdCodec(secret);
  }

  /** The next id of a table (ids are per table, as Galaxy's are). */
  next(table: string): number {
    const n = (this.counters[table] ?? 0) + 1;
    this.counters[table] = n;
    return n;
  }

  snapshot(): Snapshot {
    return {
      version: 1,
      secret: this.secret,
      counters: { ...this.counters },
      users: [...this.users.values()],
      roles: [...this.roles.values()],
      libraries: [...this.libraries.values()],
      folders: [...this.folders.values()],
      datasets: [...this.datasets.values()],
      histories: [...this.histories.values()],
      jobs: [...this.jobs.values()],
    };
  }

  restore(s: Snapshot): void {
    this.counters = { ...s.counters };
    const fill = <T extends { id: number }>(map: Map<number, T>, rows: T[]): void => {
      map.clear();
      for (const r of rows) {
        map.set(r.id, r);
        this.codec.encode(r.id);
      }
    };
    fill(this.users, s.users);
    fill(this.roles, s.roles ?? []);
    fill(this.libraries, s.libraries);
    fill(this.folders, s.folders);
    fill(this.datasets, s.datasets);
    fill(this.histories, s.histories);
    fill(this.jobs, s.jobs);
    for (const d of s.datasets) this.codec.encode(d.lddaId);
  }
}

export function now(): string {
  return new Date().toISOString().replace('Z', '000');
}

export function str(body: Record<string, unknown>, key: string, fallback: string): string {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw invalidParameter(key, 'Input should be a valid string');
  return v;
}
