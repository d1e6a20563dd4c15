import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { Emulator } from '../../emulator/server.js';
import { CLI, emulator, put, runCli, spawnCli, tempDir, waitFor, whyNobodyCannotRun } from '../helpers.js';
import { ini } from '../integration/harness.js';
import type { Sections } from '../integration/harness.js';

// The daemon as an admin runs it: the built CLI as a child process, real
// signals, a real SQLite file, the emulator on a loopback port.

interface Setup {
  emu: Emulator;
  importDir: string;
  stateDir: string;
  configFile: string;
  env: Record<string, string>;
}

async function setup(t: TestContext, extra: Sections = {}, emuOpts: Parameters<typeof emulator>[1] = {}): Promise<Setup> {
  const root = tempDir(t, 'importd-e2e-');
  const importDir = path.join(root, 'import');
  const stateDir = path.join(root, 'state');
  mkdirSync(importDir);
  const emu = await emulator(t, { libraryImportDir: importDir, jobQueuedMs: 20, jobRunMs: 30, ...emuOpts });
  const configFile = path.join(root, 'galaxy-importd.ini');
  writeFileSync(configFile, ini({
    galaxy: { url: emu.url, timeout_seconds: 5 },
    import: { dir: importDir, settle_seconds: 0.3, rescan_minutes: 0 },
    upload: { rate_per_second: 0, backoff_max_seconds: 1 },
    state: { dir: stateDir },
    http: { listen: '' },
  }, extra));
  return { emu, importDir, stateDir, configFile, env: { GALAXY_API_KEY: emu.adminKey } };
}

/** Debian's headless-capable Chromium, or null when it is not installed. */
function chromium(): string | null {
  for (const name of ['chromium', 'chromium-browser']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  }
  return null;
}

const events = (stdout: string): { event?: string; file?: string }[] =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string; file?: string });

function everyFileOnce(emu: Emulator, expected: string[]): void {
  const names = emu.model.tree().filter((d) => d.state === 'ok').map((d) => `${d.folder}/${d.name}`.replace(/^\/+/, ''));
  const dupes = names.filter((n, i) => names.indexOf(n) !== i);
  assert.deepEqual(dupes, [], 'no file twice');
  assert.deepEqual([...new Set(names)].sort(), [...expected].sort(), 'every file present');
}

/** `run` as a process, stopped with SIGTERM when the test ends. */
function running(t: TestContext, s: Setup, env: Record<string, string>): ReturnType<typeof spawnCli> {
  const run = spawnCli(['--config', s.configFile, 'run'], env);
  t.after(async () => {
    run.child.kill('SIGTERM');
    await run.exited;
  });
  return run;
}

/** Wait until the run's log says `file` is ok. */
async function okIn(run: ReturnType<typeof spawnCli>, file: string): Promise<void> {
  await waitFor(() => (events(run.stdout()).some((e) => e.event === 'upload.ok' && e.file === file) ? true : undefined), 15_000, `${file} ok`);
}

describe('galaxy-importd run and scan, as processes', () => {
  it('scan imports what is there, exits 0, and a second scan uploads nothing', async (t) => {
    const s = await setup(t);
    put(s.importDir, 'bed/2.bed', 'chr1\t1\t2\n');
    put(s.importDir, 'bed/3.bed', 'chr1\t3\t4\n');

    const first = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });

    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /scan: 2 ok, 0 failed in this scan/);
    assert.equal(second.code, 0);
    assert.equal(events(second.stdout).filter((e) => e.event === 'upload.submitted').length, 0);
    everyFileOnce(s.emu, ['bed/2.bed', 'bed/3.bed']);
  });

  it('scan with ready_marker imports the directories that have their marker, says which files wait, and exits 0', async (t) => {
    const s = await setup(t, { import: { ready_marker: '.ready' } });
    put(s.importDir, 'done/a.txt');
    put(s.importDir, 'done/.ready', '');
    put(s.importDir, 'open/b.txt');
    put(s.importDir, 'open/c.txt');

    const first = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    put(s.importDir, 'open/.ready', '');
    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });

    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /scan: 1 ok, 0 failed in this scan/);
    assert.match(first.stderr, /scan: 2 files not imported: their directories have no ready marker \(\.ready\) yet/);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /not imported/);
    everyFileOnce(s.emu, ['done/a.txt', 'open/b.txt', 'open/c.txt']);
  });

  it('scan exits 1 when a file failed, and status --failed names it with the reason', async (t) => {
    const s = await setup(t);
    s.emu.addJobFaults({ match: 'broken', outcome: 'dataset-error', message: 'not a valid BED file' });
    put(s.importDir, 'x/fine.txt');
    put(s.importDir, 'x/broken.txt');
    put(s.importDir, 'x/deep/er.txt');
    put(s.importDir, 'top.txt');

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const status = await runCli(['--config', s.configFile, 'status', '--failed'], { env: s.env });
    const json = await runCli(['--config', s.configFile, 'status', '--json'], { env: s.env });

    assert.equal(scan.code, 1);
    assert.match(scan.stderr, /1 failed in this scan/);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /"x\/broken.txt": .*not a valid BED file/);
    assert.match(status.stdout, /Imports \/x: 1 ok \(1 verified\), 1 failed/);
    assert.match(status.stdout, /Imports \/x\/deep: 1 ok \(1 verified\)\n/);
    assert.match(status.stdout, /Imports \/: 1 ok \(1 verified\)\n/);
    const parsed = JSON.parse(json.stdout) as { states: Record<string, number>; folders: Record<string, Record<string, number>>; verified: Record<string, number> };
    assert.deepEqual(parsed.verified, { 'Imports /': 1, 'Imports /x': 1, 'Imports /x/deep': 1 }, 'files Galaxy verified, per folder');
    assert.deepEqual([parsed.states.ok, parsed.states.failed], [3, 1], 'the totals by state, the top directory\'s file included');
    assert.match(status.stdout, /files by state:\n(.*\n)* {2}ok +3\n(.*\n)* {2}failed +1\n/);
    assert.deepEqual([parsed.folders['Imports /x']?.ok, parsed.folders['Imports /x']?.failed, parsed.folders['Imports /x/deep']?.ok, parsed.folders['Imports /']?.ok], [1, 1, 1, 1]);
  });

  it('status PATH shows a file\'s dataset, its checksum and whether Galaxy verified it; --json the same for scripts', async (t) => {
    const s = await setup(t);
    put(s.importDir, 'x/fine.txt', 'fine\n');
    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const text = await runCli(['--config', s.configFile, 'status', 'x/fine.txt', path.join(s.importDir, 'x/fine.txt'), 'x/none.txt'], { env: s.env });
    const json = await runCli(['--config', s.configFile, 'status', '--json', 'x/fine.txt'], { env: s.env });

    assert.equal(scan.code, 0, scan.stderr);
    assert.equal(text.code, 0, text.stderr);
    const sum = createHash('sha256').update('fine\n').digest('hex');
    assert.match(text.stdout, new RegExp(`^x/fine.txt: ok\n.*\n  checksum: SHA-256 ${sum}, verified by Galaxy in the job that imported it\n  dataset \\S+ in folder F\\S+ of library \\S+, job \\S+\n`));
    assert.equal(text.stdout.match(/^x\/fine.txt: ok$/gm)?.length, 2, 'an absolute path inside the import directory names the same file');
    assert.match(text.stdout, /x\/none.txt: not in the ledger/);
    const [row] = JSON.parse(json.stdout) as { file: string; state: string; checksum: { hash_function: string; hex: string }; verified_by_galaxy: boolean; dataset_id: string }[];
    assert.deepEqual([row?.file, row?.state, row?.checksum, row?.verified_by_galaxy, typeof row?.dataset_id], ['x/fine.txt', 'ok', { hash_function: 'SHA-256', hex: sum }, true, 'string']);
  });

  it("scan exits 1 naming the key problem when the key is not an admin's", async (t) => {
    const s = await setup(t);
    put(s.importDir, 'a/x.txt');

    const res = await runCli(['--config', s.configFile, 'scan'], { env: { GALAXY_API_KEY: s.emu.userKey } });

    assert.equal(res.code, 1);
    assert.match(res.stderr, /Galaxy refuses the API key: 403/);
    assert.equal(s.emu.model.tree().length, 0);
  });

  it('run: SIGTERM during uploads exits 0 within 10 s with its last lines written; a restart finishes, nothing twice', async (t) => {
    const s = await setup(t, { upload: { batch_size: 5, concurrency: 2 } }, { jobQueuedMs: 400, jobRunMs: 400 });
    const files = Array.from({ length: 40 }, (_, i) => `term/f${String(i).padStart(2, '0')}.txt`);
    for (const f of files) put(s.importDir, f);

    const run = spawnCli(['--config', s.configFile, 'run'], s.env);
    await waitFor(() => (events(run.stdout()).some((e) => e.event === 'upload.submitted') ? true : undefined), 15_000, 'the first upload');
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    const took = Date.now() - sent;
    const last = events(run.stdout()).at(-1);
    const again = spawnCli(['--config', s.configFile, 'run'], s.env);
    await waitFor(() => (s.emu.model.tree().filter((d) => d.state === 'ok').length >= files.length ? true : undefined), 60_000, 'every file');
    again.child.kill('SIGTERM');
    await again.exited;

    assert.equal(exit.code, 0, run.stderr());
    assert.ok(took < 10_000, `stopped in ${took} ms`);
    assert.equal(last?.event, 'daemon.stopped');
    everyFileOnce(s.emu, files);
  });

  it('kill -9 at random moments during a 500-file run, five times, then a restart: every file in Galaxy exactly once', async (t) => {
    const s = await setup(t, { upload: { batch_size: 20, concurrency: 2 }, import: { settle_seconds: 0.2 } }, { jobQueuedMs: 1500, jobRunMs: 500 });
    // Galaxy answers slowly, so that each kill lands with requests and jobs in flight.
    s.emu.addFaults({ path: '^/api/', action: { type: 'delay', ms: 40 } });
    const files: string[] = [];
    for (let d = 0; d < 10; d++) for (let i = 0; i < 50; i++) files.push(`k${d}/f${String(i).padStart(3, '0')}.txt`);

    // Each round drops another 100 files, so that every kill lands with uploads and jobs in flight.
    const doneAtKill: number[] = [];
    const droppedAtKill: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const f of files.slice(round * 100, round * 100 + 100)) put(s.importDir, f);
      const run = spawnCli(['--config', s.configFile, 'run'], s.env);
      await waitFor(() => (events(run.stdout()).some((e) => e.event === 'daemon.ready') ? true : undefined), 30_000, 'ready');
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 1100)));
      run.child.kill('SIGKILL');
      await run.exited;
      doneAtKill.push(s.emu.model.tree().filter((d) => d.state === 'ok').length);
      droppedAtKill.push(round * 100 + 100);
    }
    const last = spawnCli(['--config', s.configFile, 'run'], s.env);
    await waitFor(() => (s.emu.model.tree().filter((d) => d.state === 'ok').length >= files.length ? true : undefined), 120_000, 'every file');
    await new Promise((r) => setTimeout(r, 1000));
    last.child.kill('SIGTERM');
    await last.exited;

    everyFileOnce(s.emu, files);
    assert.ok(doneAtKill.every((n, i) => n < (droppedAtKill[i] ?? 0)), `every kill landed mid-run: ok datasets at each kill ${doneAtKill.join(', ')} of ${droppedAtKill.join(', ')} dropped`);
  });

  it('never shows the API key: not on stdout or stderr, not in the ledger, not in a URL Galaxy saw', async (t) => {
    const s = await setup(t);
    s.emu.addFaults({ method: 'POST', path: '^/api/tools/fetch$', times: 1, action: { type: 'status', status: 502 } });
    put(s.importDir, 'k/a.txt');

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const status = await runCli(['--config', s.configFile, 'status', '--failed', '--json'], { env: s.env });
    const check = await runCli(['--config', s.configFile, 'check'], { env: s.env });
    const bad = await runCli(['--config', s.configFile, 'scan'], { env: { GALAXY_API_KEY: `${s.emu.adminKey}x` } });

    const key = s.emu.adminKey;
    for (const r of [scan, status, check, bad]) {
      assert.equal(r.stdout.includes(key), false);
      assert.equal(r.stderr.includes(key), false);
    }
    for (const f of readdirSync(s.stateDir)) assert.equal(readFileSync(path.join(s.stateDir, f)).includes(key), false, f);
    for (const r of s.emu.requests) assert.equal(r.url.includes(key), false, r.url);
    assert.equal(scan.code, 0);
    assert.equal(check.code, 0, check.stdout);
  });

  it('check reports each failing check with a fix and exits 1', async (t) => {
    const s = await setup(t);
    const other = tempDir(t);
    writeFileSync(s.configFile, readFileSync(s.configFile, 'utf8').replace(`dir = ${s.importDir}`, `dir = ${other}`));

    const res = await runCli(['--config', s.configFile, 'check'], { env: { GALAXY_API_KEY: s.emu.userKey } });

    assert.equal(res.code, 1);
    assert.match(res.stdout, /FAIL {2}the key belongs to user@example.org, who is not an admin\n {6}fix: use the key of a user listed in admin_users/);
  });

  it('check warns, and still passes, on a Galaxy older than the oldest release it is tested on', async (t) => {
    const old = await setup(t, {}, { version: '23.1.4' });
    const current = await setup(t);

    const warned = await runCli(['--config', old.configFile, 'check'], { env: old.env });
    const plain = await runCli(['--config', current.configFile, 'check'], { env: current.env });

    assert.equal(warned.code, 0, warned.stdout);
    assert.match(warned.stdout, /^warn {2}Galaxy 23\.1 is older than the oldest release galaxy-importd is tested on \(24\.2; tested: 24\.2, 25\.0, 25\.1, 26\.1\)\n {6}note: /m);
    assert.match(warned.stdout, /^all checks passed$/m);
    assert.equal(plain.code, 0);
    assert.doesNotMatch(plain.stdout, /^warn/m);
  });
});

describe('scan --dry-run', () => {
  interface Planned { file: string; action: string; reason?: string; library?: string; folder?: string; dbkey?: string; access?: string | null; tags?: string[]; note?: string }
  const plan = (stdout: string): Map<string, Planned> => new Map((JSON.parse(stdout) as { files: Planned[] }).files.map((f) => [f.file, f]));

  it('on a first start: says where each file would go and why others are left out; asks Galaxy nothing and creates no ledger', async (t) => {
    const s = await setup(t, {
      library: { access: 'lab-x' },
      'folder:labA': { library: 'Lab A', access: 'lab-a', dbkey: 'hg38', tags: 'run42' },
    });
    put(s.importDir, 'run1/a.fastq');
    put(s.importDir, 'run1/deep/b.bed');
    put(s.importDir, 'run1/c.part');
    put(s.importDir, 'labA/d.txt');
    put(s.importDir, '.snapshot/e.txt');

    const text = await runCli(['--config', s.configFile, 'scan', '--dry-run'], { env: {} });
    const json = await runCli(['--config', s.configFile, 'scan', '--dry-run', '--json'], { env: {} });

    assert.equal(text.code, 0, text.stderr);
    assert.equal(json.code, 0, json.stderr);
    assert.match(text.stdout, /^upload "run1\/a\.fastq" -> "Imports" \/run1/m);
    assert.match(text.stdout, /^skip {3}"run1\/c\.part": name matches \[import\] ignore \(c\.part\)/m);
    assert.match(text.stdout, /"Lab A" \/labA: 1 file, \d+ bytes \(file_type auto; dbkey hg38; tags run42; access lab-a only\)/);
    assert.match(text.stdout, /3 to upload, 0 done already, 2 skipped/);
    const files = plan(json.stdout);
    assert.deepEqual([...files.keys()].sort(), ['.snapshot/', 'labA/d.txt', 'run1/a.fastq', 'run1/c.part', 'run1/deep/b.bed']);
    assert.deepEqual({ ...files.get('run1/deep/b.bed'), size: 0, note: '' }, { file: 'run1/deep/b.bed', action: 'upload', size: 0, note: '', library: 'Imports', folder: '/run1/deep', file_type: 'auto', dbkey: '?', tags: [], link_data_only: false, access: 'lab-x', notify: [] });
    assert.equal(files.get('labA/d.txt')?.access, 'lab-a');
    assert.equal(files.get('.snapshot/')?.action, 'skip');
    assert.deepEqual(s.emu.requests, [], 'Galaxy was asked nothing');
    assert.equal(existsSync(s.stateDir), false, 'no ledger was created, nor its directory');
  });

  it('after a scan: imported files are done, new and changed ones would upload, and the ledger file is byte for byte the same', async (t) => {
    const s = await setup(t, { import: { ready_marker: '.ready' } });
    put(s.importDir, 'run1/a.txt');
    put(s.importDir, 'run1/b.txt');
    put(s.importDir, 'run1/.ready', '');
    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    assert.equal(scan.code, 0, scan.stderr);
    put(s.importDir, 'run1/b.txt', 'a new version\n');
    put(s.importDir, 'run1/c.txt');
    put(s.importDir, 'run2/d.txt');
    const ledgerFile = path.join(s.stateDir, 'ledger.sqlite');
    const before = readFileSync(ledgerFile);
    const stateBefore = readdirSync(s.stateDir).sort();
    s.emu.requests.length = 0;

    const dry = await runCli(['--config', s.configFile, 'scan', '--dry-run', '--json'], { env: {} });

    assert.equal(dry.code, 0, dry.stderr);
    const files = plan(dry.stdout);
    assert.equal(files.get('run1/a.txt')?.action, 'done');
    assert.match(files.get('run1/a.txt')?.reason ?? '', /^ok in the ledger/);
    assert.equal(files.get('run1/b.txt')?.action, 'upload');
    assert.match(files.get('run1/b.txt')?.note ?? '', /a new version \(the ledger's was ok with size \d+\)/);
    assert.equal(files.get('run1/c.txt')?.action, 'upload');
    assert.equal(files.get('run2/d.txt')?.action, 'wait');
    assert.match(files.get('run2/d.txt')?.reason ?? '', /no ready marker \(\.ready\)/);
    assert.equal(files.get('run1/.ready')?.action, 'skip');
    assert.ok(readFileSync(ledgerFile).equals(before), 'the ledger file is unchanged');
    assert.deepEqual(readdirSync(s.stateDir).sort(), stateBefore, 'no file was added to the state directory');
    assert.deepEqual(s.emu.requests, [], 'Galaxy was asked nothing');
  });

  it('with backlog = skip on a first start, the files present are skipped', async (t) => {
    const s = await setup(t, { import: { backlog: 'skip' } });
    put(s.importDir, 'run1/a.txt');

    const dry = await runCli(['--config', s.configFile, 'scan', '--dry-run', '--json'], { env: {} });

    assert.equal(dry.code, 0, dry.stderr);
    assert.match(plan(dry.stdout).get('run1/a.txt')?.reason ?? '', /very first start and \[import\] backlog = skip/);
  });

  it('--dry-run with another command is a usage error', async (t) => {
    const s = await setup(t);
    const run = await runCli(['--config', s.configFile, 'run', '--dry-run'], { env: s.env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--dry-run goes with scan only/);
  });
});

describe('configuration errors exit 2 with a message naming the key or line', () => {
  const cases: [string, (s: Setup) => string, RegExp][] = [
    ['an unknown key', (s) => `${readFileSync(s.configFile, 'utf8')}\n[upload]\nbatchsize = 3\n`, /\[upload\] batchsize: unknown key; did you mean batch_size\?/],
    ['a bad number', (s) => readFileSync(s.configFile, 'utf8').replace('timeout_seconds = 5', 'timeout_seconds = 5s'), /:3: \[galaxy\] timeout_seconds: expected a whole number from 1 to 3600, got "5s"/],
    ['a missing import directory', (s) => readFileSync(s.configFile, 'utf8').replace(`dir = ${s.importDir}`, `dir = ${s.importDir}-nope`), /\[import\] dir: .*-nope does not exist/],
    ['an unreadable key file', (s) => readFileSync(s.configFile, 'utf8').replace('[galaxy]', '[galaxy]\napi_key_file = /nonexistent/key'), /api_key_file: \/nonexistent\/key does not exist/],
    ['a malformed line', (s) => readFileSync(s.configFile, 'utf8').replace('[import]', '[import]\nsettle seconds 3'), /:\d+: malformed line "settle seconds 3": expected key = value/],
    ['link_data_only with after_upload = delete', (s) => `${readFileSync(s.configFile, 'utf8')}\n[upload]\nlink_data_only = true\n`.replace('rescan_minutes = 0', 'rescan_minutes = 0\nafter_upload = delete'), /delete cannot be combined with link_data_only/],
  ];
  for (const [name, edit, message] of cases) {
    it(name, async (t) => {
      const s = await setup(t);
      writeFileSync(s.configFile, edit(s));
      const env = name === 'an unreadable key file' ? {} : s.env;

      const run = await runCli(['--config', s.configFile, 'run'], { env });
      const scan = await runCli(['--config', s.configFile, 'scan'], { env });

      assert.equal(run.code, 2, run.stderr);
      assert.equal(scan.code, 2);
      assert.match(run.stderr, message);
    });
  }
});

describe('scan on a terminal', () => {
  it('shows a progress line on a TTY', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('util-linux script(1) is not installed, so no pseudo-terminal can be given to the CLI');
      return;
    }
    const s = await setup(t);
    put(s.importDir, 'tty/a.txt');
    const command = [process.execPath, CLI, '--config', s.configFile, 'scan'].map((a) => `'${a}'`).join(' ');

    // Asynchronously: the emulator answers from this process's event loop.
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', ...s.env } });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const res = { status, stdout };

    assert.equal(res.status, 0, res.stdout);
    assert.match(res.stdout, /\rscan: \d+ ok, \d+ settling, \d+ uploading, \d+ failed/);
    assert.match(res.stdout, /scan: 1 ok, 0 failed in this scan/);
  });
});

/**
 * Root reads every file, so when the suite runs as root these tests run the CLI as
 * nobody (uid 65534). Null when that cannot be done here (the test is then skipped).
 */
function unprivileged(t: TestContext): { asRoot: boolean; user: { uid?: number; gid?: number } } | null {
  const asRoot = process.getuid?.() === 0;
  const why = asRoot ? whyNobodyCannotRun() : null;
  if (why !== null) {
    t.skip(`root reads every file, and ${why}`);
    return null;
  }
  return { asRoot, user: asRoot ? { uid: 65534, gid: 65534 } : {} };
}

describe('files the daemon cannot read', () => {
  it('refuses an unreadable key file with exit 2, naming the file', async (t) => {
    const who = unprivileged(t);
    if (who === null) return;
    const { asRoot } = who;
    const s = await setup(t);
    const keyFile = path.join(path.dirname(s.configFile), 'api_key');
    writeFileSync(keyFile, s.emu.adminKey);
    chmodSync(keyFile, 0o000);
    writeFileSync(s.configFile, readFileSync(s.configFile, 'utf8').replace('[galaxy]', `[galaxy]\napi_key_file = ${keyFile}`));
    if (asRoot) {
      chmodSync(path.dirname(s.configFile), 0o777);
      chmodSync(s.configFile, 0o644);
    }

    const res = await runCli(['--config', s.configFile, 'run'], who.user);

    assert.equal(res.code, 2);
    assert.match(res.stderr, new RegExp(`api_key_file: ${keyFile} is not readable by this user`));
    assert.equal(res.stderr.includes(s.emu.adminKey), false);
  });

  it('marks an unreadable file failed with a reason, skips an unreadable directory, and imports the rest', async (t) => {
    const who = unprivileged(t);
    if (who === null) return;
    const { asRoot } = who;
    const s = await setup(t);
    put(s.importDir, 'perm/readable.txt');
    put(s.importDir, 'perm/locked.txt');
    put(s.importDir, 'closed/inside.txt');
    chmodSync(path.join(s.importDir, 'perm', 'locked.txt'), 0o000);
    chmodSync(path.join(s.importDir, 'closed'), 0o000);
    if (asRoot) {
      for (const p of [path.dirname(s.importDir), s.importDir, path.join(s.importDir, 'perm')]) chmodSync(p, 0o777);
      chmodSync(path.join(s.importDir, 'perm', 'readable.txt'), 0o644);
      chmodSync(s.configFile, 0o644);
    }
    let res;
    try {
      res = await runCli(['--config', s.configFile, 'scan'], { env: s.env, ...who.user });
    } finally {
      // Open it again so the temporary directory can be removed by a user who is not root.
      chmodSync(path.join(s.importDir, 'closed'), 0o755);
    }

    assert.equal(res.code, 1, res.stderr);
    const lines = events(res.stdout) as { event?: string; file?: string; reason?: string }[];
    assert.match(String(lines.find((l) => l.event === 'upload.failed' && l.file === 'perm/locked.txt')?.reason), /not readable by this user/);
    assert.ok(lines.some((l) => l.event === 'watch.error' && l.file === 'closed'), 'the unreadable directory is reported');
    everyFileOnce(s.emu, ['perm/readable.txt']);
  });
});

/** `run` with [http] listen on a free port, stopped after the test: the process, its base URL and port. */
async function runServing(t: TestContext, s: Setup): Promise<{ run: ReturnType<typeof spawnCli>; base: string; port: string }> {
  const run = spawnCli(['--config', s.configFile, 'run'], s.env);
  t.after(async () => {
    run.child.kill('SIGTERM');
    await run.exited;
  });
  const listening = await waitFor(() => events(run.stdout()).find((e) => e.event === 'http.listening') as { port?: number } | undefined, 15_000, 'the HTTP server');
  const port = String(listening.port ?? 0);
  return { run, base: `http://127.0.0.1:${port}`, port };
}

describe('health and metrics over HTTP', () => {
  it('serves /healthz, /readyz (200 once the walk is done) and /metrics with files by state, and no key', async (t) => {
    const s = await setup(t, { http: { listen: '127.0.0.1:0' } });
    put(s.importDir, 'm/a.txt');
    put(s.importDir, 'm/b.txt');

    const { run, base, port } = await runServing(t, s);
    const health = await fetch(`${base}/healthz`);
    await waitFor(() => (s.emu.model.tree().filter((d) => d.state === 'ok').length === 2 ? true : undefined), 15_000, 'two uploads');
    await waitFor(() => (events(run.stdout()).filter((e) => e.event === 'upload.ok').length === 2 ? true : undefined), 15_000, 'two ok lines');
    const ready = await fetch(`${base}/readyz`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    writeFileSync(s.configFile, readFileSync(s.configFile, 'utf8').replace('listen = 127.0.0.1:0', `listen = 127.0.0.1:${port}`));
    const healthCli = await runCli(['--config', s.configFile, 'health'], { env: s.env });
    const readyCli = await runCli(['--config', s.configFile, 'health', '--ready'], { env: s.env });
    const missing = await fetch(`${base}/nope`);

    assert.equal(health.status, 200);
    assert.equal(ready.status, 200, JSON.stringify(await ready.clone().json()));
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
    assert.match(metrics, /^galaxy_importd_files\{state="ok"\} 2$/m);
    assert.match(metrics, /^galaxy_importd_uploads_total\{result="ok"\} 2$/m);
    assert.match(metrics, /^galaxy_importd_galaxy_request_duration_seconds_count\{outcome="ok"\} \d+$/m);
    assert.match(metrics, /^galaxy_importd_upload_latency_seconds_count 2$/m);
    assert.match(metrics, /^galaxy_importd_queue_depth 0$/m);
    assert.match(metrics, /^galaxy_importd_ready 1$/m, 'as /readyz, whose answer from Galaxy it takes');
    assert.match(metrics, /^galaxy_importd_paused\{reason="key"\} 0$/m);
    assert.match(metrics, /^galaxy_importd_ledger_available 1$/m);
    assert.equal(metrics.includes(s.emu.adminKey), false);
    assert.equal(missing.status, 404);
    assert.equal(healthCli.code, 0, healthCli.stderr);
    assert.match(healthCli.stdout, /\/healthz: 200 \{"status":"ok"\}/);
    assert.equal(readyCli.code, 0, readyCli.stderr);
  });

  it('serves the status page at /: health, files by state and folder, the latest failure with Galaxy\'s reason, as headless Chromium shows it', { skip: chromium() === null ? "needs Debian's chromium (apt-get install chromium), which .ci/run installs" : false }, async (t) => {
    const s = await setup(t, { http: { listen: '127.0.0.1:0' } });
    s.emu.addJobFaults({ match: 'bad\\.txt$', outcome: 'dataset-error', message: 'checksum mismatch <in transfer>' });
    put(s.importDir, 'runA/a.txt');
    put(s.importDir, 'runA/b.txt');
    put(s.importDir, 'runB/bad.txt');

    const { run, base } = await runServing(t, s);
    const url = `${base}/`;
    await waitFor(() => (events(run.stdout()).filter((e) => e.event === 'upload.ok' || e.event === 'upload.failed').length === 3 ? true : undefined), 30_000, 'two ok, one failed');
    const plain = await fetch(url);
    const browser = path.join(tempDir(t, 'importd-chromium-'), 'profile');
    const shot = path.join(path.dirname(browser), 'status.png');
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${browser}`, '--window-size=1200,900'];
    const dom = spawnSync(chromium() ?? '', [...flags, '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
    const png = spawnSync(chromium() ?? '', [...flags, `--screenshot=${shot}`, url], { encoding: 'utf8', timeout: 60_000 });

    assert.equal(plain.status, 200);
    assert.match(plain.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(dom.status, 0, dom.stderr);
    const text = dom.stdout;
    assert.match(text, /<div class="health ok" id="health">Ready/);
    assert.match(text, /<td class="n state-ok">2<\/td>/);
    assert.match(text, /<td>Imports<\/td><td>\/runA<\/td>/);
    assert.match(text, /<td>runB\/bad\.txt<\/td><td class="reason">[^<]*checksum mismatch &lt;in transfer&gt;/, 'the failure with Galaxy\'s reason, escaped');
    assert.equal(text.includes(s.emu.adminKey), false, 'never the key');
    assert.equal(png.status, 0, png.stderr);
    assert.ok(readFileSync(shot).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG screenshot');
  });

  it('health exits 1 when no daemon answers, and 2 when the HTTP server is off', async (t) => {
    const s = await setup(t, { http: { listen: '127.0.0.1:9' } });
    const off = await setup(t);

    const none = await runCli(['--config', s.configFile, 'health'], { env: s.env });
    const disabled = await runCli(['--config', off.configFile, 'health'], { env: off.env });

    assert.equal(none.code, 1);
    assert.match(none.stderr, /no answer from http:\/\/127.0.0.1:9\/healthz/);
    assert.equal(disabled.code, 2);
    assert.match(disabled.stderr, /\[http\] listen is empty/);
  });

  it('answers /readyz with 503 and the reason while Galaxy refuses the key', async (t) => {
    const s = await setup(t, { http: { listen: '127.0.0.1:0' } });
    put(s.importDir, 'm/a.txt');

    const run = spawnCli(['--config', s.configFile, 'run'], { GALAXY_API_KEY: s.emu.userKey });
    t.after(async () => {
      run.child.kill('SIGTERM');
      await run.exited;
    });
    const listening = await waitFor(() => events(run.stdout()).find((e) => e.event === 'http.listening') as { port?: number } | undefined, 15_000, 'the HTTP server');
    await waitFor(() => (events(run.stdout()).some((e) => e.event === 'galaxy.key_refused') ? true : undefined), 15_000, 'the refusal');
    const ready = await fetch(`http://127.0.0.1:${listening.port ?? 0}/readyz`);
    const body = (await ready.json()) as { reasons: string[] };

    assert.equal(ready.status, 503);
    assert.ok(body.reasons.some((r) => r.startsWith('Galaxy refuses the API key: 403')), body.reasons.join('; '));
  });

  it('a key rotated in Galaxy and written into api_key_file is taken on SIGHUP: uploads resume, nothing lost or doubled, no key in the log', async (t) => {
    const root = tempDir(t, 'importd-key-');
    const keyFile = path.join(root, 'api_key');
    const s = await setup(t, { galaxy: { api_key_file: keyFile } });
    writeFileSync(keyFile, `${s.emu.adminKey}\n`);
    put(s.importDir, 'm/a.txt');
    const run = running(t, s, {});
    await okIn(run, 'm/a.txt');
    // The admin's key replaced in Galaxy (User → Preferences → Manage API Key): the old one is refused.
    const admin = [...s.emu.model.users.values()].find((u) => u.admin);
    assert.ok(admin);
    const oldKey = admin.key;
    const newKey = 'f'.repeat(32);
    admin.key = newKey;
    put(s.importDir, 'm/b.txt');
    const refused = await waitFor(() => events(run.stdout()).find((e) => e.event === 'galaxy.key_refused') as { fix?: string } | undefined, 15_000, 'the refusal');
    assert.match(refused.fix ?? '', new RegExp(`write the admin user's current key into ${keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: galaxy-importd reads it again before each probe \\(once a minute\\) and at once on SIGHUP`));

    writeFileSync(keyFile, `${newKey}\n`);
    run.child.kill('SIGHUP');
    await okIn(run, 'm/b.txt');

    const seen = events(run.stdout()).map((e) => e.event);
    assert.ok(seen.indexOf('galaxy.key_reloaded') > seen.indexOf('galaxy.key_refused'));
    assert.ok(seen.indexOf('galaxy.key_ok') > seen.indexOf('galaxy.key_reloaded'));
    everyFileOnce(s.emu, ['m/a.txt', 'm/b.txt']);
    assert.equal(run.stdout().includes(oldKey) || run.stdout().includes(newKey) || run.stderr().includes(newKey), false, 'neither key is logged');
  });

  it('a key from $GALAXY_API_KEY that Galaxy refuses: the log says to restart with the new key, not to reload', async (t) => {
    const s = await setup(t);
    put(s.importDir, 'm/a.txt');
    const run = running(t, s, { GALAXY_API_KEY: s.emu.userKey });
    const refused = await waitFor(() => events(run.stdout()).find((e) => e.event === 'galaxy.key_refused') as { fix?: string } | undefined, 15_000, 'the refusal');
    assert.match(refused.fix ?? '', /the key comes from \$GALAXY_API_KEY, which a running process cannot read again: set the admin user's current key there and restart galaxy-importd \(systemctl restart galaxy-importd/);
  });

  it('the key\'s user demoted from admin while run runs: uploads pause, saying so; made admin again, SIGHUP resumes them at once, nothing lost or doubled', async (t) => {
    const s = await setup(t);
    put(s.importDir, 'm/a.txt');
    const run = running(t, s, s.env);
    await okIn(run, 'm/a.txt');
    const admin = [...s.emu.model.users.values()].find((u) => u.admin);
    assert.ok(admin);
    admin.admin = false;
    put(s.importDir, 'm/b.txt');
    const refused = await waitFor(() => events(run.stdout()).find((e) => e.event === 'galaxy.key_refused') as { reason?: string } | undefined, 15_000, 'the refusal');
    admin.admin = true;
    run.child.kill('SIGHUP');
    await okIn(run, 'm/b.txt');

    assert.match(refused.reason ?? '', /^403 /);
    assert.equal(events(run.stdout()).filter((e) => e.event === 'galaxy.key_ok').length, 1);
    everyFileOnce(s.emu, ['m/a.txt', 'm/b.txt']);
  });
});
