/**
 * Idle as an event, not a poll: each stage calls `check` when what it holds shrinks (a file
 * done, a walk ended, a file out of the settler, the gate closed), and waiters are let go the
 * moment `isQuiet` holds.
 */
export class Quiet {
  readonly #isQuiet: () => boolean;
  #waiters: (() => void)[] = [];

  constructor(isQuiet: () => boolean) {
    this.#isQuiet = isQuiet;
  }

  /** Something shrank: let the waiters go if nothing is left. */
  readonly check = (): void => {
    if (this.#waiters.length > 0 && this.#isQuiet()) for (const w of this.#waiters.splice(0)) w();
  };

  /** Resolves at once when quiet, else at the first check that finds it so. */
  wait(): Promise<void> {
    if (this.#isQuiet()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
