import type { Clock } from '../clock.js';

/**
 * /readyz: why the daemon is not ready (empty when it is). Galaxy is asked at most every five
 * seconds, however often the probe comes, and by one request at a time; not at all while its
 * answers to the daemon's own requests keep coming (within ANSWER_COUNTS_MS, and after the last
 * failed look): during a backlog the look would wait in the queue behind the uploads' requests,
 * and a probe that gives up after 3 s (`health --ready`, the image's HEALTHCHECK) would take a
 * busy daemon for one that cannot reach Galaxy.
 */
export interface ReadinessDeps {
  started(): boolean;
  stopping(): boolean;
  pause(): { kind: 'key' | 'unusable' | 'failing'; reason: string } | null;
  /** Resolves when Galaxy answers (GET /api/version). */
  probeGalaxy(): Promise<unknown>;
  /** When Galaxy last gave a usable answer to any of the daemon's requests; null: not yet. */
  answeredAt?(): number | null;
  ledgerProblem(): string | null;
  clock: Pick<Clock, 'now'>;
}

/**
 * `wait: false` does not wait for Galaxy: its last answer counts, and it is asked again behind
 * the scenes. /metrics reads it so: a scrape must not wait behind uploads holding every request
 * slot, up to `timeout_seconds`, and be taken for the daemon down.
 */
export type Readiness = (opts?: { wait?: boolean }) => Promise<string[]>;

const PROBE_EVERY_MS = 5000;
export const ANSWER_COUNTS_MS = 10_000;

export function readiness(d: ReadinessDeps): Readiness {
  let probe: { at: number; problem: string | null } | null = null;
  let asking: Promise<void> | null = null;
  const ask = (): Promise<void> => (asking ??= d.probeGalaxy().then(
    () => null,
    (err: unknown) => `Galaxy is not reachable: ${(err as Error).message}`,
  ).then((problem) => {
    probe = { at: d.clock.now(), problem };
    asking = null;
  }));
  return async ({ wait = true } = {}) => {
    const reasons: string[] = [];
    if (!d.started()) reasons.push('the start-up walk is not done yet');
    const pause = d.pause();
    if (pause !== null) reasons.push(pause.kind === 'key' ? `Galaxy refuses the API key: ${pause.reason}` : pause.kind === 'failing' ? `uploads paused: ${pause.reason}` : `Galaxy's answers cannot be used: ${pause.reason}`);
    const now = d.clock.now();
    const answered = d.answeredAt?.() ?? null;
    const answering = answered !== null && now - answered <= ANSWER_COUNTS_MS && (probe === null || probe.problem === null || answered >= probe.at);
    if (!answering && (probe === null || now - probe.at > PROBE_EVERY_MS)) {
      const asked = ask();
      if (wait) await asked;
    }
    const last: { problem: string | null } | null = probe;
    if (!answering) {
      if (last === null) reasons.push('Galaxy has not answered yet');
      else if (last.problem !== null) reasons.push(last.problem);
    }
    const ledgerProblem = d.ledgerProblem();
    if (ledgerProblem !== null) reasons.push(ledgerProblem);
    if (d.stopping()) reasons.push('stopping');
    return reasons;
  };
}
