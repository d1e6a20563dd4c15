import type { GalaxyClient } from '../galaxy/client.js';
import type { Ledger } from '../ledger/ledger.js';

const META_KEY = 'histories';

/**
 * The fetch API needs a history. Each upload request takes one history for
 * itself until Galaxy's answer (the job id) is in the ledger, so that after a
 * lost answer any job in that history that the ledger does not know is the
 * one that request created. The pool grows to the number of requests in
 * flight at once and is kept in the ledger across restarts.
 */
export class HistoryPool {
  readonly #client: GalaxyClient;
  readonly #ledger: Ledger;
  readonly #free: string[];
  readonly #all: string[];

  constructor(client: GalaxyClient, ledger: Ledger) {
    this.#client = client;
    this.#ledger = ledger;
    this.#all = JSON.parse(ledger.getMeta(META_KEY) ?? '[]') as string[];
    this.#free = [...this.#all];
  }

  async acquire(): Promise<string> {
    const free = this.#free.pop();
    if (free !== undefined) return free;
    const created = await this.#client.createHistory(`galaxy-importd uploads ${this.#all.length + 1}`);
    this.#all.push(created.id);
    this.#ledger.setMeta(META_KEY, JSON.stringify(this.#all));
    return created.id;
  }

  release(id: string): void {
    if (!this.#free.includes(id)) this.#free.push(id);
  }

  /** Take a history for recovery: it must not be handed out while its lost request is looked for. */
  reserve(id: string): void {
    const i = this.#free.indexOf(id);
    if (i >= 0) this.#free.splice(i, 1);
  }
}
