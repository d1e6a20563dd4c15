/**
 * The Ansible role deploy/ansible/roles/galaxy_importd (issue 30, item 6), run with ansible-core
 * (from PyPI, in a venv on the host made with Debian's /usr/bin/python3) as a local play inside a
 * container of the systemd-base image, the venv and the role bind-mounted at the same paths (the
 * image's Python is the same Debian release's). It installs the `npm pack` tarball, writes the
 * INI, the key and the unit, enables and starts the service; Galaxy is the emulator on the
 * host's loopback. A second run changes nothing; a changed variable restarts the service.
 *
 * Needs root, podman and GALAXY_IMPORTD_TEST_ANSIBLE_VENV (a venv with ansible-core: .ci/run
 * makes it); runs only with GALAXY_IMPORTD_TEST_ANSIBLE=1 (scripts/run-tests.mjs leaves it out
 * otherwise; .ci/run runs it after the unit under systemd).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../emulator/server.js';
import { freePort, REPO, waitFor } from '../helpers.js';
import { packTarball, SystemdContainer, systemdTest, WORK_PARENT } from './systemd-container.js';

const VENV = process.env.GALAXY_IMPORTD_TEST_ANSIBLE_VENV ?? '';
const ROLES = path.join(REPO, 'deploy', 'ansible', 'roles');
const { skip, image } = systemdTest('GALAXY_IMPORTD_TEST_ANSIBLE', 'it runs the Ansible role in a systemd container', () =>
  existsSync(path.join(VENV, 'bin', 'ansible-playbook')) ? false
    : 'GALAXY_IMPORTD_TEST_ANSIBLE_VENV must name a venv with ansible-core made with /usr/bin/python3 (/usr/bin/python3 -m venv DIR && DIR/bin/pip install ansible-core)');
const box = new SystemdContainer(`galaxy-importd-ansible-test-${process.pid}`);

describe('the Ansible role galaxy_importd, in a systemd container', { skip, timeout: 10 * 60_000 }, () => {
  let work = '';
  let importDir = '';
  let emu: Emulator | undefined;
  let vars: Record<string, unknown> = {};
  const started = Date.now();
  const took = (what: string) => process.stdout.write(`# ${what}: ${Math.round((Date.now() - started) / 1000)} s in\n`);
  const okCount = (name: string) => emu?.model.tree().filter((d) => d.name === name && d.state === 'ok').length ?? 0;

  /** ansible-playbook with `vars` as extra variables: its exit status, its output and the recap's counts. */
  async function play(): Promise<{ status: number; out: string; changed: number; failed: number }> {
    writeFileSync(path.join(work, 'vars.json'), JSON.stringify(vars));
    const r = await box.exec([path.join(VENV, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path.join(work, 'site.yml'), '-e', `@${path.join(work, 'vars.json')}`], {
      ok: false,
      env: { LANG: 'C.UTF-8', ANSIBLE_ROLES_PATH: ROLES, ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0' },
    });
    const recap = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(r.out);
    assert.ok(recap, `no PLAY RECAP (exit ${r.status}):\n${r.out.slice(-3000)}`);
    return { status: r.status, out: r.out, changed: Number(recap[2]), failed: Number(recap[4]) };
  }

  before(async () => {
    work = mkdtempSync(path.join(WORK_PARENT, 'galaxy-importd-ansible-test.'));
    // The service's user (galaxy, in the container) reads the import directory.
    chmodSync(work, 0o755);
    importDir = path.join(work, 'import');
    mkdirSync(path.join(importDir, 'run1'), { recursive: true, mode: 0o755 });
    emu = await startEmulator({ libraryImportDir: importDir });
    const tarball = await packTarball(work);
    took('npm pack');
    // The play an admin writes (deploy/ansible/site.yml), run on the host itself.
    writeFileSync(path.join(work, 'site.yml'), '- hosts: localhost\n  become: false\n  roles:\n    - galaxy_importd\n');
    vars = {
      galaxy_importd_tarball: tarball,
      // The image has python3, make and g++ already; its Node's headers are in /usr/local.
      galaxy_importd_build_packages: [],
      galaxy_importd_npm_environment: { npm_config_nodedir: '/usr/local', JOBS: '2', ...box.caEnv },
      galaxy_importd_api_key: emu.adminKey,
      galaxy_importd_config: {
        galaxy: { url: emu.url },
        import: { dir: importDir, settle_seconds: 1, rescan_minutes: 0 },
        http: { listen: `127.0.0.1:${await freePort()}` },
      },
    };
    await box.boot(image, [work, VENV, ROLES]);
    took('container booted');
  });

  after(async () => {
    if (skip === false) box.remove(Boolean(process.exitCode));
    await emu?.close();
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('the first run installs, configures, enables and starts it; a file dropped is imported; the key is in no output', async () => {
    const first = await play();
    took('first run');
    assert.equal(first.status, 0, first.out.slice(-3000));
    assert.equal(first.failed, 0);
    assert.ok(first.changed > 0);
    assert.ok(!first.out.includes(emu!.adminKey), 'the API key in ansible-playbook\'s output');
    assert.equal(await box.show('ActiveState'), 'active');
    assert.equal(await box.show('UnitFileState'), 'enabled');
    const modes = (await box.sh('stat -c "%n %a %U %G" /etc/galaxy-importd/api_key /etc/galaxy-importd/galaxy-importd.ini')).out.trim().split('\n');
    assert.deepEqual(modes, ['/etc/galaxy-importd/api_key 400 root root', '/etc/galaxy-importd/galaxy-importd.ini 640 root galaxy']);
    writeFileSync(path.join(importDir, 'run1', 'a.bed'), 'chr1\t1\t100\n', { mode: 0o644 });
    await waitFor(() => (okCount('a.bed') === 1 ? true : undefined), 60_000, 'a.bed ok in the library', 250);
  });

  it('a second run changes nothing (idempotent) and leaves the service running as it was', async () => {
    const pid = await box.show('MainPID');
    const second = await play();
    assert.equal(second.status, 0, second.out.slice(-3000));
    assert.equal(second.changed, 0, second.out.split('\n').filter((l) => l.startsWith('changed:')).join('\n'));
    assert.equal(await box.show('MainPID'), pid);
  });

  it('a changed variable (a key of the config, ReadWritePaths=) is written and the service restarted', async () => {
    const pid = await box.show('MainPID');
    vars = { ...vars, galaxy_importd_read_write_paths: [importDir], galaxy_importd_config: { ...(vars.galaxy_importd_config as object), upload: { batch_size: 50 } } };
    const third = await play();
    assert.equal(third.status, 0, third.out.slice(-3000));
    assert.ok(third.changed >= 2, `changed=${third.changed}`);
    assert.match((await box.exec(['cat', '/etc/galaxy-importd/galaxy-importd.ini'])).out, /\[upload\]\nbatch_size = 50\n/);
    assert.match(await box.show('ReadWritePaths'), new RegExp(importDir.replace(/[.]/g, '\\.')));
    assert.notEqual(await box.show('MainPID'), pid);
    assert.equal(await box.show('ActiveState'), 'active');
    writeFileSync(path.join(importDir, 'run1', 'b.bed'), 'chr2\t1\t100\n', { mode: 0o644 });
    await waitFor(() => (okCount('b.bed') === 1 ? true : undefined), 60_000, 'b.bed ok in the library', 250);
    assert.equal(okCount('a.bed'), 1, 'a.bed imported again');
  });

  it('a configuration error fails the play with the daemon\'s own message', async () => {
    vars = { ...vars, galaxy_importd_config: { ...(vars.galaxy_importd_config as object), upload: { batch_size: 'many' } } };
    const bad = await play();
    took('the bad config');
    assert.notEqual(bad.status, 0);
    assert.equal(bad.failed, 1);
    assert.match(bad.out, /does not answer \/healthz/);
    assert.match(bad.out, /batch_size/);
  });
});
