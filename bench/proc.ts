/** What the benchmarks read about a process from /proc (Linux). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A field of /proc/PID/status in MB (VmRSS, VmHWM, …). */
export function procStatus(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** User + system CPU time of a process, in ms; `reaped`: with that of the children it has waited for (a Galaxy's job processes). */
export function cpuMs(pid: number | string, o: { reaped?: boolean } = {}): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]) + (o.reaped === true ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Open file descriptors of a process. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** inotify watches held by a process, over all its inotify instances. */
export function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (!readlinkSync(`/proc/${pid}/fd/${fd}`).includes('inotify')) continue;
      n += (readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').match(/^inotify wd:/gm) ?? []).length;
    } catch {
      // the fd closed meanwhile
    }
  }
  return n;
}

/** The q-quantile (0..1) of numbers, by nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * CPU time in ms of a process and every process below it now, each with the children it has
 * reaped: all of a Galaxy, whatever its shape. The single process and the job processes it ran;
 * or Gravity's supervisord, with the web workers, job handlers and Celery workers below it and
 * the jobs they ran. (The machine's PostgreSQL and RabbitMQ, and nginx, are not in it.)
 */
export function treeCpuMs(pid: number | string): number {
  const parents = new Map<string, string>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      parents.set(p, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '');
    } catch {
      // gone meanwhile
    }
  }
  const root = String(pid);
  const under = (p: string): boolean => {
    for (let at: string | undefined = p, hops = 0; at !== undefined && at !== '0' && hops < 64; at = parents.get(at), hops++) if (at === root) return true;
    return false;
  };
  let ms = 0;
  for (const p of parents.keys()) {
    if (!under(p)) continue;
    try {
      ms += cpuMs(p, { reaped: true });
    } catch {
      // gone meanwhile: its time is now in its parent's reaped time, read already or not (a few ms at most)
    }
  }
  return ms;
}

/** The CPU seconds of the Galaxy started by scripts/real-galaxy.sh in `galaxyDir` (its galaxy.pid), whole (treeCpuMs). */
export function galaxyCpuSeconds(galaxyDir: string): number {
  return treeCpuMs(readFileSync(`${galaxyDir}/galaxy.pid`, 'utf8').trim()) / 1000;
}

/** CPU seconds of the child processes this one has reaped (a way run as a child, a `cp`). */
export function reapedChildrenCpuSeconds(): number {
  return (cpuMs('self', { reaped: true }) - cpuMs('self')) / 1000;
}
