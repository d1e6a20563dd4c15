import type { Clock } from '../clock.js';

/**
 * /readyz: why the daemon is not ready (empty when it is). Galaxy is asked at most every five
 * seconds, however often the probe comes.
 */
export interface ReadinessDeps {
  started(): boolean;
  stopping(): boolean;
  pause(): { kind: 'key' | 'unusable' | 'failing'; reason: string } | null;
  /** Resolves when Galaxy answers (GET /api/version). */
  probeGalaxy(): Promise<unknown>;
  ledgerProblem(): string | null;
  clock: Pick<Clock, 'now'>;
}

const PROBE_EVERY_MS = 5000;

export function readiness(d: ReadinessDeps): () => Promise<string[]> {
  let probe: { at: number; problem: string | null } | null = null;
  return async () => {
    const reasons: string[] = [];
    if (!d.started()) reasons.push('the start-up walk is not done yet');
    const pause = d.pause();
    if (pause !== null) reasons.push(pause.kind === 'key' ? `Galaxy refuses the API key: ${pause.reason}` : pause.kind === 'failing' ? `uploads paused: ${pause.reason}` : `Galaxy's answers cannot be used: ${pause.reason}`);
    if (probe === null || d.clock.now() - probe.at > PROBE_EVERY_MS) {
      let problem: string | null = null;
      try {
        await d.probeGalaxy();
      } catch (err) {
        problem = `Galaxy is not reachable: ${(err as Error).message}`;
      }
      probe = { at: d.clock.now(), problem };
    }
    if (probe.problem !== null) reasons.push(probe.problem);
    const ledgerProblem = d.ledgerProblem();
    if (ledgerProblem !== null) reasons.push(ledgerProblem);
    if (d.stopping()) reasons.push('stopping');
    return reasons;
  };
}
