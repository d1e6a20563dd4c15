import type { Clock, Timer } from '../clock.js';
import { unref } from '../clock.js';
import type { Coordinator, FileRecord } from '../ledger/ledger.js';
import { isInDoubt } from '../ledger/ledger.js';
import type { Emit } from '../observe/events.js';
import type { Route } from './route.js';

/**
 * Picking up what the ledger says was left: at start, this process's requests in doubt from
 * its last run (confirmed through their history, never sent blindly); with several replicas,
 * every half lease, the files of a replica that stopped renewing its claims and those `retry`
 * queued.
 */
export interface ResumeDeps {
  coordinator: Pick<Coordinator, 'adopt' | 'historiesInDoubt' | 'adoptEveryMs' | 'replica'>;
  /** Histories another replica looks for a request in: not to be used here. */
  bar(histories: Set<string>): void;
  resume(rows: readonly FileRecord[], routeOf: (relPath: string) => Route): void;
  /** Look at a taken-over file again as if just found. */
  reconsider(relPath: string): void;
  route: (relPath: string) => Route;
  clock: Pick<Clock, 'setInterval' | 'clearInterval'>;
  signal: AbortSignal;
  emit: Emit;
}

export class Resumer {
  readonly #d: ResumeDeps;
  #timer: Timer | null = null;

  constructor(deps: ResumeDeps) {
    this.#d = deps;
  }

  /** The rows of the last run now; with `watch`, abandoned files from now on. */
  async start(watch: boolean): Promise<void> {
    const { coordinator } = this.#d;
    this.#d.bar(await coordinator.historiesInDoubt());
    this.#pickUp(await coordinator.adopt(true), coordinator.replica === null ? 'confirming uploads interrupted by the last stop' : 'confirming uploads interrupted by the last stop of this replica', false);
    const every = coordinator.adoptEveryMs;
    if (watch && every !== null) this.#timer = unref(this.#d.clock.setInterval(() => void this.#adoptAbandoned(), every));
  }

  stop(): void {
    this.#d.clock.clearInterval(this.#timer);
  }

  async #adoptAbandoned(): Promise<void> {
    if (this.#d.signal.aborted) return;
    const rows = await this.#d.coordinator.adopt(false);
    if (rows.length === 0 || this.#d.signal.aborted) return;
    this.#d.emit({ type: 'ledger.adopted', files: rows.length });
    this.#pickUp(rows, 'confirming uploads of a replica that stopped', true);
  }

  /** Requests in doubt are confirmed through their history; with `reconsider` (taken over), the rest are looked at again. */
  #pickUp(rows: readonly FileRecord[], message: string, reconsider: boolean): void {
    const resumable = rows.filter(isInDoubt);
    if (resumable.length > 0) {
      this.#d.emit({ type: 'daemon.resume', files: resumable.length, message });
      this.#d.resume(resumable, this.#d.route);
    }
    if (reconsider) for (const r of rows) if (!isInDoubt(r)) this.#d.reconsider(r.path);
  }
}
