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
  /** Histories handed out or reserved, with how many holders each has. */
  readonly #held = new Map<string, number>();

  constructor(client: GalaxyClient, ledger: Ledger) {
    this.#client = client;
    this.#ledger = ledger;
    this.#all = JSON.parse(ledger.getMeta(META_KEY) ?? '[]') as string[];
    this.#free = [...this.#all];
  }

  async acquire(): Promise<string> {
    const free = this.#free.pop();
    if (free !== undefined) {
      this.#held.set(free, 1);
      return free;
    }
    const created = await this.#client.createHistory(`galaxy-importd uploads ${this.#all.length + 1}`);
    this.#all.push(created.id);
    this.#ledger.setMeta(META_KEY, JSON.stringify(this.#all));
    this.#held.set(created.id, 1);
    return created.id;
  }

  /** One holder is done with the history; it is free again when no holder is left. */
  release(id: string): void {
    const held = (this.#held.get(id) ?? 1) - 1;
    if (held > 0) {
      this.#held.set(id, held);
      return;
    }
    this.#held.delete(id);
    if (!this.#free.includes(id)) this.#free.push(id);
  }

  /**
   * Hold a history for recovery: it must not be handed out while a lost request is looked
   * for in it. Several interrupted requests can name the same history; each holds it.
   */
  reserve(id: string): void {
    const i = this.#free.indexOf(id);
    if (i >= 0) this.#free.splice(i, 1);
    this.#held.set(id, (this.#held.get(id) ?? 0) + 1);
  }
}
