/**
 * The project's image as a sidecar next to a real Galaxy (issue 30, item 2): the image built from
 * the Dockerfile (scripts/images.sh build, localhost/galaxy-importd:VERSION, uid/gid 1450 by the
 * Dockerfile's GALAXY_UID/GID) runs on the host's network next to the Galaxy that
 * scripts/real-galaxy.sh started on the host's loopback. As docs/operations.md ("Docker") says:
 * Galaxy's library_import_dir mounted at the same path, the config at
 * /etc/galaxy-importd/galaxy-importd.ini, the key as a file at /run/secrets/galaxy-api-key
 * (the image sets CREDENTIALS_DIRECTORY=/run/secrets), the ledger on a named volume.
 * Every verdict on an import is read from Galaxy's API with the admin key.
 *
 * Needs root, podman and the real Galaxy's variables (scripts/real-galaxy.sh start prints them);
 * runs only with GALAXY_IMPORTD_TEST_SIDECAR=1 (scripts/run-tests.mjs leaves it out otherwise;
 * .ci/run runs it in its container images part). Podman without systemd as PID 1 runs no
 * HEALTHCHECK by itself: the test runs `podman healthcheck run`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, REPO, startProxy, waitFor } from '../helpers.js';
import { images, podman, ULIMITS, whyNoPodman } from './podman.js';
import type { Proxy } from '../helpers.js';
import { datasets, GALAXY, NO_GALAXY } from '../real-galaxy/galaxy.js';
import type { Dataset } from '../real-galaxy/galaxy.js';

const run = promisify(execFile);
const TAG = `${process.pid}`;
const NAME = `galaxy-importd-sidecar-test-${TAG}`;
const VOLUME = `galaxy-importd-sidecar-test-${TAG}`;
// The Dockerfile's default GALAXY_UID/GID: the daemon's user in the image.
const UID = 1450;
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = `localhost/galaxy-importd:${VERSION}`;
// podman-compose (PyPI) for docs/docker-compose.host-galaxy.yml: .ci/run names it.
const COMPOSE = process.env.GALAXY_IMPORTD_TEST_PODMAN_COMPOSE ?? '';

function whySkip(): string | false {
  if (process.env.GALAXY_IMPORTD_TEST_SIDECAR !== '1') return 'set GALAXY_IMPORTD_TEST_SIDECAR=1 to run it (it builds the image and runs it next to a real Galaxy; .ci/run does)';
  if (NO_GALAXY !== false) return NO_GALAXY;
  if (GALAXY?.importDir === '' || GALAXY?.dir === '') return 'GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR and GALAXY_IMPORTD_TEST_GALAXY_DIR must be set (scripts/real-galaxy.sh start prints them)';
  return whyNoPodman();
}
let skip = whySkip();
if (skip === false) {
  // Cached by podman's layers: quick when .ci/run's images part has just built it.
  const made = images('build', 20 * 60_000);
  if ('skip' in made) skip = made.skip;
}

type Event = { event?: string; file?: string; reason?: string; [k: string]: unknown };
async function logs(name: string): Promise<string> {
  return (await podman(['logs', name], { ok: false })).out;
}
function eventsOf(text: string): Event[] {
  return text.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Event];
    } catch {
      return [];
    }
  });
}

describe('the image as a sidecar next to a real Galaxy', { skip, timeout: 12 * 60_000 }, () => {
  const g = GALAXY!;
  const library = `sidecar ${TAG}`;
  const sub = `sidecar-${TAG}`;
  let subDir = '';
  let work = '';
  let port = 0;
  // The container reaches Galaxy through a TCP proxy on the loopback, so that Galaxy can be made
  // unreachable (refused, as a Galaxy that is down) without a Galaxy restart of minutes.
  let galaxy: Proxy | null = null;
  const containers: string[] = [];
  const started = Date.now();
  const took = (what: string) => process.stdout.write(`# ${what}: ${Math.round((Date.now() - started) / 1000)} s in\n`);
  const ini = (extra = '') =>
    `[galaxy]\nurl = ${galaxy?.url(g.url) ?? g.url}\ntimeout_seconds = 30\n\n[import]\ndir = ${g.importDir}\nsettle_seconds = 1\nrescan_minutes = 0\n\n` +
    `[library]\nname = ${library}\n\n[upload]\nbackoff_max_seconds = 5\n\n[state]\ndir = /var/lib/galaxy-importd\n\n[http]\nlisten = 127.0.0.1:${port}\n${extra}`;
  const put = (rel: string, content: string, mode = 0o644) => {
    const full = path.join(subDir, rel);
    writeFileSync(full, content, { mode });
    chmodSync(full, mode);
    return full;
  };
  const inLibrary = async (): Promise<Dataset[]> => datasets(library);
  const okOnce = async (name: string): Promise<boolean> => {
    const found = (await inLibrary()).filter((d) => d.name === name);
    return found.length === 1 && found[0]?.state === 'ok';
  };

  /** A container of the image as docs/operations.md runs it; its name. */
  async function start(name: string, configFile: string): Promise<string> {
    containers.push(name);
    await podman(['rm', '-f', '--ignore', name]);
    await podman(['run', '-d', '--name', name, '--network=host', ...ULIMITS, ...(await imageHealth()),
      '-v', `${g.importDir}:${g.importDir}`,
      '-v', `${configFile}:/etc/galaxy-importd/galaxy-importd.ini:ro`,
      '-v', `${VOLUME}:/var/lib/galaxy-importd`,
      '-v', `${path.join(work, 'api_key')}:/run/secrets/galaxy-api-key:ro`,
      IMAGE]);
    return name;
  }
  /**
   * The image's HEALTHCHECK as it is, but for its 2-minute start period, in which failures do not
   * count (podman 4.3 takes --health-start-period only with --health-cmd, so the image's command is
   * passed again, read from the image).
   */
  async function imageHealth(): Promise<string[]> {
    const h = JSON.parse((await podman(['image', 'inspect', '--format', '{{json .HealthCheck}}', IMAGE])).out) as { Test: string[]; Retries: number; Timeout: number };
    assert.equal(h.Test[0], 'CMD', `the image's HEALTHCHECK: ${JSON.stringify(h)}`);
    return ['--health-cmd', JSON.stringify(h.Test.slice(1)), '--health-retries', String(h.Retries), '--health-timeout', `${h.Timeout / 1e9}s`, '--health-start-period', '5s'];
  }
  const healthcheck = async (name: string) => (await podman(['healthcheck', 'run', name], { ok: false })).status;

  before(async () => {
    work = mkdtempSync('/var/tmp/galaxy-importd-sidecar-test.');
    chmodSync(work, 0o755);
    subDir = path.join(g.importDir, sub);
    mkdirSync(subDir, { recursive: true });
    chmodSync(subDir, 0o755);
    port = await freePort();
    galaxy = await startProxy(g.url);
    writeFileSync(path.join(work, 'galaxy-importd.ini'), ini(), { mode: 0o644 });
    // Readable by the image's user only, as a Docker secret is.
    writeFileSync(path.join(work, 'api_key'), g.adminKey, { mode: 0o400 });
    chownSync(path.join(work, 'api_key'), UID, UID);
    await podman(['volume', 'rm', '-f', VOLUME], { ok: false });
    await podman(['volume', 'create', VOLUME]);
  });

  after(async () => {
    if (skip !== false) return;
    await galaxy?.close();
    for (const name of containers) {
      if (process.exitCode) {
        const text = (await logs(name)).split('\n').slice(-40).map((l) => `# ${l}`).join('\n');
        process.stdout.write(`# podman logs ${name}:\n${text}\n`);
      }
      spawnSync('podman', ['rm', '-f', '--time', '5', name], { stdio: 'ignore' });
    }
    spawnSync('podman', ['volume', 'rm', '-f', VOLUME], { stdio: 'ignore' });
    if (subDir !== '') rmSync(subDir, { recursive: true, force: true });
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('runs as a non-root user; files dropped on the host are imported once, ok in Galaxy', async () => {
    await start(NAME, path.join(work, 'galaxy-importd.ini'));
    const id = (await podman(['exec', NAME, 'id', '-u'])).out.trim();
    assert.equal(id, String(UID));
    put('a.bed', 'chr1\t1\t100\n');
    put('b.bed', 'chr2\t1\t100\n');
    await waitFor(async () => ((await okOnce('a.bed')) && (await okOnce('b.bed')) ? true : undefined), 180_000, 'a.bed and b.bed ok in Galaxy', 500);
    const names = (await inLibrary()).map((d) => d.path).sort();
    assert.deepEqual(names, [`/${sub}/a.bed`, `/${sub}/b.bed`]);
    took('a.bed, b.bed imported');
  });

  it('the HEALTHCHECK (podman healthcheck run: readiness) goes healthy', async () => {
    await waitFor(async () => ((await healthcheck(NAME)) === 0 ? true : undefined), 60_000, 'podman healthcheck run to exit 0', 500);
    const status = (await podman(['inspect', '--format', '{{.State.Health.Status}}', NAME])).out.trim();
    assert.equal(status, 'healthy');
  });

  it('a file the container cannot read (mode 000): a per-file failure, not a crash', async () => {
    put('unreadable.bed', 'chr3\t1\t100\n', 0o000);
    const ev = await waitFor(async () =>
      eventsOf(await logs(NAME)).find((e) => (e.event === 'upload.failed' || e.event === 'file.rejected') && String(e.file).endsWith('unreadable.bed')), 60_000, 'an upload.failed or file.rejected event for unreadable.bed', 500);
    process.stdout.write(`# ${JSON.stringify(ev)}\n`);
    assert.ok(typeof ev.reason === 'string' && ev.reason !== '', 'the event says why');
    assert.equal((await podman(['inspect', '--format', '{{.State.Running}}', NAME])).out.trim(), 'true');
    put('c.bed', 'chr4\t1\t100\n');
    await waitFor(async () => ((await okOnce('c.bed')) ? true : undefined), 120_000, 'c.bed ok in Galaxy after the failure', 500);
    assert.ok(!(await inLibrary()).some((d) => d.name === 'unreadable.bed'), 'unreadable.bed is not in the library');
  });

  it('while Galaxy is unreachable: unhealthy (the HEALTHCHECK is readiness), saying why, and still live; healthy and importing after', async () => {
    const cli = (...args: string[]) => podman(['exec', NAME, 'galaxy-importd', '--config', '/etc/galaxy-importd/galaxy-importd.ini', ...args], { ok: false });
    const status = async () => (await podman(['inspect', '--format', '{{.State.Health.Status}}', NAME])).out.trim();
    assert.equal(await healthcheck(NAME), 0, 'healthy before Galaxy goes away');
    try {
      await galaxy?.down();
      took('Galaxy unreachable');
      await waitFor(async () => ((await healthcheck(NAME)) !== 0 ? true : undefined), 90_000, 'podman healthcheck run to fail', 500);
      // The image's --retries=3: the status turns after three failures in a row.
      for (let i = 0; i < 3 && (await status()) !== 'unhealthy'; i++) await healthcheck(NAME);
      assert.equal(await status(), 'unhealthy');
      assert.match((await cli('health', '--ready')).out, /Galaxy is not reachable/);
      // Still live (/healthz): the process serves and keeps its files.
      assert.equal((await cli('health')).status, 0);
      put('d.bed', 'chr5\t1\t100\n');
      // d.bed settles while Galaxy is away (queued, or tried and retried), at most 15 s.
      const met = await waitFor(async () => eventsOf(await logs(NAME)).find((e) => String(e.file).endsWith('d.bed') && /^upload\./.test(String(e.event))), 15_000, 'd.bed queued', 500).catch(() => null);
      process.stdout.write(`# d.bed while Galaxy is away: ${met === null ? 'no upload event in 15 s' : String(met.event)}\n`);
    } finally {
      await galaxy?.up();
      took('Galaxy reachable again');
    }
    await waitFor(async () => ((await okOnce('d.bed')) ? true : undefined), 240_000, 'd.bed ok in Galaxy after Galaxy came back', 500);
    await waitFor(async () => ((await healthcheck(NAME)) === 0 ? true : undefined), 90_000, 'podman healthcheck run to pass again', 500);
    assert.equal(await status(), 'healthy');
  });

  it('podman stop drains: exit code 0', async () => {
    await podman(['stop', '--time', '30', NAME]);
    assert.equal((await podman(['inspect', '--format', '{{.State.ExitCode}}', NAME])).out.trim(), '0');
    const ev = eventsOf(await logs(NAME)).map((e) => e.event);
    assert.ok(ev.includes('daemon.stopped'), `no daemon.stopped in: ${ev.slice(-10).join(', ')}`);
  });

  it('a new container on the same volume imports nothing twice', async () => {
    const second = await start(`${NAME}-2`, path.join(work, 'galaxy-importd.ini'));
    put('e.bed', 'chr6\t1\t100\n');
    await waitFor(async () => ((await okOnce('e.bed')) ? true : undefined), 180_000, 'e.bed ok in Galaxy', 500);
    const paths = (await inLibrary()).map((d) => d.path);
    assert.deepEqual(paths.filter((p, i) => paths.indexOf(p) !== i), [], 'no file twice');
    for (const n of ['a.bed', 'b.bed', 'c.bed', 'd.bed', 'e.bed']) assert.equal(paths.filter((p) => p === `/${sub}/${n}`).length, 1, n);
    await podman(['stop', '--time', '30', second]);
    assert.equal((await podman(['inspect', '--format', '{{.State.ExitCode}}', second])).out.trim(), '0');
    took('second container');
  });

  it('a bad config: exit 2, the key at fault in podman logs', async () => {
    const bad = path.join(work, 'bad.ini');
    writeFileSync(bad, ini().replace('settle_seconds = 1', 'settle_seconds = soon'), { mode: 0o644 });
    const name = await start(`${NAME}-bad`, bad);
    const code = (await podman(['wait', name])).out.trim();
    const text = await logs(name);
    assert.equal(code, '2', text);
    assert.match(text, /settle_seconds/);
  });

  it('docs/docker-compose.host-galaxy.yml with podman-compose: up imports a file once (a fresh ledger finds the others in Galaxy), down stops it', {
    skip: COMPOSE === '' ? 'set GALAXY_IMPORTD_TEST_PODMAN_COMPOSE to a podman-compose (pip install podman-compose; .ci/run does)' : false,
  }, async () => {
    const project = `gi-compose-${TAG}`;
    const compose = (args: string[]) => run(COMPOSE, ['-f', path.join(REPO, 'docs', 'docker-compose.host-galaxy.yml'), '-p', project, ...args], {
      encoding: 'utf8', maxBuffer: 64 << 20,
      env: { ...process.env, GALAXY_IMPORTD_IMAGE: IMAGE, GALAXY_IMPORT_DIR: g.importDir, GALAXY_IMPORTD_INI: path.join(work, 'galaxy-importd.ini'), GALAXY_IMPORTD_API_KEY_FILE: path.join(work, 'api_key') },
    });
    try {
      await compose(['up', '-d']);
      put('f.bed', 'chr7\t1\t100\n');
      await waitFor(async () => ((await okOnce('f.bed')) ? true : undefined), 180_000, 'f.bed ok in Galaxy (compose)', 500);
      const paths = (await inLibrary()).map((d) => d.path);
      for (const n of ['a.bed', 'b.bed', 'c.bed', 'd.bed', 'e.bed', 'f.bed']) assert.equal(paths.filter((p) => p === `/${sub}/${n}`).length, 1, n);
      took('compose up, f.bed imported');
    } finally {
      const down = await compose(['down', '-v']).catch((err: Error) => ({ stdout: '', stderr: err.message }));
      process.stdout.write(`# podman-compose down: ${(down.stderr || down.stdout).trim().split('\n').slice(-2).join(' | ')}\n`);
    }
  });
});
