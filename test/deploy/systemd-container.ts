/**
 * A container of the systemd-base image (scripts/images.sh systemd-base) running /sbin/init on the
 * host's network, with host directories bind-mounted at the same paths, and the release tarball
 * (`npm pack`): what the unit's test and the Ansible role's test share.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO, waitFor } from '../helpers.js';

const run = promisify(execFile);
const ULIMITS = ['--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=4096:4096'];
/** Outside /tmp and /var/tmp: the unit's PrivateTmp= would hide a directory there from the daemon. */
export const WORK_PARENT = '/srv';

/**
 * Whether a test of the systemd container can run here, given the variable that turns it on and
 * what else it needs (`more`: why not, or false), and the systemd-base image's name, made (or
 * found cached) by scripts/images.sh.
 */
export function systemdTest(variable: string, what: string, more: () => string | false = () => false): { skip: string | false; image: string } {
  const why = process.env[variable] !== '1' ? `set ${variable}=1 to run it (${what}; .ci/run does)`
    : process.getuid?.() !== 0 ? 'needs root (podman with --systemd=always and bind mounts)'
      : spawnSync('podman', ['--version']).status !== 0 ? 'podman is not installed (apt-get install podman runc)'
        : !existsSync(WORK_PARENT) ? `${WORK_PARENT} does not exist` : more();
  if (why !== false) return { skip: why, image: '' };
  const r = spawnSync(path.join(REPO, 'scripts', 'images.sh'), ['systemd-base'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  const image = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || image === '') return { skip: `scripts/images.sh systemd-base failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`, image: '' };
  return { skip: false, image };
}

/** `npm pack` of the checkout into `dir`: the release tarball's path. */
export async function packTarball(dir: string): Promise<string> {
  const packed = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 })).stdout) as { filename: string }[];
  return path.join(dir, packed[0]?.filename ?? assert.fail('npm pack printed no package'));
}

export interface Out { status: number; out: string }

export class SystemdContainer {
  readonly name: string;
  /** The proxy's CA, mounted read-only at run time for npm, never in an image layer. */
  readonly caEnv: Record<string, string>;
  readonly #ca: string[];

  constructor(name: string) {
    this.name = name;
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    const withCa = ca !== undefined && ca !== '' && existsSync(ca);
    this.#ca = withCa ? ['-v', `${ca}:/run/host-ca.pem:ro`] : [];
    this.caEnv = withCa ? { NODE_EXTRA_CA_CERTS: '/run/host-ca.pem' } : {};
  }

  /** Start it, host directories `mounts` at the same paths, and wait until systemd in it is up. */
  async boot(image: string, mounts: string[]): Promise<void> {
    await run('podman', ['rm', '-f', '--ignore', this.name]);
    // Without CAP_SYS_ADMIN systemd in the container skips the unit's mount namespaces (ProtectSystem=,
    // PrivateTmp=, ReadWritePaths=…) silently; with it, LoadCredential= files are unreadable to the
    // service's user here (not so on a host): docs/operations.md, "systemd".
    await run('podman', ['run', '-d', '--name', this.name, '--systemd=always', '--network=host', ...ULIMITS, ...mounts.flatMap((m) => ['-v', `${m}:${m}`]), ...this.#ca, image]);
    await waitFor(async () => {
      const r = await this.exec(['systemctl', 'is-system-running'], { ok: false });
      return /running|degraded/.test(r.out) ? true : undefined;
    }, 60_000, `systemd in ${this.name} to boot`, 250);
  }

  /** A command in the container; rejects on a non-zero exit unless `ok` is false. */
  async exec(args: string[], opts: { ok?: boolean; env?: Record<string, string> } = {}): Promise<Out> {
    const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    try {
      const r = await run('podman', ['exec', ...env, this.name, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
      return { status: 0, out: r.stdout + r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      const res = { status: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      if (opts.ok !== false) assert.fail(`${args.join(' ')} exited ${res.status}:\n${res.out.slice(-3000)}`);
      return res;
    }
  }

  sh(script: string, opts: { ok?: boolean; env?: Record<string, string> } = {}): Promise<Out> {
    return this.exec(['sh', '-ec', script], opts);
  }

  /** A property of the galaxy-importd unit (systemctl show). */
  async show(prop: string): Promise<string> {
    return (await this.exec(['systemctl', 'show', '-p', prop, '--value', 'galaxy-importd'])).out.trim();
  }

  async journal(): Promise<string> {
    return (await this.exec(['journalctl', '-u', 'galaxy-importd', '-o', 'cat', '--no-pager'])).out;
  }

  /** Print the unit's last journal lines when the test failed, and remove the container. */
  remove(failed: boolean): void {
    if (failed) {
      // The whole journal's end: the unit's lines and systemd's about it.
      const logs = spawnSync('podman', ['exec', this.name, 'journalctl', '--no-pager', '-n', '60'], { encoding: 'utf8' });
      process.stdout.write(`# journal of ${this.name}:\n${(logs.stdout ?? '').split('\n').slice(-60).map((l) => `# ${l}`).join('\n')}\n`);
    }
    spawnSync('podman', ['rm', '-f', '--time', '5', this.name], { stdio: 'ignore' });
  }
}
