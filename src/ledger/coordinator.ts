import type { Coordinator, FileRecord, Ledger } from './ledger.js';

/**
 * The coordinator of a ledger one process owns whole (SQLite): every claim succeeds, `commit`
 * writes the changes of this turn (`flush`), and the rows to pick up at start are the requests that were
 * in doubt when it last stopped.
 */
export function localCoordinator(ledger: Pick<Ledger, 'inState'>, flush: () => void = () => undefined): Coordinator {
  return {
    replica: null,
    leaseSeconds: null,
    adoptEveryMs: null,
    claim: (files) => Promise.resolve(new Set(files.map((f) => f.path))),
    commit: () => {
      flush();
      return Promise.resolve();
    },
    problem: () => null,
    owns: () => true,
    adopt: (initial): Promise<FileRecord[]> => Promise.resolve(initial ? ledger.inState('submitted', 'retrying') : []),
    historiesInDoubt: () => Promise.resolve(new Set()),
    withLock: (_key, fn) => fn(0),
    replicas: () => Promise.resolve(null),
  };
}
