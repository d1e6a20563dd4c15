/**
 * The Galaxy releases the real-Galaxy suite has run on (scripts/real-galaxy.sh,
 * docs/galaxy-notes.md): in CI the newest in full and the oldest on the suite's core; the
 * others on the core by hand.
 */
export const TESTED_RELEASES = ['24.2', '25.0', '25.1', '26.1'] as const;
export const OLDEST_TESTED = TESTED_RELEASES[0];

/** -1, 0 or 1 as release `a` ("24.2", "26.1.2", "23.0") is older than, the same as, or newer than `b`, by major and minor. */
export function compareReleases(a: string, b: string): number {
  const parts = (v: string): number[] => v.split('.').slice(0, 2).map((x) => Number.parseInt(x, 10) || 0);
  const [am = 0, an = 0] = parts(a);
  const [bm = 0, bn = 0] = parts(b);
  return Math.sign(am - bm || an - bn);
}
