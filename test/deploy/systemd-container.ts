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
import type { Out } from './podman.js';
import { images, podman, ULIMITS, whyNoPodman } from './podman.js';

const run = promisify(execFile);
/** Outside /tmp and /var/tmp: the unit's PrivateTmp= would hide a directory there from the daemon. */
export const WORK_PARENT = '/srv';

/**
 * Whether a test of the systemd container can run here, given the variable that turns it on and
 * what else it needs (`more`: why not, or false), and the systemd-base image's name, made (or
 * found cached) by scripts/images.sh.
 */
export function systemdTest(variable: string, what: string, more: () => string | false = () => false): { skip: string | false; image: string } {
  const why = process.env[variable] !== '1' ? `set ${variable}=1 to run it (${what}; .ci/run does)`
    : whyNoPodman() || (!existsSync(WORK_PARENT) ? `${WORK_PARENT} does not exist` : more());
  if (why !== false) return { skip: why, image: '' };
  const made = images('systemd-base', 15 * 60_000);
  if ('skip' in made) return { skip: made.skip, image: '' };
  return made.out === '' ? { skip: 'scripts/images.sh systemd-base printed no image name', image: '' } : { skip: false, image: made.out };
}

/** `npm pack` of the checkout into `dir`: the release tarball's path. */
export async function packTarball(dir: string): Promise<string> {
  const packed = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 })).stdout) as { filename: string }[];
  return path.join(dir, packed[0]?.filename ?? assert.fail('npm pack printed no package'));
}

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
    await podman(['rm', '-f', '--ignore', this.name]);
    // As on a host: with CAP_SYS_ADMIN systemd applies the unit's mount namespaces (ProtectSystem=,
    // PrivateTmp=, ReadWritePaths=…), which it skips silently without; and / is made shared, as
    // systemd does at boot on a host but not in a container, or the LoadCredential= directory it
    // mounts for a unit stays empty in the unit's view ("Permission denied"): docs/operations.md, "systemd".
    await podman(['run', '-d', '--name', this.name, '--systemd=always', '--network=host', '--cap-add', 'SYS_ADMIN', ...ULIMITS,
      ...mounts.flatMap((m) => ['-v', `${m}:${m}`]), ...this.#ca, image]);
    await waitFor(async () => {
      const r = await this.exec(['systemctl', 'is-system-running'], { ok: false });
      return /running|degraded/.test(r.out) ? true : undefined;
    }, 60_000, `systemd in ${this.name} to boot`, 250);
    await this.exec(['mount', '--make-rshared', '/']);
  }

  /** A command in the container; rejects on a non-zero exit unless `ok` is false. */
  exec(args: string[], opts: { ok?: boolean; env?: Record<string, string> } = {}): Promise<Out> {
    const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    return podman(['exec', ...env, this.name, ...args], opts.ok === false ? { ok: false } : {});
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
