import type { GalaxyClient } from '../galaxy/client.js';

export interface GateLog {
  refused(message: string): void;
  restored(): void;
}

/**
 * Open while Galaxy accepts the key. A 401 or 403 closes it: every submission
 * waits, the problem is logged once per probe, and the key is probed at most
 * once per `probeMs` until it works again (as an admin's), which reopens it.
 */
export class KeyGate {
  readonly #client: GalaxyClient;
  readonly #log: GateLog;
  readonly #probeMs: number;
  #blocked: string | null = null;
  #waiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(client: GalaxyClient, log: GateLog, probeMs = 60_000) {
    this.#client = client;
    this.#log = log;
    this.#probeMs = probeMs;
  }

  /** The key problem while closed, else null. */
  get blocked(): string | null {
    return this.#blocked;
  }

  block(message: string): void {
    if (this.#blocked !== null || this.#closed) return;
    this.#blocked = message;
    this.#log.refused(message);
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#probe(), this.#probeMs);
  }

  async #probe(): Promise<void> {
    this.#timer = null;
    if (this.#closed) return;
    try {
      const user = await this.#client.currentUser();
      if (user.is_admin === true) {
        this.#blocked = null;
        this.#log.restored();
        for (const w of this.#waiters.splice(0)) w();
        return;
      }
      this.#blocked = 'the key works but its user is not an admin (admin_users in galaxy.yml)';
    } catch (err) {
      this.#blocked = err instanceof Error ? err.message : String(err);
    }
    this.#log.refused(this.#blocked);
    this.#schedule();
  }

  /** Resolves at once when open, else when the key works again or the gate is closed for good. */
  wait(): Promise<void> {
    if (this.#blocked === null || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of this.#waiters.splice(0)) w();
  }
}
