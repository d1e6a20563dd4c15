/**
 * The unit under a real systemd (issue 30, item 4): a container of the systemd-base image
 * (scripts/images.sh systemd-base) runs /sbin/init; the release tarball (`npm pack`) is installed
 * in it as docs/operations.md tells an admin (`npm install -g --allow-scripts=better-sqlite3`),
 * then the unit, its user, config and key as the unit's comments say. Galaxy is the emulator,
 * on the host's loopback (the container shares the host's network); the import directory is a
 * host directory bind-mounted at the same path.
 *
 * Needs root and podman; runs only with GALAXY_IMPORTD_TEST_SYSTEMD=1 (scripts/run-tests.mjs
 * leaves it out otherwise; .ci/run runs it after the container images part).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../emulator/server.js';
import { freePort, waitFor } from '../helpers.js';
import { packTarball, SystemdContainer, systemdTest, WORK_PARENT } from './systemd-container.js';

const { skip, image } = systemdTest('GALAXY_IMPORTD_TEST_SYSTEMD', 'it builds and runs a systemd container');
const box = new SystemdContainer(`galaxy-importd-systemd-test-${process.pid}`);
const inside = box.exec.bind(box);
const sh = box.sh.bind(box);
const show = box.show.bind(box);
const journal = box.journal.bind(box);

describe('the unit under systemd in a container', { skip, timeout: 8 * 60_000 }, () => {
  let work = '';
  let importDir = '';
  let emu: Emulator | undefined;
  let ini = '';
  const started = Date.now();
  const took = (what: string) => process.stdout.write(`# ${what}: ${Math.round((Date.now() - started) / 1000)} s in\n`);
  const okCount = (name: string) => emu?.model.tree().filter((d) => d.name === name && d.state === 'ok').length ?? 0;

  before(async () => {
    work = mkdtempSync(path.join(WORK_PARENT, 'galaxy-importd-systemd-test.'));
    chmodSync(work, 0o755);
    importDir = path.join(work, 'import');
    mkdirSync(path.join(importDir, 'run1'), { recursive: true, mode: 0o755 });
    chmodSync(path.join(importDir, 'run1'), 0o755);
    emu = await startEmulator({ libraryImportDir: importDir });

    // The release tarball, as an admin gets it (its contents are checked by check-production-install.ts).
    const tarball = await packTarball(work);
    took('npm pack');
    await box.boot(image, [work]);
    took('container booted');

    await inside(['npm', 'install', '--global', '--allow-scripts=better-sqlite3', '--no-audit', '--no-fund', tarball], {
      // npm_config_nodedir: the image's Node headers (node-gyp cannot download them here); JOBS: node-gyp's make -j.
      env: { npm_config_nodedir: '/usr/local', JOBS: '2', ...box.caEnv },
    });
    took('npm install --global of the tarball');

    const port = await freePort();
    ini = `[galaxy]\nurl = ${emu.url}\n\n[import]\ndir = ${importDir}\nsettle_seconds = 1\nrescan_minutes = 0\n\n[http]\nlisten = 127.0.0.1:${port}\n`;
    writeFileSync(path.join(work, 'galaxy-importd.ini'), ini);
    writeFileSync(path.join(work, 'api_key'), emu.adminKey);
    // As the unit's comments say.
    await sh(`
      groupadd --system galaxy && useradd --system --gid galaxy --home-dir /nonexistent --shell /usr/sbin/nologin galaxy
      cp "$(npm root --global)/galaxy-importd/systemd/galaxy-importd.service" /etc/systemd/system/
      install -d -m 0750 -o root -g galaxy /etc/galaxy-importd
      install -m 0640 -o root -g galaxy ${work}/galaxy-importd.ini /etc/galaxy-importd/
      install -m 0400 -o root -g root ${work}/api_key /etc/galaxy-importd/api_key
      systemctl daemon-reload`);
  });

  after(async () => {
    if (skip === false) box.remove(Boolean(process.exitCode));
    await emu?.close();
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('systemctl start: a file dropped into the import directory is imported', async () => {
    await inside(['systemctl', 'start', 'galaxy-importd']);
    writeFileSync(path.join(importDir, 'run1', 'a.bed'), 'chr1\t1\t100\n', { mode: 0o644 });
    await waitFor(() => (okCount('a.bed') === 1 ? true : undefined), 60_000, 'a.bed ok in the library', 250);
    assert.equal(await show('ActiveState'), 'active');
    took('a.bed imported');
  });

  it('journalctl -u galaxy-importd shows JSON lines with an event', async () => {
    const lines = (await journal()).split('\n').filter((l) => l.startsWith('{'));
    const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
    assert.ok(events.includes('daemon.ready'), `no daemon.ready in: ${events.join(', ')}`);
    assert.ok(events.every((e) => typeof e === 'string'), 'a JSON line without event');
  });

  it('systemctl reload (SIGHUP) logs a rescan', async () => {
    await inside(['systemctl', 'reload', 'galaxy-importd']);
    await waitFor(async () => ((await journal()).includes('"daemon.rescan"') ? true : undefined), 20_000, 'daemon.rescan in the journal', 250);
  });

  it('kill -9 of the main PID: systemd restarts it, and no file is imported twice', async () => {
    const before = Number(await show('NRestarts'));
    const pid = await show('MainPID');
    assert.notEqual(pid, '0');
    await inside(['sh', '-c', `kill -9 ${pid}`]);
    // RestartSec=5s.
    await waitFor(async () => (Number(await show('NRestarts')) > before && (await show('ActiveState')) === 'active' ? true : undefined), 30_000, 'a restart', 250);
    assert.notEqual(await show('MainPID'), pid);
    writeFileSync(path.join(importDir, 'run1', 'b.bed'), 'chr2\t1\t100\n', { mode: 0o644 });
    await waitFor(() => (okCount('b.bed') === 1 ? true : undefined), 60_000, 'b.bed ok in the library', 250);
    assert.equal(okCount('a.bed'), 1, 'a.bed was imported again after the restart');
    took('restarted after kill -9');
  });

  it('systemctl stop: the daemon exits 0', async () => {
    await inside(['systemctl', 'stop', 'galaxy-importd']);
    assert.equal(await show('ExecMainStatus'), '0');
    assert.equal(await show('Result'), 'success');
    assert.equal(okCount('a.bed'), 1);
    assert.equal(okCount('b.bed'), 1);
  });

  it('a configuration error: exit 2, ActiveState failed, no restart', async () => {
    const restarts = await show('NRestarts');
    await sh(`sed -i 's/^settle_seconds = 1$/settle_seconds = soon/' /etc/galaxy-importd/galaxy-importd.ini`);
    await inside(['systemctl', 'start', 'galaxy-importd'], { ok: false });
    await waitFor(async () => ((await show('ActiveState')) === 'failed' ? true : undefined), 30_000, 'the unit failed', 250);
    assert.equal(await show('ExecMainStatus'), '2');
    // Longer than RestartSec=5s: a restart would have happened by now.
    await new Promise((r) => setTimeout(r, 7_000));
    assert.equal(await show('ActiveState'), 'failed');
    assert.equal(await show('NRestarts'), restarts);
    await sh(`install -m 0640 -o root -g galaxy ${work}/galaxy-importd.ini /etc/galaxy-importd/`);
  });

  it('after_upload = move:DIR: without a drop-in the move fails (EROFS) naming the drop-in to add; with the documented ReadWritePaths= drop-in the file is moved below DIR', async () => {
    const done = path.join(work, 'done');
    mkdirSync(path.join(importDir, 'run2'), { recursive: true });
    mkdirSync(done, { recursive: true });
    // The daemon's user (galaxy, in the container) may write both: only the unit's ProtectSystem=strict stops it.
    for (const d of [importDir, path.join(importDir, 'run2'), done]) chmodSync(d, 0o777);
    writeFileSync(path.join(work, 'move.ini'), ini.replace('rescan_minutes = 0\n', `rescan_minutes = 0\nafter_upload = move:${done}\n`));
    await sh(`install -m 0640 -o root -g galaxy ${work}/move.ini /etc/galaxy-importd/galaxy-importd.ini
      systemctl restart galaxy-importd`);
    writeFileSync(path.join(importDir, 'run2', 'c.bed'), 'chr3\t1\t100\n', { mode: 0o666 });
    const warning = await waitFor(async () => (await journal()).split('\n').find((l) => l.includes('"file.after_upload"') && l.includes('c.bed')), 60_000, 'a file.after_upload line for c.bed', 250);
    process.stdout.write(`# without the drop-in: ${warning}\n`);
    const err = String((JSON.parse(warning) as { err?: unknown }).err);
    assert.match(err, /EROFS/);
    assert.ok(err.includes(`ReadWritePaths=${importDir} ${done}`), `the warning names the drop-in's line: ${err}`);
    assert.match(err, /systemctl edit galaxy-importd/);
    assert.equal(okCount('c.bed'), 1);
    assert.equal(existsSync(path.join(importDir, 'run2', 'c.bed')), true, 'c.bed stays where it was');
    took('after_upload without the drop-in');

    await sh(`mkdir -p /etc/systemd/system/galaxy-importd.service.d
      printf '[Service]\\nReadWritePaths=${importDir} ${done}\\n' > /etc/systemd/system/galaxy-importd.service.d/import-dir.conf
      systemctl daemon-reload && systemctl restart galaxy-importd`);
    assert.equal(await show('ReadWritePaths'), `${importDir} ${done}`);
    writeFileSync(path.join(importDir, 'run2', 'd.bed'), 'chr4\t1\t100\n', { mode: 0o666 });
    await waitFor(() => (existsSync(path.join(done, 'run2', 'd.bed')) ? true : undefined), 60_000, 'd.bed moved below DIR', 250);
    assert.equal(existsSync(path.join(importDir, 'run2', 'd.bed')), false);
    assert.equal(okCount('d.bed'), 1);
    assert.equal(okCount('c.bed'), 1, 'c.bed was not imported again');
    assert.ok(!(await journal()).split('\n').some((l) => l.includes('"file.after_upload"') && l.includes('"err"') && l.includes('d.bed')));
    await sh(`rm /etc/systemd/system/galaxy-importd.service.d/import-dir.conf && systemctl stop galaxy-importd && systemctl daemon-reload
      install -m 0640 -o root -g galaxy ${work}/galaxy-importd.ini /etc/galaxy-importd/`);
    took('after_upload = move:DIR');
  });

  it('systemd-analyze security galaxy-importd: exposure at most 1.4', async () => {
    const r = await inside(['systemd-analyze', 'security', '--no-pager', 'galaxy-importd'], { ok: false });
    const m = /Overall exposure level for galaxy-importd\.service: ([\d.]+) (\S+)/.exec(r.out);
    assert.ok(m, `systemd-analyze security (exit ${r.status}) gave no exposure level:\n${r.out.slice(-1000)}`);
    process.stdout.write(`# exposure level in the container: ${m[1]} ${m[2]}\n`);
    assert.ok(Number(m[1]) <= 1.4, `exposure ${m[1]} ${m[2]}`);
  });

  it('systemd logs no hardening line of the unit as ignored (the container applies them as a host does)', async () => {
    const lines = (await inside(['journalctl', '-b', '--no-pager', '-o', 'cat'], { ok: false })).out
      .split('\n')
      .filter((l) => /galaxy-importd\.service/.test(l) && /ignor|not supported|unknown|prohibited/i.test(l));
    assert.deepEqual([...new Set(lines)], []);
  });
});
