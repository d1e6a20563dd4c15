/** The INI text before `ini` decodes it, and the hints of its messages. */

export interface Scanned {
  text: string;
  problems: string[];
  lines: Map<string, number>;
}

/**
 * A pass over the raw lines before `ini` sees them: `ini` skips nothing it
 * cannot parse (a line without '=' becomes a key set to true) and nests
 * dotted section names, so malformed lines are reported here with their
 * numbers and dots in section names are escaped.
 */
export function scanIni(text: string, file: string): Scanned {
  const problems: string[] = [];
  const lines = new Map<string, number>();
  const seen = new Set<string>();
  let section = '';
  const out: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const n = i + 1;
    const t = line.trim();
    if (t === '' || t.startsWith(';') || t.startsWith('#')) {
      out.push(line);
      return;
    }
    const header = /^\[(.*)\]\s*(?:[;#].*)?$/.exec(t);
    if (header) {
      section = (header[1] ?? '').trim();
      out.push(`[${section.replaceAll('.', '\\.')}]`);
      return;
    }
    if (t.startsWith('[')) {
      problems.push(`${file}:${n}: malformed section header ${JSON.stringify(t)}: write it as [section]`);
      out.push('');
      return;
    }
    if (/^\s/.test(line) && out.length > 0) {
      problems.push(`${file}:${n}: indented line ${JSON.stringify(t)}: continuation lines are not supported, write the value on one line`);
      out.push('');
      return;
    }
    const eq = t.indexOf('=');
    if (eq <= 0) {
      problems.push(`${file}:${n}: malformed line ${JSON.stringify(t)}: expected key = value`);
      out.push('');
      return;
    }
    if (section === '') {
      problems.push(`${file}:${n}: ${JSON.stringify(t)} comes before any [section]`);
      out.push('');
      return;
    }
    const key = t.slice(0, eq).trim();
    const id = `${section}\u0000${key}`;
    if (seen.has(id)) problems.push(`${file}:${n}: [${section}] ${key} is set twice; keep one`);
    seen.add(id);
    lines.set(id, n);
    out.push(line);
  });
  return { text: out.join('\n'), problems, lines };
}

/** The candidate nearest to `word` (edit distance under 3), for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | null {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = d[i] as number[];
        const prev = d[i - 1] as number[];
        row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    return (d[a.length] as number[])[b.length] ?? Infinity;
  };
  let best: string | null = null;
  let bestD = 3;
  for (const c of candidates) {
    const dd = dist(word, c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return best;
}
