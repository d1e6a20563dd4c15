import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { systemClock } from '../../src/clock.js';
import { readGalaxyPath } from '../../src/config/galaxy-config.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { bedLines, freePort, runCli, seedSession, spawnCli, waitFor } from '../helpers.js';
import {
  assertEachOnceOk, datasetDetails, datasets, events, fastq, fileSize, get, gx, galaxyServer, librariesNamed, NO_GALAXY, scenario,
} from './galaxy.js';
import { fidelity } from './fidelity.js';
import type { Library } from './galaxy.js';
import { gzipSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';

// The real-Galaxy suite: the built CLI as a child process, real files in Galaxy's
// library_import_dir, every verdict read from the real Galaxy's API. One file, because the
// scenarios share Galaxy's single import directory and so run one after another.

/**
 * Which scenarios run, by letter (6 is fidelity): GALAXY_IMPORTD_TEST_GALAXY_SCENARIOS=a,b,e (.ci/run
 * names them for the production-shaped Galaxy), or the core with GALAXY_IMPORTD_TEST_GALAXY_CORE=1
 * (an older release); every one when neither is set.
 */
const CORE = ['a', 'b', 'e', 'g', 'm', 'o', 'p', 'q'];
const CHOSEN = process.env.GALAXY_IMPORTD_TEST_GALAXY_SCENARIOS?.split(',').map((x) => x.trim()) ?? (process.env.GALAXY_IMPORTD_TEST_GALAXY_CORE === '1' ? CORE : null);
export function scenarioOptions(letter: string): { timeout: number; skip: string | false } {
  const skip = CHOSEN === null || CHOSEN.includes(letter) ? false : `this run chose the scenarios ${CHOSEN.join(', ')} (GALAXY_IMPORTD_TEST_GALAXY_SCENARIOS, or the core with GALAXY_IMPORTD_TEST_GALAXY_CORE=1, on an older release)`;
  return { timeout: 15 * 60_000, skip };
}

describe('a real Galaxy', { skip: NO_GALAXY }, () => {
  it('a. replays the seed session with the api commands', scenarioOptions('a'), async (t) => {
    const s = scenario(t, 'seed');
    const bed2 = bedLines(68, 1000);
    const bed3 = bedLines(40, 5000);
    s.put('bed/2.bed', bed2);
    s.put('bed/3.bed', bed3);
    const api = async (...args: string[]): Promise<string> => {
      const res = await runCli(['api', ...args], { env: s.env });
      assert.equal(res.code, 0, `api ${args.join(' ')} failed: ${res.stderr}`);
      assert.equal(res.stdout.includes(s.g.adminKey), false, 'the key is never printed');
      return res.stdout;
    };
    const url = `${s.g.url}/api/libraries`;
    // Galaxy behind a proxy under a path (the production shape: /galaxy): the api commands name a
    // member by the request's path, prefix included; Galaxy's own url fields leave it out.
    const prefix = new URL(s.g.url).pathname.replace(/\/+$/, '');
    const before = await get<Library[]>('/api/libraries');

    const { listedFirst, created, libId, listed, shown, contentsUrl, contents, rootId, folder, folderId, upload } = await seedSession(api, url, s.library);
    const ids = [...upload.matchAll(/^ {2}name: (\d\.bed)\n {2}id: ([0-9a-f]{16})$/gm)].map((m) => [m[1], m[2]] as const);
    const shownDatasets = await waitFor(async () => {
      const out = await Promise.all(ids.map(async ([, id]) => api('display', `${contentsUrl}/${id}`)));
      // An ok dataset is read again until its blurb is there: a production-shaped Galaxy once
      // answered state ok, its metadata set and its peek and blurb still None (docs/galaxy-notes.md).
      const done = (o: string): boolean => /^state: error$/m.test(o) || (/^state: ok$/m.test(o) && !/^misc_blurb: None$/m.test(o));
      return out.every(done) ? out : undefined;
    }, 5 * 60_000, 'the uploaded datasets to be ok, with their blurbs');
    const after = await api('display', contentsUrl);

    if (before.length === 0) assert.equal(listedFirst, 'Collection Members\n------------------\n\n0 elements in collection\n');
    else for (const l of before) assert.match(listedFirst, new RegExp(`^${prefix}/api/libraries/${l.id}$`, 'm'));
    assert.match(created, new RegExp(`^Response\n--------\n${prefix}/api/libraries/${libId}\n {2}name: ${s.library}\n`));
    assert.match(listed, new RegExp(`^${prefix}/api/libraries/${libId}\n {2}name: ${s.library}\n`, 'm'));
    assert.match(shown, /^Member Information\n------------------\n/);
    assert.match(shown, /^description: API Test Library$/m);
    assert.match(shown, new RegExp(`^name: ${s.library}$`, 'm'));
    assert.match(contents, new RegExp(`^/api/libraries/${libId}/contents/${rootId}\n {2}name: /\n {2}type: folder\n`, 'm'));
    assert.match(folder, new RegExp(`^Response\n--------\n/api/libraries/${libId}/contents/${folderId}\n {2}name: api_test_folder1\n`));
    assert.deepEqual(ids.map(([n]) => n).sort(), ['2.bed', '3.bed']);
    for (const name of ['/', '/api_test_folder1', '/api_test_folder1/2.bed', '/api_test_folder1/3.bed']) {
      assert.match(after, new RegExp(`^ {2}name: ${name.replaceAll('.', '\\.')}$`, 'm'), name);
    }
    const byName = new Map(ids.map(([n], i) => [n, shownDatasets[i] ?? ''] as const));
    for (const [name, content, regions] of [['2.bed', bed2, 68], ['3.bed', bed3, 40]] as const) {
      const d = byName.get(name) ?? '';
      assert.match(d, /^Member Information\n/);
      assert.match(d, /^state: ok$/m, `${name}: ${d}`);
      assert.match(d, new RegExp(`^name: ${name.replace('.', '\\.')}$`, 'm'));
      assert.match(d, /^data_type: galaxy\.datatypes\.interval\.Bed$/m);
      assert.match(d, /^genome_build: hg19$/m);
      assert.match(d, new RegExp(`^file_size: ${Buffer.byteLength(content)}$`, 'm'));
      assert.match(d, new RegExp(`^misc_blurb: ${regions} regions`, 'm'));
      assert.match(d, new RegExp(`^metadata_data_lines: ${regions}$`, 'm'));
      assert.match(d, /^metadata_columns: 6$/m);
      assert.match(d, /^metadata_chromCol: 1$/m);
      assert.match(d, /^metadata_strandCol: 6$/m);
      assert.match(d, /^uploaded_by: admin@example\.org$/m);
    }
  });

  it('b. scan of a backlog: each file once, in its folder, ok, with its size and datatype; [folder:NAME] overrides', scenarioOptions('b'), async (t) => {
    const s = scenario(t, 'backlog');
    const other = `${s.library} lab B`;
    s.writeConfig({
      'folder:labB': { library: other, folder: '/projects/labB', dbkey: 'hg38', tags: 'run42, sequencer' },
      'folder:forced': { file_type: 'bed', dbkey: 'hg19' },
    });
    const expected: { rel: string; lib: string; at: string; ext: string; dbkey: string; full?: string }[] = [];
    const add = (rel: string, content: string | Buffer, lib: string, at: string, ext: string, dbkey = '?'): void => {
      expected.push({ rel, lib, at, ext, dbkey, full: s.put(rel, content) });
    };
    for (let i = 0; i < 10; i++) add(`runA/regions_${i}.bed`, bedLines(5 + i, i * 1000), s.library, `/runA/regions_${i}.bed`, 'bed');
    for (let i = 0; i < 8; i++) add(`runA/sample1/reads_${i}.fastq`, fastq(4 + i, i), s.library, `/runA/sample1/reads_${i}.fastq`, 'fastqsanger');
    for (let i = 0; i < 4; i++) add(`runA/sample1/reads_${i}.fastq.gz`, gzipSync(fastq(6, 100 + i)), s.library, `/runA/sample1/reads_${i}.fastq.gz`, 'fastqsanger.gz');
    for (let i = 0; i < 10; i++) add(`runA/sample2/lane_${i}.fastq`, fastq(3, 200 + i), s.library, `/runA/sample2/lane_${i}.fastq`, 'fastqsanger');
    for (let i = 0; i < 6; i++) add(`runA/qc/notes_${i}.txt`, `QC notes ${i}\nall good\n`, s.library, `/runA/qc/notes_${i}.txt`, 'txt');
    for (let i = 0; i < 8; i++) add(`labB/table_${i}.tsv`, `gene\tcount\tlen\nBRCA${i}\t${i * 10}\t${i * 3}\nTP53\t4\t5\n`, other, `/projects/labB/table_${i}.tsv`, 'tabular', 'hg38');
    for (let i = 0; i < 4; i++) add(`labB/deep/er/readme_${i}.txt`, `read me ${i}\n`, other, `/projects/labB/deep/er/readme_${i}.txt`, 'txt', 'hg38');
    for (let i = 0; i < 10; i++) add(`forced/peaks_${i}.dat`, bedLines(3, 50 + i), s.library, `/forced/peaks_${i}.dat`, 'bed', 'hg19');

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const mine = await datasets(s.library);
    const theirs = await datasets(other);

    assert.equal(scan.code, 0, `${scan.stderr}\n${scan.stdout.slice(-3000)}`);
    assert.match(scan.stderr, new RegExp(`scan: ${expected.length} ok, 0 failed in this scan`));
    assertEachOnceOk(mine, expected.filter((e) => e.lib === s.library).map((e) => e.at), s.library);
    assertEachOnceOk(theirs, expected.filter((e) => e.lib === other).map((e) => e.at), other);
    const [lib] = await librariesNamed(s.library);
    const [libB] = await librariesNamed(other);
    const tagged: string[][] = [];
    for (const e of expected) {
      const d = [...mine, ...theirs].find((x) => x.path === e.at && (e.lib === s.library ? mine : theirs).includes(x));
      assert.ok(d, e.at);
      assert.equal(d.size, fileSize(e.full ?? ''), `${e.at}: Galaxy's size is the file's`);
      assert.equal(d.ext, e.ext, `${e.at}: datatype`);
      const details = await datasetDetails((e.lib === s.library ? lib : libB)?.id ?? '', d.id);
      assert.equal(details.genome_build, e.dbkey, `${e.at}: dbkey`);
      if (e.lib === other) tagged.push((details.tags as string[]).sort());
    }
    // Galaxy's fetch API takes tags on library items but does not apply them: the daemon
    // applies [folder:NAME] tags itself once the dataset is ok.
    for (const tags of tagged) assert.deepEqual(tags, ['run42', 'sequencer']);
    // Folders due together go as one request, a target each: fewer Galaxy jobs than folders.
    const oks = events(scan.stdout).filter((e) => e.event === 'upload.ok');
    const folders = new Set(oks.map((e) => `${String(e.library)}:${String(e.folder)}`));
    const jobs = new Set(oks.map((e) => e.job_id));
    assert.equal(folders.size, 7);
    assert.ok(jobs.size < folders.size, `${jobs.size} jobs for ${folders.size} folders`);
    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    assert.equal(second.code, 0);
    assert.equal(events(second.stdout).filter((e) => e.event === 'upload.submitted').length, 0, 'a second scan uploads nothing');
  });

  it('i. check and run with a wrong key, with a non-admin key, and check with the admin key', scenarioOptions('i'), async (t) => {
    const s = scenario(t, 'keys');
    s.put('keys/a.txt', 'a\n');

    const good = await runCli(['--config', s.configFile, 'check'], { env: s.env });
    const wrong = await runCli(['--config', s.configFile, 'check'], { env: { GALAXY_API_KEY: '0123456789abcdef0123456789abcdef' } });
    const user = await runCli(['--config', s.configFile, 'check'], { env: { GALAXY_API_KEY: s.g.userKey } });
    const scanWrong = await runCli(['--config', s.configFile, 'scan'], { env: { GALAXY_API_KEY: '0123456789abcdef0123456789abcdef' } });
    const scanUser = await runCli(['--config', s.configFile, 'scan'], { env: { GALAXY_API_KEY: s.g.userKey } });
    const run = spawnCli(['--config', s.configFile, 'run'], { GALAXY_API_KEY: s.g.userKey });
    t.after(() => run.child.kill('SIGKILL'));
    const refused = await waitFor(() => events(run.stdout()).find((e) => e.event === 'galaxy.key_refused'), 60_000, 'run to say the key is refused');
    await new Promise((r) => setTimeout(r, 3000));
    run.child.kill('SIGTERM');
    const exit = await run.exited;

    assert.equal(good.code, 0, good.stdout);
    assert.match(good.stdout, new RegExp(`^ok {4}Galaxy ${s.g.version.split('.').slice(0, 2).join('\\.')} answers at `, 'm'));
    assert.match(good.stdout, /^ok {4}the key belongs to admin@example\.org, an admin$/m);
    assert.match(good.stdout, new RegExp(`^ok {4}Galaxy's library_import_dir is the watched directory \\(${s.importDir.replaceAll('/', '\\/')}\\)$`, 'm'));
    assert.match(good.stdout, /^all checks passed$/m);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /^FAIL .*401 .*Provided API key is not valid/m);
    assert.equal(user.code, 1);
    assert.match(user.stdout, /^FAIL {2}the key belongs to user@example\.org, who is not an admin$/m);
    assert.equal(scanWrong.code, 1);
    assert.match(scanWrong.stderr, /Galaxy refuses the API key: 401 Provided API key is not valid/);
    assert.equal(scanUser.code, 1);
    assert.match(scanUser.stderr, /Galaxy refuses the API key: 403 /);
    assert.match(String(refused.reason), /^403 /);
    assert.equal(events(run.stdout()).filter((e) => e.event === 'galaxy.key_refused').length, 1, 'said once, not in a loop');
    assert.equal(exit.code, 0);
    for (const out of [good, wrong, user, scanWrong, scanUser]) {
      assert.equal(`${out.stdout}${out.stderr}`.includes(s.g.adminKey), false);
      assert.equal(`${out.stdout}${out.stderr}`.includes(s.g.userKey), false);
    }
    assert.equal(run.stdout().includes(s.g.userKey), false);
    assert.deepEqual(await datasets(s.library), [], 'nothing uploaded with a refused key');
  });

  it('c. run live: a slow writer, an rsync copy under its temporary name, a file renamed into place: each once, complete', scenarioOptions('c'), async (t) => {
    const s = scenario(t, 'live');
    s.writeConfig({ import: { settle_seconds: 2 } });
    mkdirSync(path.join(s.importDir, 'live'), { recursive: true });
    const run = spawnCli(['--config', s.configFile, 'run'], s.env);
    t.after(() => run.child.kill('SIGKILL'));
    await waitFor(() => events(run.stdout()).find((e) => e.event === 'daemon.ready'), 60_000, 'daemon.ready');

    // A slow writer: 12 chunks, one every 500 ms (longer than settle_seconds in all, never idle that long).
    const slow = path.join(s.importDir, 'live', 'slow.fastq');
    const chunk = fastq(50, 7);
    const fd = openSync(slow, 'w');
    for (let i = 0; i < 12; i++) {
      writeSync(fd, chunk);
      await new Promise((r) => setTimeout(r, 500));
    }
    closeSync(fd);
    // rsync writes .NAME.XXXXXX, then renames it to NAME.
    const tmp = s.put('live/.copied.bed.Xa81Qz', bedLines(30, 9));
    await new Promise((r) => setTimeout(r, 3000));
    renameSync(tmp, path.join(s.importDir, 'live', 'copied.bed'));
    // A producer that writes NAME.part and renames it when done.
    const part = s.put('live/renamed.txt.part', 'written in one go, then renamed\n');
    await new Promise((r) => setTimeout(r, 3000));
    renameSync(part, path.join(s.importDir, 'live', 'renamed.txt'));
    const expected = ['/live/slow.fastq', '/live/copied.bed', '/live/renamed.txt'];
    const found = await waitFor(async () => {
      const d = await datasets(s.library);
      return d.filter((x) => x.state === 'ok').length >= expected.length ? d : undefined;
    }, 5 * 60_000, 'the three files ok in Galaxy');
    await new Promise((r) => setTimeout(r, 3000));
    run.child.kill('SIGTERM');
    const exit = await run.exited;

    assertEachOnceOk(await datasets(s.library), expected);
    for (const d of found) assert.equal(d.size, fileSize(path.join(s.importDir, 'live', d.name)), `${d.name} complete`);
    const submitted = events(run.stdout()).filter((e) => e.event === 'upload.submitted').map((e) => e.file).sort();
    assert.deepEqual(submitted, ['live/copied.bed', 'live/renamed.txt', 'live/slow.fastq'], 'no temporary name is ever sent, each file once');
    const log = events(run.stdout()) as { event?: string; folder?: string }[];
    const made = log.findIndex((e) => e.event === 'folder.created' && e.folder === '/live');
    assert.ok(made >= 0 && made < log.findIndex((e) => e.event === 'file.ready'), 'the folder /live is made while its first file settles, before any file is ready');
    assert.equal(exit.code, 0);
  });

  it("d. a file Galaxy refuses, in a batch with good ones: only it fails, with Galaxy's message; fixed and retried, it is imported", scenarioOptions('d'), async (t) => {
    const s = scenario(t, 'refused');
    for (const n of ['one', 'two', 'three']) s.put(`mixed/${n}.txt`, `${n}\n`);
    // Another folder's file, due with them: one request holds both folders' files.
    s.put('other/four.txt', 'four\n');
    const page = s.put('mixed/page.txt', '<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n');

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const failed = await runCli(['--config', s.configFile, 'status', '--failed'], { env: s.env });
    const afterFirst = await datasets(s.library);
    writeFileSync(page, 'plain text now\n');
    const retry = await runCli(['--config', s.configFile, 'retry', 'mixed/page.txt'], { env: s.env });
    const again = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const final = (await datasets(s.library)).filter((d) => d.state === 'ok');

    assert.equal(scan.code, 1, scan.stderr);
    assert.match(scan.stderr, /scan: 4 ok, 1 failed in this scan/);
    assert.match(failed.stdout, /"mixed\/page\.txt": .*The uploaded file contains invalid HTML content/);
    assert.deepEqual(afterFirst.filter((d) => d.state === 'ok').map((d) => d.path).sort(), ['/mixed/one.txt', '/mixed/three.txt', '/mixed/two.txt', '/other/four.txt']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(again.code, 0, again.stderr);
    assertEachOnceOk(final, ['/mixed/one.txt', '/mixed/page.txt', '/mixed/three.txt', '/mixed/two.txt', '/other/four.txt']);
    assert.equal(final.find((d) => d.name === 'page.txt')?.size, fileSize(page));
    assert.deepEqual(events(again.stdout).filter((e) => e.event === 'upload.submitted').map((e) => e.file), ['mixed/page.txt'], 'only the fixed file is sent again');
  });

  it('e. kill -9 of run three times during uploads, then a restart: every file once', scenarioOptions('e'), async (t) => {
    const s = scenario(t, 'kill');
    // At 5 request starts a second (the default before issue 29), so that each round still has uploads on their way when it is killed.
    s.writeConfig({ upload: { batch_size: 4, concurrency: 2, rate_per_second: 5 } });
    const expected: string[] = [];
    for (const d of ['k1', 'k2', 'k3']) {
      for (let i = 0; i < 10; i++) {
        s.put(`${d}/f${i}.txt`, `${d} file ${i}\n`);
        expected.push(`/${d}/f${i}.txt`);
      }
    }
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      const run = spawnCli(['--config', s.configFile, 'run'], s.env);
      // Kill it while it has an upload on its way: after a request was sent (or an interrupted one taken up), before Galaxy finished it.
      // Or confirmed: a round that finds every request already sent takes up the jobs the last one left.
      await waitFor(() => (events(run.stdout()).some((e) => e.event === 'upload.submitted' || e.event === 'upload.recovered' || e.event === 'upload.ok') ? true : undefined), 120_000, `round ${round}: an upload sent`);
      await new Promise((r) => setTimeout(r, 1500 + round * 2000));
      run.child.kill('SIGKILL');
      await run.exited;
      kills++;
    }
    const finish = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const found = await datasets(s.library);

    assert.equal(kills, 3);
    assert.equal(finish.code, 0, `${finish.stderr}\n${finish.stdout.slice(-3000)}`);
    assertEachOnceOk(found, expected);
  });

  it('f. Galaxy stopped and started again while run has uploads in flight: nothing lost or doubled; /readyz names Galaxy as unreachable', scenarioOptions('f'), async (t) => {
    const s = scenario(t, 'restart');
    const port = await freePort();
    s.writeConfig({ upload: { batch_size: 5 }, http: { listen: `127.0.0.1:${port}` } });
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      s.put(`r${i % 2}/f${i}.txt`, `file ${i}\n`);
      expected.push(`/r${i % 2}/f${i}.txt`);
    }
    const run = spawnCli(['--config', s.configFile, 'run'], s.env);
    t.after(() => run.child.kill('SIGKILL'));
    t.after(() => galaxyServer('serve', true));
    await waitFor(() => (events(run.stdout()).some((e) => e.event === 'upload.submitted') ? true : undefined), 120_000, 'an upload sent');
    // Halted while a job of the run is running: the restart kills it (the local runner's recover()), and it must go again.
    await waitFor(async () => ((await get<{ state: string }[]>('/api/jobs?state=running&limit=20')).length > 0 ? true : undefined), 120_000, 'a job running');

    galaxyServer('halt');
    const down = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      const body = await r.text();
      return r.status === 503 && /Galaxy is not reachable/.test(body) ? body : undefined;
    }, 30_000, '/readyz to say Galaxy is unreachable');
    await new Promise((r) => setTimeout(r, 5000));
    galaxyServer('serve');
    try {
      await waitFor(async () => {
        const d = await datasets(s.library);
        return d.filter((x) => x.state === 'ok').length >= expected.length ? true : undefined;
      }, 10 * 60_000, 'every file ok after Galaxy came back');
    } catch (err) {
      // What the daemon did meanwhile, so that a failure here says why (it has timed out once in CI, cause unknown).
      const said = events(run.stdout());
      const counts: Record<string, number> = {};
      for (const e of said) counts[String(e.event)] = (counts[String(e.event)] ?? 0) + 1;
      const line = (e: Record<string, unknown>): string => JSON.stringify([e.time, e.event, e.file ?? e.job_id, e.reason ?? e.err ?? e.msg]).slice(0, 400);
      const failed = said.filter((e) => /failed|split|interrupted/.test(String(e.event))).map(line);
      const notable = said.filter((e) => /retry|error|paused|unusable|key_refused/.test(String(e.event))).slice(-10).map(line);
      throw new Error(`${(err as Error).message}; the daemon's events: ${JSON.stringify(counts)}; its failures and splits:\n${failed.join('\n')}\nthe last retries and errors:\n${notable.join('\n')}`, { cause: err });
    }
    // The daemon's polls back off while Galaxy is down (up to 7.5 s apart, or a fifth of a job's run): it sees the jobs end a little later.
    await waitFor(() => (events(run.stdout()).filter((e) => e.event === 'upload.ok').length >= expected.length ? true : undefined), 120_000, 'the daemon to confirm every file');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    run.child.kill('SIGTERM');
    await run.exited;
    const status = await runCli(['--config', s.configFile, 'status', '--json'], { env: s.env });

    // Without a proxy nothing answers; behind one (the production shape), the proxy's own page.
    assert.match(down, /Galaxy is not reachable: (No answer from Galaxy to GET \/api\/version: ECONNREFUSED|Galaxy answered 502 to GET \/galaxy\/api\/version: \\"Galaxy is down\\" \(text\/html\))/);
    assert.equal(ready.status, 200);
    assertEachOnceOk((await datasets(s.library)).filter((d) => d.name !== 'Unnamed dataset'), expected);
    assert.equal((JSON.parse(status.stdout) as { states: Record<string, number> }).states.ok, expected.length, status.stdout);
    // A job the restart killed goes again whole (upload.retry), neither split nor failed.
    const said = events(run.stdout());
    assert.deepEqual(said.filter((e) => e.event === 'upload.failed' || e.event === 'upload.split').map((e) => [e.event, e.file, e.reason]), []);
    t.diagnostic(`jobs killed by the restart, sent again: ${new Set(said.filter((e) => e.event === 'upload.retry' && /a restart kills/.test(String(e.reason))).map((e) => String(e.reason).split(' ')[2])).size}`);
  });

  it('g. the state directory deleted: the next scan rebuilds from Galaxy and uploads nothing', scenarioOptions('g'), async (t) => {
    const s = scenario(t, 'rebuild');
    const expected: string[] = [];
    for (let i = 0; i < 6; i++) {
      s.put(`g${i % 2}/sample_${i}.fastq.gz`, gzipSync(fastq(5, i)));
      s.put(`g${i % 2}/regions_${i}.bed`, bedLines(4, i));
      expected.push(`/g${i % 2}/sample_${i}.fastq.gz`, `/g${i % 2}/regions_${i}.bed`);
    }
    const first = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    rmSync(s.stateDir, { recursive: true, force: true });

    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const status = await runCli(['--config', s.configFile, 'status', '--json'], { env: s.env });

    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(events(second.stdout).filter((e) => e.event === 'upload.submitted').length, 0, 'nothing uploaded again');
    assert.equal(events(second.stdout).filter((e) => e.event === 'upload.ok' && e.reason === 'already in Galaxy').length, expected.length);
    assert.equal((JSON.parse(status.stdout) as { states: Record<string, number> }).states.ok, expected.length);
    assertEachOnceOk(await datasets(s.library), expected);
  });

  it("h. what an admin does in Galaxy's UI between two runs: the upload history purged, a folder deleted, the library renamed", scenarioOptions('h'), async (t) => {
    const s = scenario(t, 'ui');
    s.put('h1/a.txt', 'a\n');
    s.put('h2/b.txt', 'b\n');
    const first = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const [lib] = await librariesNamed(s.library);
    const before = await datasets(s.library);
    const h1 = before.find((d) => d.path === '/h1/a.txt');
    const histories = (await get<{ id: string; name: string }[]>('/api/histories')).filter((h) => h.name.startsWith('galaxy-importd uploads'));
    // The upload history deleted and purged.
    for (const h of histories) assert.equal((await gx('DELETE', `/api/histories/${h.id}?purge=true`)).status, 200);
    // The folder it made for h1 deleted.
    assert.equal((await gx('DELETE', `/api/folders/${h1?.folderId ?? ''}`)).status, 200);
    s.put('h1/c.txt', 'c\n');
    s.put('h2/d.txt', 'd\n');
    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const afterSecond = await datasets(s.library);
    // The library renamed.
    const renamed = `${s.library} (renamed)`;
    assert.equal((await gx('PATCH', `/api/libraries/${lib?.id ?? ''}`, { body: { name: renamed } })).status, 200);
    t.after(async () => void (await gx('PATCH', `/api/libraries/${lib?.id ?? ''}`, { body: { name: `${renamed} done` } })));
    s.put('h2/e.txt', 'e\n');
    const third = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const inRenamed = await datasets(renamed);
    const inNew = await datasets(s.library);

    assert.equal(first.code, 0, first.stderr);
    // A purged upload history is replaced by a new one; a deleted folder is made again for new files.
    assert.equal(second.code, 0, `${second.stderr}\n${second.stdout.slice(-3000)}`);
    assertEachOnceOk(afterSecond, ['/h1/c.txt', '/h2/b.txt', '/h2/d.txt']);
    assert.ok(events(second.stdout).some((e) => e.event === 'folder.created' && e.folder === '/h1'), 'the deleted folder made again');
    // A renamed library keeps what it has; the configured name is a new library for new files.
    assert.equal(third.code, 0, `${third.stderr}\n${third.stdout.slice(-3000)}`);
    assertEachOnceOk(inRenamed, ['/h1/c.txt', '/h2/b.txt', '/h2/d.txt'], 'the renamed library');
    assertEachOnceOk(inNew, ['/h2/e.txt'], 'the library of the configured name');
    assert.ok(events(third.stdout).some((e) => e.event === 'library.created'));
  });

  it('j. link_data_only = true: the dataset refers to the original file, which stays; method = paths works on this Galaxy', scenarioOptions('j'), async (t) => {
    const s = scenario(t, 'link');
    s.writeConfig({ 'folder:linked': { link_data_only: true } });
    const linked = s.put('linked/big.fastq', fastq(40, 3));
    const copied = s.put('copied/small.fastq', fastq(4, 4));

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const found = await datasets(s.library);
    const [lib] = await librariesNamed(s.library);
    const l = await datasetDetails(lib?.id ?? '', found.find((d) => d.name === 'big.fastq')?.id ?? '');
    const c = await datasetDetails(lib?.id ?? '', found.find((d) => d.name === 'small.fastq')?.id ?? '');
    s.writeConfig({ upload: { method: 'paths' } });
    s.put('paths/p1.bed', bedLines(6, 1));
    s.put('paths/p2.txt', 'by upload_paths\n');
    const paths = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const all = await datasets(s.library);

    assert.equal(scan.code, 0, scan.stderr);
    assert.equal(l.file_name, linked, 'the linked dataset is the original file');
    assert.notEqual(c.file_name, copied, 'the copied one is in Galaxy\'s own store');
    assert.ok(existsSync(linked) && existsSync(copied), 'the files stay where they are');
    assert.equal(paths.code, 0, `${paths.stderr}\n${paths.stdout.slice(-2000)}`);
    assertEachOnceOk(all, ['/copied/small.fastq', '/linked/big.fastq', '/paths/p1.bed', '/paths/p2.txt']);
  });

  it('k. access: a role sees its library and downloads its datasets with its own key, a user outside sees neither, the admin sees all; check agrees', scenarioOptions('k'), async (t) => {
    const s = scenario(t, 'access');
    const tag = randomBytes(3).toString('hex');
    const post = async <T>(urlPath: string, body: unknown): Promise<T> => {
      const a = await gx('POST', urlPath, { body });
      assert.equal(a.status, 200, `POST ${urlPath}: ${a.status} ${a.text.slice(0, 300)}`);
      return a.json as T;
    };
    // Three users: the admin (the daemon's key), a member of the lab's role, and one outside it.
    const users = await get<{ id: string; email: string }[]>('/api/users');
    const member = users.find((u) => u.email === 'user@example.org');
    assert.ok(member, 'scripts/real-galaxy.sh made user@example.org');
    const role = `lab-k-${tag}`;
    await post('/api/roles', { name: role, description: 'galaxy-importd access test', user_ids: [member.id], group_ids: [] });
    const outsider = await post<{ id: string }>('/api/users', { email: `outsider-${tag}@example.org`, username: `outsider-${tag}`, password: 'importd-test-password' });
    const outsiderKey = await post<string>(`/api/users/${outsider.id}/api_key`, {});
    const labLibrary = `${s.library} lab K`;
    s.writeConfig({
      'folder:labK': { library: labLibrary, access: role },
      'folder:mine': { access: 'user@example.org' },
    });
    s.put('labK/reads.fastq', fastq(5, 7));
    s.put('mine/notes.txt', 'only for user@example.org\n');
    s.put('open/readme.txt', 'for everyone\n');

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const check = await runCli(['--config', s.configFile, 'check'], { env: s.env });

    assert.equal(scan.code, 0, `${scan.stderr}\n${scan.stdout.slice(-3000)}`);
    assert.equal(events(scan.stdout).filter((e) => e.event === 'library.restricted').length, 1, 'the lab\'s library was restricted');
    const [lab] = await librariesNamed(labLibrary);
    assert.ok(lab);
    const labItems = (await get<{ folder_contents: { id: string; name: string; type: string; ldda_id: string; is_unrestricted: boolean }[] }>(`/api/folders/${lab.root_folder_id}/contents`)).folder_contents;
    const labFolder = labItems.find((i) => i.name === 'labK');
    assert.ok(labFolder, `${JSON.stringify(labItems)}`);
    const [reads] = (await get<{ folder_contents: { id: string; name: string; ldda_id: string; is_unrestricted: boolean }[] }>(`/api/folders/${labFolder.id}/contents`)).folder_contents;
    const mine = await datasets(s.library);
    const notes = (await get<{ folder_contents: { id: string; name: string; ldda_id: string; is_unrestricted: boolean }[] }>(`/api/folders/${mine.find((d) => d.name === 'notes.txt')?.folderId ?? ''}/contents`)).folder_contents.find((i) => i.name === 'notes.txt');
    const readme = mine.find((d) => d.name === 'readme.txt');
    assert.ok(reads && notes && readme);
    assert.equal(reads.is_unrestricted, false);
    assert.equal(notes.is_unrestricted, false);
    const sees = async (key: string): Promise<string[]> => ((await gx('GET', '/api/libraries', { key })).json as { name: string }[]).map((l) => l.name);
    const download = async (lddaId: string, key: string): Promise<{ status: number; text: string }> => gx('GET', `/api/datasets/${lddaId}/display?hda_ldda=ldda`, { key });

    // The admin sees both libraries and reads every dataset.
    assert.ok((await sees(s.g.adminKey)).includes(labLibrary));
    assert.equal((await download(reads.ldda_id, s.g.adminKey)).status, 200);
    // The member sees the lab's library and downloads its dataset with their own key.
    assert.ok((await sees(s.g.userKey)).includes(labLibrary), 'the member sees the library');
    const got = await download(reads.ldda_id, s.g.userKey);
    assert.equal(got.status, 200);
    assert.equal(got.text, fastq(5, 7), 'the member downloads the dataset');
    assert.equal((await download(notes.ldda_id, s.g.userKey)).text, 'only for user@example.org\n', 'an email means that user\'s private role');
    // The outsider sees neither the library nor, given its id, the dataset.
    assert.equal((await sees(outsiderKey)).includes(labLibrary), false, 'the outsider does not see the library');
    assert.equal((await gx('GET', `/api/libraries/${lab.id}`, { key: outsiderKey })).status, 404);
    assert.equal((await download(reads.ldda_id, outsiderKey)).status, 403, 'the outsider cannot read the dataset');
    assert.equal((await download(notes.ldda_id, outsiderKey)).status, 403, 'nor the private one in the public library');
    // A folder without access stays readable by all.
    const readmeLdda = (await get<{ folder_contents: { name: string; ldda_id: string }[] }>(`/api/folders/${readme.folderId}/contents`)).folder_contents.find((i) => i.name === 'readme.txt')?.ldda_id ?? '';
    assert.equal((await download(readmeLdda, outsiderKey)).status, 200);
    assert.match(check.stdout, new RegExp(`^ok {4}role "${role}" exists in Galaxy`, 'm'));
    assert.match(check.stdout, new RegExp(`^ok {4}library "${labLibrary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" is restricted to ${role}$`, 'm'));
    assert.doesNotMatch(check.stdout, /readable by everyone/);
  });

  it('l. notify: the folder\'s role is told once its files are ok; the recipient reads it with their own key', scenarioOptions('l'), async (t) => {
    const s = scenario(t, 'notify');
    const users = await get<{ id: string; email: string }[]>('/api/users');
    const member = users.find((u) => u.email === 'user@example.org');
    assert.ok(member);
    const role = `lab-l-${randomBytes(3).toString('hex')}`;
    const made = await gx('POST', '/api/roles', { body: { name: role, description: 'galaxy-importd notify test', user_ids: [member.id], group_ids: [] } });
    assert.equal(made.status, 200, made.text);
    s.writeConfig({ 'folder:run': { notify: role } });
    s.put('run/r1.fastq', fastq(3, 1));
    s.put('run/r2.fastq', fastq(3, 2));
    s.put('other/x.txt', 'not announced\n');

    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const mine = (await gx('GET', '/api/notifications', { key: s.g.userKey })).json as { source: string; content: { subject: string; message: string } }[];
    const admins = (await gx('GET', '/api/notifications')).json as { content: { subject: string } }[];

    assert.equal(scan.code, 0, `${scan.stderr}\n${scan.stdout.slice(-2000)}`);
    assert.equal(events(scan.stdout).filter((e) => e.event === 'notify.sent').length, 1);
    const about = mine.filter((n) => n.content.subject.includes(s.library));
    assert.deepEqual(about.map((n) => [n.source, n.content.subject]), [['galaxy-importd', `2 new files in ${s.library} /run`]]);
    assert.match(about[0]?.content.message ?? '', /^2 files were imported into the data library \*\*.*\*\*, folder \*\*\/run\*\*: r[12]\.fastq, r[12]\.fastq\.$/);
    assert.equal(admins.filter((n) => n.content.subject.includes(s.library)).length, 0, 'only the role\'s users are told');
  });

  it('m. an importing admin with private default permissions: a public folder\'s datasets and a lab\'s are read by a user with their own key; its key rotated while run runs is taken on SIGHUP', scenarioOptions('m'), async (t) => {
    const s = scenario(t, 'importer');
    const tag = randomBytes(3).toString('hex');
    const post = async <T>(urlPath: string, body: unknown, key?: string): Promise<T> => {
      const a = await gx('POST', urlPath, { body, ...(key ? { key } : {}) });
      assert.equal(a.status, 200, `POST ${urlPath}: ${a.status} ${a.text.slice(0, 300)}`);
      return a.json as T;
    };
    // A second admin (admin_users in scripts/real-galaxy.sh), so that admin@example.org keeps its defaults and key.
    const users = await get<{ id: string; email: string }[]>('/api/users');
    const importer = users.find((u) => u.email === 'importer@example.org') ?? await post<{ id: string }>('/api/users', { email: 'importer@example.org', username: 'importer', password: 'importd-test-password' });
    const firstKey = await post<string>(`/api/users/${importer.id}/api_key`, {});
    // Its default permissions made private, as User → Preferences → Set Dataset Permissions does.
    const form = (await gx('GET', `/api/users/${importer.id}/permissions/inputs`, { key: firstKey })).json as { inputs: { name: string; options: [string, number][] }[] };
    const own = form.inputs.find((i) => i.name === 'DATASET_ACCESS')?.options.find(([name]) => name === 'importer@example.org')?.[1];
    assert.ok(own !== undefined, JSON.stringify(form));
    const saved = await gx('PUT', `/api/users/${importer.id}/permissions/inputs`, { key: firstKey, body: { DATASET_ACCESS: [own], DATASET_MANAGE_PERMISSIONS: [own] } });
    assert.equal(saved.status, 200, saved.text);
    const member = users.find((u) => u.email === 'user@example.org');
    assert.ok(member);
    const role = `lab-m-${tag}`;
    await post('/api/roles', { name: role, description: 'galaxy-importd importer test', user_ids: [member.id], group_ids: [] });
    const keyFile = path.join(s.root, 'api_key');
    writeFileSync(keyFile, `${firstKey}\n`);
    s.writeConfig({ galaxy: { url: s.g.url, timeout_seconds: 30, api_key_file: keyFile }, 'folder:lab': { access: role } });
    s.put('open/a.txt', 'for everyone a\n');
    s.put('open/b.txt', 'for everyone b\n');
    s.put('lab/c.txt', 'for the lab\n');

    const check = await runCli(['--config', s.configFile, 'check'], { env: {} });
    const run = spawnCli(['--config', s.configFile, 'run'], {});
    t.after(async () => {
      run.child.kill('SIGTERM');
      await run.exited;
    });
    const okFiles = (): string[] => events(run.stdout()).filter((e) => e.event === 'upload.ok').map((e) => String(e.file));
    await waitFor(() => (okFiles().length === 3 ? true : undefined), 5 * 60_000, 'the first three files');
    // The key replaced in Galaxy while run runs: the old one expires.
    const secondKey = await post<string>(`/api/users/${importer.id}/api_key`, {}, firstKey);
    s.put('open/d.txt', 'for everyone d\n');
    const refused = await waitFor(() => events(run.stdout()).find((e) => e.event === 'galaxy.key_refused'), 5 * 60_000, 'the refusal of the replaced key');
    writeFileSync(keyFile, `${secondKey}\n`);
    run.child.kill('SIGHUP');
    await waitFor(() => (okFiles().includes('open/d.txt') ? true : undefined), 5 * 60_000, 'open/d.txt after SIGHUP');

    assert.match(check.stdout, /^warn {2}the default dataset permissions of importer@example\.org restrict access to importer@example\.org: /m);
    assert.match(String(refused.reason), /^401 .*expired/i);
    assert.match(String(refused.fix), /reads it again before each probe \(once a minute\) and at once on SIGHUP/);
    const seen = events(run.stdout()).map((e) => e.event);
    assert.ok(seen.indexOf('galaxy.key_ok') > seen.indexOf('galaxy.key_reloaded') && seen.indexOf('galaxy.key_reloaded') > seen.indexOf('galaxy.key_refused'), seen.join(' '));
    assert.equal(events(run.stdout()).filter((e) => e.event === 'access.defaults_private').length, 1, 'the private defaults said once');
    const mine = await datasets(s.library);
    assertEachOnceOk(mine, ['/open/a.txt', '/open/b.txt', '/open/d.txt', '/lab/c.txt'], s.library);
    // user@example.org, not an admin, reads each dataset with their own key: the public folder's
    // as the library says (the importer's defaults notwithstanding), the lab's as its member.
    for (const [name, text] of [['a.txt', 'for everyone a\n'], ['b.txt', 'for everyone b\n'], ['d.txt', 'for everyone d\n'], ['c.txt', 'for the lab\n']] as const) {
      const d = mine.find((x) => x.name === name);
      assert.ok(d);
      const item = (await get<{ folder_contents: { id: string; name: string; is_unrestricted: boolean }[] }>(`/api/folders/${d.folderId}/contents`)).folder_contents.find((i) => i.name === name);
      assert.ok(item);
      assert.equal(item.is_unrestricted, name !== 'c.txt', `${name}: is_unrestricted`);
      // The library's own download (it checks that the user may read the dataset): on 24.2.4,
      // /api/datasets/{ldda}/display answers 500 for any library dataset ("no attribute 'purged'").
      const got = await gx('GET', `/api/libraries/datasets/download/uncompressed?ld_ids=${item.id}`, { key: s.g.userKey });
      assert.equal(got.status, 200, `${name}: ${got.status} ${got.text.slice(0, 200)}`);
      assert.equal(got.text, text);
    }
    const after = await runCli(['--config', s.configFile, 'access'], { env: {} });
    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, /^access: the 4 datasets galaxy-importd imported that Galaxy still holds have the access their folders say$/m);
    for (const key of [firstKey, secondKey]) assert.equal(`${run.stdout()}${run.stderr()}${check.stdout}`.includes(key), false, 'no key in the output');
  });

  it('n. Galaxy\'s file_path full (a 3 MB tmpfs): what failed jobs left is deleted, uploads pause; with space again, every file once, whole, and nothing else in the folder', { ...scenarioOptions('n'), skip: scenarioOptions('n').skip || (process.getuid?.() === 0 ? false : 'mounts a tmpfs over Galaxy\'s file_path: needs root (CI runs as root)') }, async (t) => {
    const s = scenario(t, 'full');
    s.writeConfig({ upload: { backoff_max_seconds: 5 } });
    const filePath = readGalaxyPath(path.join(s.g.dir, 'galaxy.yml'), 'file_path');
    assert.ok(filePath, 'scripts/real-galaxy.sh sets file_path');
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', filePath], { encoding: 'utf8' });
    if (mount.status !== 0) return t.skip(`cannot mount a tmpfs here: ${mount.stderr.trim()}`);
    t.after(() => void spawnSync('umount', ['-l', filePath]));
    const names = Array.from({ length: 10 }, (_, i) => `full/f${i}.txt`);
    const sizes = new Map(names.map((n) => [n, fileSize(s.put(n, `${randomBytes(525_000).toString('base64')}\n`))]));

    const first = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const resized = spawnSync('mount', ['-o', 'remount,size=256m', filePath], { encoding: 'utf8' });
    assert.equal(resized.status, 0, resized.stderr);
    const retried = await runCli(['--config', s.configFile, 'retry', '--all-failed'], { env: s.env });
    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });

    assert.equal(first.code, 1, first.stderr);
    const left = events(first.stdout).filter((e) => e.event === 'upload.leftover_deleted');
    assert.ok(left.length > 0, `the failed jobs' datasets were deleted: ${first.stdout.split('\n').filter((l) => l.includes('leftover') || l.includes('split') || l.includes('failing')).slice(0, 5).join('\n')}`);
    assert.ok(events(first.stdout).some((e) => e.event === 'galaxy.jobs_failing') || events(first.stdout).filter((e) => e.event === 'upload.failed').length < names.length, 'the run of failed jobs paused uploads');
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(second.code, 0, `${second.stderr}\n${second.stdout.slice(-2000)}`);
    const live = await datasets(s.library);
    assertEachOnceOk(live, names.map((n) => `/${n}`), s.library);
    for (const d of live) assert.equal(d.size, sizes.get(d.path.slice(1)), `${d.path}: the whole file`);
  });

  it('o. checksums: every file goes with its SHA-256, which Galaxy verifies; a file overwritten with other bytes of the same size and mtime after it settled, before its job read it, ends with one ok dataset of the bytes its checksum names, never other bytes', scenarioOptions('o'), async (t) => {
    const s = scenario(t, 'integrity');
    // A whole second a minute ago: an mtime utimes puts back exactly, so nothing but the bytes tells.
    const when = Math.floor(Date.now() / 1000) - 60;
    const first = fastq(40, 11);
    // The same size: each base swapped for its complement.
    const second = first.replace(/^[ACGT]+$/gm, (seq) => seq.replace(/[ACGT]/g, (b) => ({ A: 'T', C: 'G', G: 'C', T: 'A' })[b] ?? b));
    assert.equal(second.length, first.length);
    assert.notEqual(second, first);
    const keep = s.put('checked/keep.fastq', fastq(40, 12));
    const swap = s.put('checked/swap.fastq', first);
    for (const f of [keep, swap]) utimesSync(f, when, when);
    const run = spawnCli(['--config', s.configFile, 'run'], s.env);
    t.after(() => run.child.kill('SIGKILL'));
    await waitFor(() => events(run.stdout()).find((e) => e.event === 'upload.submitted' && e.file === 'checked/swap.fastq'), 120_000, 'swap.fastq submitted');
    writeFileSync(swap, second);
    utimesSync(swap, when, when);
    await waitFor(() => events(run.stdout()).find((e) => e.event === 'upload.ok' && e.file === 'checked/swap.fastq'), 5 * 60_000, 'swap.fastq ok');
    await waitFor(() => events(run.stdout()).find((e) => e.event === 'upload.ok' && e.file === 'checked/keep.fastq'), 5 * 60_000, 'keep.fastq ok');
    run.child.kill('SIGTERM');
    await run.exited;

    const log = events(run.stdout());
    const live = await datasets(s.library);
    assertEachOnceOk(live, ['/checked/keep.fastq', '/checked/swap.fastq'], s.library);
    const swapped = live.find((d) => d.name === 'swap.fastq');
    assert.ok(swapped);
    const item = (await get<{ folder_contents: { id: string; name: string }[] }>(`/api/folders/${swapped.folderId}/contents`)).folder_contents.find((i) => i.name === 'swap.fastq');
    assert.ok(item);
    const got = await gx('GET', `/api/libraries/datasets/download/uncompressed?ld_ids=${item.id}`);
    assert.equal(got.status, 200);
    const changed = log.filter((e) => e.event === 'file.changed' && e.file === 'checked/swap.fastq');
    if (got.text === second) {
      // Galaxy read the new bytes: its check failed, the dataset in error was deleted, the file went again.
      assert.equal(changed.length, 1, JSON.stringify(changed));
      assert.match(String(changed[0]?.reason), /changed after it settled: .*Failed to validate upload with \[SHA-256\]/);
    } else {
      // Galaxy's job read the file before the overwrite: the bytes that settled, which its checksum names.
      assert.equal(got.text, first, 'the dataset holds one of the two versions, whole');
      t.diagnostic('the job read swap.fastq before it was overwritten: the race went the other way this time');
    }
    assert.deepEqual(log.filter((e) => e.event === 'upload.failed'), []);
  });

  it('q. a provider\'s md5.txt with one wrong line: that file failed naming the line, the others ok, verified by Galaxy against both checksums, which Galaxy stores and the dataset\'s info names', scenarioOptions('q'), async (t) => {
    const s = scenario(t, 'checksum-lists');
    const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
    const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
    const reads = { 'a.fastq': fastq(30, 21), 'b.fastq': fastq(30, 22), 'c.fastq': fastq(30, 23) };
    for (const [name, text] of Object.entries(reads)) s.put(`lists/${name}`, text);
    // GNU binary mode for b, CRLF line ends; c's digest is wrong.
    s.put('lists/md5.txt', `${md5(reads['a.fastq'])}  a.fastq\r\n${md5(reads['b.fastq'])} *b.fastq\r\n${md5('not c')}  c.fastq\r\n`);
    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    const status = await runCli(['--config', s.configFile, 'status', '--json', 'lists/a.fastq', 'lists/b.fastq', 'lists/c.fastq', 'lists/md5.txt'], { env: s.env });

    assert.equal(scan.code, 1, `c.fastq failed: ${scan.stderr}`);
    const rows = JSON.parse(status.stdout) as { file: string; state: string; reason: string | null; checksum: { hash_function: string; hex: string } | null; verified_by_galaxy: boolean }[];
    assert.deepEqual(rows.map((r) => [r.file, r.state, r.verified_by_galaxy]), [['lists/a.fastq', 'ok', true], ['lists/b.fastq', 'ok', true], ['lists/c.fastq', 'failed', false], ['lists/md5.txt', 'skipped', false]]);
    assert.match(rows[2]?.reason ?? '', /does not match its checksum list: lists\/md5\.txt line 3 says MD5 /);
    const live = await datasets(s.library);
    assertEachOnceOk(live, ['/lists/a.fastq', '/lists/b.fastq'], s.library);
    for (const name of ['a.fastq', 'b.fastq'] as const) {
      const d = live.find((x) => x.name === name);
      assert.ok(d);
      const item = (await get<{ folder_contents: { id: string; name: string; ldda_id: string }[] }>(`/api/folders/${d.folderId}/contents`)).folder_contents.find((i) => i.name === name);
      assert.ok(item);
      // Galaxy's stored hashes (DatasetHash), read back: the ledger's SHA-256 and the list's MD5, on an ok dataset.
      const storage = await get<{ dataset_state: string; hashes: { hash_function: string; hash_value: string }[] }>(`/api/datasets/${item.ldda_id}/storage?hda_ldda=ldda`);
      assert.equal(storage.dataset_state, 'ok');
      const row = rows.find((r) => r.file === `lists/${name}`);
      assert.deepEqual(storage.hashes.map((h) => [h.hash_function, h.hash_value]).sort(), [['MD5', md5(reads[name])], ['SHA-256', sha256(reads[name])]]);
      assert.equal(row?.checksum?.hex, sha256(reads[name]), 'the ledger\'s checksum is the one Galaxy stored');
      const shown = await get<{ misc_info: string | null }>(`/api/libraries/datasets/${item.id}`);
      assert.match(shown.misc_info ?? '', new RegExp(`SHA-256 ${sha256(reads[name])}, MD5 ${md5(reads[name])} \\(MD5 as in md5\\.txt line \\d\\): verified by Galaxy on import`), 'a lab sees the checksums in Galaxy');
    }
  });

  it("p. audit: stored hashes read back from Galaxy equal the ledger's; a linked file (link_data_only) overwritten with other bytes of the same size and mtime is found changed on disk: exit 1", scenarioOptions('p'), async (t) => {
    const s = scenario(t, 'audit');
    s.writeConfig({ 'folder:linked': { link_data_only: true } });
    // A whole second a minute ago: an mtime utimes puts back exactly, so nothing but the bytes tells.
    const when = Math.floor(Date.now() / 1000) - 60;
    const files = { 'linked/one.fastq': fastq(20, 21), 'linked/two.fastq': fastq(30, 22), 'linked/three.fastq': fastq(10, 23), 'copied/four.fastq': fastq(12, 24) };
    for (const [rel, content] of Object.entries(files)) utimesSync(s.put(rel, content), when, when);
    const scan = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    assert.equal(scan.code, 0, `${scan.stderr}\n${scan.stdout.slice(-2000)}`);
    const ledger = new SqliteLedger(s.stateDir, systemClock, { readonly: true });
    const rows = Object.keys(files).map((rel) => ledger.get(rel));
    ledger.close();
    // Read back as an admin would, without galaxy-importd: each folder's listing, then each dataset's storage.
    const stored = new Map<string, { state: string; hashes: string[] }>();
    for (const r of rows) {
      assert.ok(r?.folderId && r.datasetId, `${r?.path ?? '?'} imported`);
      const listed = (await get<{ folder_contents: { id: string; ldda_id: string }[] }>(`/api/folders/${r.folderId}/contents`)).folder_contents.find((i) => i.id === r.datasetId);
      assert.ok(listed, r.path);
      const storage = await get<{ dataset_state: string; hashes: { hash_function: string; hash_value: string }[] }>(`/api/datasets/${listed.ldda_id}/storage?hda_ldda=ldda`);
      stored.set(r.path, { state: storage.dataset_state, hashes: storage.hashes.map((h) => `${h.hash_function}:${h.hash_value}`) });
    }
    const clean = await runCli(['--config', s.configFile, 'audit', '--json'], { env: s.env });
    const two = path.join(s.importDir, 'linked/two.fastq');
    writeFileSync(two, files['linked/two.fastq'].replace(/^[ACGT]+$/gm, (seq) => seq.replace(/[ACGT]/g, (b) => ({ A: 'T', C: 'G', G: 'C', T: 'A' })[b] ?? b)));
    utimesSync(two, when, when);
    const changed = await runCli(['--config', s.configFile, 'audit', '--json'], { env: s.env });
    const text = await runCli(['--config', s.configFile, 'audit', 'linked'], { env: s.env });

    for (const r of rows) {
      assert.equal(r?.verified, true, `${r?.path ?? '?'}: verified by Galaxy in its job`);
      assert.deepEqual(stored.get(r?.path ?? ''), { state: 'ok', hashes: [r?.checksum] }, `${r?.path ?? '?'}: Galaxy's stored hash is the ledger's`);
    }
    type Report = { checked: number; matching: number; files: { file: string; linked: boolean; problems: { kind: string; detail: string }[] }[] };
    const before = JSON.parse(clean.stdout) as Report;
    assert.deepEqual([clean.code, before.checked, before.matching, before.files], [0, 4, 4, []], clean.stderr);
    const after = JSON.parse(changed.stdout) as Report;
    assert.equal(changed.code, 1, changed.stderr);
    assert.deepEqual(after.files.map((f) => [f.file, f.linked, f.problems.map((p) => p.kind)]), [['linked/two.fastq', true, ['bytes_changed_on_disk']]]);
    assert.equal(after.matching, 3);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^ {2}linked\/two\.fastq \(.* \/linked\): changed on disk \(same size and mtime\): SHA-256 .*linked \(link_data_only\): Galaxy's dataset is this file, so the dataset itself changed$/m);
    assert.equal(`${changed.stdout}${changed.stderr}${text.stdout}${text.stderr}`.includes(s.g.adminKey), false, 'the key is never printed');
  });

  it('r. method = paths: the hash Galaxy computes after the job (Celery) is compared with each file\'s checksum; a file overwritten after it settled never ends ok with other bytes; without Celery, ok and unverified, said once and by check', scenarioOptions('r'), async (t) => {
    const s = scenario(t, 'paths-verified');
    s.writeConfig({ upload: { method: 'paths' } });
    const celery = (await get<{ enable_celery_tasks?: boolean }>('/api/configuration?keys=enable_celery_tasks')).enable_celery_tasks === true;
    const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
    // A whole second a minute ago: an mtime utimes puts back exactly, so nothing but the bytes tells.
    const when = Math.floor(Date.now() / 1000) - 60;
    const first = fastq(40, 31);
    const second = first.replace(/^[ACGT]+$/gm, (seq) => seq.replace(/[ACGT]/g, (b) => ({ A: 'T', C: 'G', G: 'C', T: 'A' })[b] ?? b));
    const keepText = fastq(40, 32);
    const keep = s.put('legacy/keep.fastq', keepText);
    const swap = s.put('legacy/swap.fastq', first);
    for (const f of [keep, swap]) utimesSync(f, when, when);
    const check = await runCli(['--config', s.configFile, 'check'], { env: s.env });
    const run = spawnCli(['--config', s.configFile, 'run'], s.env);
    t.after(() => run.child.kill('SIGKILL'));
    await waitFor(() => events(run.stdout()).find((e) => e.event === 'upload.submitted' && e.file === 'legacy/swap.fastq'), 120_000, 'swap.fastq submitted');
    writeFileSync(swap, second);
    utimesSync(swap, when, when);
    for (const name of ['swap', 'keep']) await waitFor(() => events(run.stdout()).find((e) => e.event === 'upload.ok' && e.file === `legacy/${name}.fastq`), 5 * 60_000, `${name}.fastq ok`);
    run.child.kill('SIGTERM');
    await run.exited;

    const log = events(run.stdout());
    const live = await datasets(s.library);
    assertEachOnceOk(live, ['/legacy/keep.fastq', '/legacy/swap.fastq'], s.library);
    assert.deepEqual(log.filter((e) => e.event === 'upload.failed'), []);
    const oks = log.filter((e) => e.event === 'upload.ok');
    assert.deepEqual(oks.map((e) => e.verified), [celery, celery], `verified exactly when Galaxy runs Celery (${celery})`);
    const checked = check.stdout.split('\n').find((l) => l.includes('checksums:')) ?? '';
    if (!celery) {
      t.diagnostic('this Galaxy runs no Celery: the unverified branch');
      assert.equal(log.filter((e) => e.event === 'checksum.unverifiable').length, 1, 'said once');
      assert.match(checked, /^warn {2}checksums: method = paths sends no hashes .*enable_celery_tasks is false/);
      return;
    }
    assert.match(checked, /^ok {4}checksums: .*compared with the hash Galaxy's Celery computes/);
    const ledger = new SqliteLedger(s.stateDir, systemClock, { readonly: true });
    t.after(() => ledger.close());
    for (const name of ['keep.fastq', 'swap.fastq']) {
      const d = live.find((x) => x.name === name);
      assert.ok(d);
      const listed = (await get<{ folder_contents: { id: string; name: string; ldda_id: string }[] }>(`/api/folders/${d.folderId}/contents`)).folder_contents.find((i) => i.name === name);
      assert.ok(listed);
      const got = await gx('GET', `/api/libraries/datasets/download/uncompressed?ld_ids=${listed.id}`);
      const row = ledger.get(`legacy/${name}`);
      // Galaxy's own hash of what it holds, the ledger's checksum and the bytes downloaded: one and the same.
      const storage = await get<{ dataset_state: string; hashes: { hash_function: string; hash_value: string }[] }>(`/api/datasets/${listed.ldda_id}/storage?hda_ldda=ldda`);
      assert.equal(row?.checksum, `SHA-256:${sha256(got.text)}`, `${name}: the ledger's checksum is of the bytes in Galaxy`);
      assert.ok(storage.hashes.some((h) => h.hash_function === 'SHA-256' && h.hash_value === sha256(got.text)), `${name}: Galaxy stored that hash`);
      assert.equal(row?.verified, true);
      const shown = await get<{ misc_info: string | null }>(`/api/libraries/datasets/${listed.id}`);
      assert.match(shown.misc_info ?? '', new RegExp(`^SHA-256 ${sha256(got.text)}: verified by galaxy-importd against the hash Galaxy computed`), `${name}: a lab sees the checksum in Galaxy`);
      if (name === 'swap.fastq' && got.text === second) {
        const changed = log.filter((e) => e.event === 'file.changed' && e.file === 'legacy/swap.fastq');
        assert.equal(changed.length, 1, 'Galaxy read the new bytes: found by its stored hash, the file went again');
        assert.match(String(changed[0]?.reason), /the SHA-256 hash Galaxy computed of dataset \S+ after its job is /);
      } else if (name === 'swap.fastq') {
        assert.equal(got.text, first, 'the dataset holds one of the two versions, whole');
        t.diagnostic('the job read swap.fastq before it was overwritten: the race went the other way this time');
      }
    }
  });

  fidelity(scenarioOptions('6'));
});

