import type { FileRecord, FileRows, FileState } from '../src/ledger/ledger.js';
import { zeroCounts } from '../src/ledger/ledger.js';
import type { DaemonEvent, Emit } from '../src/observe/events.js';
import type { MetricsSource } from '../src/observe/metrics.js';
import type { Route } from '../src/pipeline/route.js';

/** Fakes of the narrow interfaces the stages take, for unit tests. */

/** The ledger rows in memory. */
export function memoryRows(): FileRows & { rows: Map<string, FileRecord>; jobs: Map<string, Set<string>> } {
  const rows = new Map<string, FileRecord>();
  const jobs = new Map<string, Set<string>>();
  return {
    rows,
    jobs,
    get: (p) => rows.get(p),
    put: (r) => void rows.set(r.path, { ...r }),
    update: (p, fields) => {
      const r = rows.get(p);
      if (r) rows.set(p, { ...r, ...fields });
    },
    transaction: (fn) => fn(),
    rememberJob: (h, j) => void jobs.set(h, new Set([...(jobs.get(h) ?? []), j])),
    inState: (...states: FileState[]) => [...rows.values()].filter((r) => states.includes(r.state)),
    firstInState: (state: FileState, limit: number) => [...rows.values()].filter((r) => r.state === state).slice(0, limit),
  };
}

/** An Emit that keeps what it is given. */
export function events(): Emit & { seen: DaemonEvent[]; of<T extends DaemonEvent['type']>(type: T): Extract<DaemonEvent, { type: T }>[] } {
  const seen: DaemonEvent[] = [];
  const emit = ((e: DaemonEvent) => void seen.push(e)) as Emit & { seen: DaemonEvent[]; of<T extends DaemonEvent['type']>(type: T): Extract<DaemonEvent, { type: T }>[] };
  emit.seen = seen;
  emit.of = <T extends DaemonEvent['type']>(type: T) => seen.filter((e): e is Extract<DaemonEvent, { type: T }> => e.type === type);
  return emit;
}

/** What the metrics read of a daemon that is ready and idle, but for `over`. */
export function metricsSource(over: Partial<MetricsSource> = {}): MetricsSource {
  return { files: zeroCounts, queueDepth: () => 0, readiness: () => Promise.resolve([]), paused: () => null, ledgerProblem: () => null, ...over };
}

export const ROUTE: Route = { library: 'Lab', folder: ['run1'], fileType: 'auto', dbkey: '?', tags: [], link: false, access: null, notify: [] };

/** Let pending promise callbacks run (several turns). */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}
