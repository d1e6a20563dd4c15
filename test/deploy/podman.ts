/** podman for the container tests (test/deploy/): the limits runc needs here, one call, scripts/images.sh. */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../helpers.js';

const run = promisify(execFile);
/** Explicit limits: where podman's defaults exceed the host's, runc fails with "error setting rlimit". */
export const ULIMITS = ['--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=4096:4096'];

export interface Out { status: number; out: string }

/** podman ARGS…; rejects on a non-zero exit unless `ok` is false. */
export async function podman(args: string[], opts: { ok?: boolean } = {}): Promise<Out> {
  try {
    const r = await run('podman', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    return { status: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    const res = { status: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    if (opts.ok !== false) assert.fail(`podman ${args.join(' ')} exited ${res.status}:\n${res.out.slice(-3000)}`);
    return res;
  }
}

/** Why podman cannot run the container tests here, or false. */
export function whyNoPodman(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (podman with bind mounts)';
  if (spawnSync('podman', ['--version']).status !== 0) return 'podman is not installed (apt-get install podman runc)';
  return false;
}

/** scripts/images.sh SUBCOMMAND (cached by podman's layers): the last line it printed, or why it failed. */
export function images(subcommand: 'build' | 'systemd-base', timeoutMs: number): { out: string } | { skip: string } {
  const r = spawnSync(path.join(REPO, 'scripts', 'images.sh'), [subcommand], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  const out = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0) return { skip: `scripts/images.sh ${subcommand} failed (${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  return { out };
}
