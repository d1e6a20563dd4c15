/**
 * One grid for the daemon's timed work at low rates. A file arriving on its own costs its own
 * wake-ups, request, Galaxy job and looks; on this grid, the files that become ready within one
 * step (settle.ts) go in one request, and the looks at their jobs and folders fall due at its
 * points too (confirm.ts), together with the next step's files. The step is short beside any
 * settle window (a file waits at most one step more), and long enough that files arriving ten
 * a second share their requests. At high rates files share requests anyway, as they gather
 * while earlier requests are on their way, so the settle looks leave the grid there
 * (`GRID_BELOW_RATE`) and a file goes as soon as it is ready.
 */

/** The grid's step (its finest: later, longer pauses use a coarser one whose points are its points). */
export const GRID_MS = 200;

/** The coarsest grid, for the longest pauses. */
const GRID_MAX_MS = 1600;

/** New files a second from which the settle looks leave the grid. */
export const GRID_BELOW_RATE = 100;

/**
 * `delay` stretched so that the look lands on a grid point: the grid is GRID_MS times a power of
 * two, at most a quarter of the delay and GRID_MAX_MS, so a look comes at most a quarter later
 * (and at most GRID_MS for short pauses). A coarse grid's points are points of every finer one,
 * so looks of jobs at different stages of their backoff meet too.
 */
export function alignedDelay(now: number, delay: number): number {
  let grid = GRID_MS;
  while (grid * 2 <= Math.min(GRID_MAX_MS, delay / 4)) grid *= 2;
  return gridPoint(now + delay, grid) - now;
}

/** The first point of a grid of `step` at or after `at`. */
export function gridPoint(at: number, step: number): number {
  return Math.ceil(at / step) * step;
}
