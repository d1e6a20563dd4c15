/** The settler's looks by due time: a binary min-heap (then by order of scheduling, `seq`). */

export interface Due {
  at: number;
  seq: number;
  path: string;
}

/** A binary min-heap of looks by due time (then order of scheduling). */
export class DueHeap {
  readonly #a: Due[] = [];

  peek(): Due | undefined {
    return this.#a[0];
  }

  push(d: Due): void {
    const a = this.#a;
    a.push(d);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(d, a[p] as Due)) break;
      a[i] = a[p] as Due;
      i = p;
    }
    a[i] = d;
  }

  pop(): Due | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && before(a[r] as Due, a[l] as Due) ? r : l;
      if (!before(a[c] as Due, last)) break;
      a[i] = a[c] as Due;
      i = c;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.#a.length = 0;
  }
}

const before = (x: Due, y: Due): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq);
