/** `n` steps at `rate` a second from now: step `i` is due `i / rate` s after the first (a late step is not made up by a shorter pause). */
export async function atRate(rate: number, n: number, each: (i: number) => void): Promise<void> {
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const wait = start + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    each(i);
  }
}
