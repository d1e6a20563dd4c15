import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, spawnCli, waitFor } from '../helpers.js';
import {
  assertEachOnceOk, bedLines, datasetDetails, datasets, events, fastq, fileSize, get, librariesNamed, NO_GALAXY, scenario,
} from './galaxy.js';
import type { Library } from './galaxy.js';
import { gzipSync } from 'node:zlib';

// The real-Galaxy suite: the built CLI as a child process, real files in Galaxy's
// library_import_dir, every verdict read from the real Galaxy's API. One file, because the
// scenarios share Galaxy's single import directory and so run one after another.

const LONG = { timeout: 15 * 60_000 };

describe('a real Galaxy', { skip: NO_GALAXY }, () => {
  it('a. replays the seed session with the api commands', LONG, async (t) => {
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
    const before = await get<Library[]>('/api/libraries');

    const listedFirst = await api('display', url);
    const created = await api('create-library', url, s.library, 'API Test Library');
    const libId = /^ {2}id: ([0-9a-f]{16})$/m.exec(created)?.[1] ?? '';
    const listed = await api('display', url);
    const shown = await api('display', `${url}/${libId}`);
    const contentsUrl = `${url}/${libId}/contents`;
    const contents = await api('display', contentsUrl);
    const rootId = /^ {2}id: (F[0-9a-f]{16})$/m.exec(contents)?.[1] ?? '';
    const folder = await api('create-folder', contentsUrl, rootId, 'api_test_folder1', 'API Test Folder 1');
    const folderId = /^ {2}id: (F[0-9a-f]{16})$/m.exec(folder)?.[1] ?? '';
    const upload = await api('upload-dir', contentsUrl, folderId, 'bed', 'bed', 'hg19');
    const ids = [...upload.matchAll(/^ {2}name: (\d\.bed)\n {2}id: ([0-9a-f]{16})$/gm)].map((m) => [m[1], m[2]] as const);
    const shownDatasets = await waitFor(async () => {
      const out = await Promise.all(ids.map(async ([, id]) => api('display', `${contentsUrl}/${id}`)));
      return out.every((o) => /^state: (ok|error)$/m.test(o)) ? out : undefined;
    }, 5 * 60_000, 'the uploaded datasets to be ok');
    const after = await api('display', contentsUrl);

    if (before.length === 0) assert.equal(listedFirst, 'Collection Members\n------------------\n\n0 elements in collection\n');
    else for (const l of before) assert.match(listedFirst, new RegExp(`^/api/libraries/${l.id}$`, 'm'));
    assert.match(created, new RegExp(`^Response\n--------\n/api/libraries/${libId}\n {2}name: ${s.library}\n`));
    assert.match(listed, new RegExp(`^/api/libraries/${libId}\n {2}name: ${s.library}\n`, 'm'));
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

  it('b. scan of a backlog: each file once, in its folder, ok, with its size and datatype; [folder:NAME] overrides', LONG, async (t) => {
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
    const second = await runCli(['--config', s.configFile, 'scan'], { env: s.env });
    assert.equal(second.code, 0);
    assert.equal(events(second.stdout).filter((e) => e.event === 'upload.submitted').length, 0, 'a second scan uploads nothing');
  });

  it('i. check and run with a wrong key, with a non-admin key, and check with the admin key', LONG, async (t) => {
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
    assert.match(good.stdout, /^ok {4}Galaxy 26\.\d+ answers at /m);
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
});
