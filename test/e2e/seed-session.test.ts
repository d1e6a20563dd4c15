import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { bedLines, CLI, emulator, runCli, seedSession, tempDir, waitFor } from '../helpers.js';

// The whole session of seed/galaxy-admin-api.md, replayed through the built CLI
// against the emulator: the four scripts as `galaxy-importd api …`.

describe('the seed session through the built CLI', () => {
  it('lists, creates a library and a folder, uploads the bed directory and shows a dataset', async (t) => {
    const importDir = tempDir(t);
    mkdirSync(path.join(importDir, 'bed'));
    const bed2 = bedLines(68, 1000);
    writeFileSync(path.join(importDir, 'bed', '2.bed'), bed2);
    writeFileSync(path.join(importDir, 'bed', '3.bed'), bedLines(40, 5000));
    const emu = await emulator(t, { libraryImportDir: importDir });
    const env = { GALAXY_API_KEY: emu.adminKey };
    const api = async (...args: string[]): Promise<string> => {
      const res = await runCli(['api', ...args], { env });
      assert.equal(res.code, 0, `api ${args.join(' ')} failed: ${res.stderr}`);
      assert.equal(res.stderr, '');
      assert.equal(res.stdout.includes(emu.adminKey), false, 'the key is never printed');
      return res.stdout;
    };
    const url = `${emu.url}/api/libraries`;

    const { listedFirst: empty, created, libId, listed, shown, contentsUrl, contents, rootId, folder, folderId, upload } = await seedSession(api, url, 'api_test');
    const datasetId = /^ {2}name: 2\.bed\n {2}id: ([0-9a-f]{16})$/m.exec(upload)?.[1] ?? '';
    const dataset = await waitFor(async () => {
      const out = await api('display', `${contentsUrl}/${datasetId}`);
      return /^state: ok$/m.test(out) ? out : undefined;
    }, 10_000, 'the uploaded dataset to be ok');
    const after = await api('display', contentsUrl);

    assert.equal(empty, 'Collection Members\n------------------\n\n0 elements in collection\n');
    assert.match(created, new RegExp(`^Response\n--------\n/api/libraries/${libId}\n {2}name: api_test\n`));
    assert.match(listed, new RegExp(`^Collection Members\n------------------\n/api/libraries/${libId}\n {2}name: api_test\n`));
    assert.match(shown, /^Member Information\n------------------\n/);
    assert.match(shown, /^description: API Test Library$/m);
    assert.match(shown, /^name: api_test$/m);
    assert.match(contents, new RegExp(`^/api/libraries/${libId}/contents/${rootId}\n {2}name: /\n`, 'm'));
    assert.match(contents, /^ {2}type: folder$/m);
    assert.match(folder, new RegExp(`^Response\n--------\n/api/libraries/${libId}/contents/${folderId}\n {2}name: api_test_folder1\n`));
    assert.match(upload, /^ {2}name: 2\.bed$/m);
    assert.match(upload, /^ {2}name: 3\.bed$/m);
    for (const name of ['/', '/api_test_folder1', '/api_test_folder1/2.bed', '/api_test_folder1/3.bed']) {
      assert.match(after, new RegExp(`^ {2}name: ${name.replaceAll('.', '\\.')}$`, 'm'), name);
    }
    assert.match(dataset, /^Member Information\n/);
    assert.match(dataset, /^name: 2\.bed$/m);
    assert.match(dataset, /^data_type: galaxy\.datatypes\.interval\.Bed$/m);
    assert.match(dataset, /^genome_build: hg19$/m);
    assert.match(dataset, new RegExp(`^file_size: ${Buffer.byteLength(bed2)}$`, 'm'));
    assert.match(dataset, /^misc_blurb: 68 regions$/m);
    assert.match(dataset, /^metadata_data_lines: 68$/m);
    assert.match(dataset, /^metadata_columns: 6$/m);
    assert.match(dataset, /^metadata_chromCol: 1$/m);
    assert.match(dataset, /^metadata_strandCol: 6$/m);
    assert.match(dataset, /^metadata_dbkey: hg19$/m);
    assert.match(dataset, /^metadata_comment_lines: None$/m);
    assert.match(dataset, /^uploaded_by: admin@example\.org$/m);
    for (const r of emu.requests) assert.equal(r.url.includes(emu.adminKey), false, `key in URL ${r.url}`);
  });

  it('prints raw JSON with --json', async (t) => {
    const emu = await emulator(t);
    await runCli(['api', 'create-library', `${emu.url}/api/libraries`, 'one'], { env: { GALAXY_API_KEY: emu.adminKey } });

    const res = await runCli(['api', 'display', '--json', `${emu.url}/api/libraries`], { env: { GALAXY_API_KEY: emu.adminKey } });

    assert.equal(res.code, 0);
    const body = JSON.parse(res.stdout) as { name: string }[];
    assert.deepEqual(body.map((l) => l.name), ['one']);
  });

  it("prints Galaxy's err_msg and exits 1 on an HTTP error", async (t) => {
    const emu = await emulator(t);

    const res = await runCli(['api', 'create-library', `${emu.url}/api/libraries`, 'x'], { env: { GALAXY_API_KEY: emu.userKey } });

    assert.equal(res.code, 1);
    assert.match(res.stderr, /Galaxy answered 403 to POST \/api\/libraries: You must be an administrator to access this feature\. \(err_code 403006\)/);
    assert.equal(res.stderr.includes(emu.userKey), false);
  });

  it('exits 1 with a clear message when Galaxy cannot be reached or answers with a proxy page', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/libraries$', times: 1, action: { type: 'status', status: 502 } });

    const proxy = await runCli(['api', 'display', `${emu.url}/api/libraries`], { env: { GALAXY_API_KEY: emu.adminKey } });
    const down = await runCli(['api', 'display', 'http://127.0.0.1:9/api/libraries'], { env: { GALAXY_API_KEY: 'k' } });

    assert.equal(proxy.code, 1);
    assert.match(proxy.stderr, /Galaxy answered 502 to GET \/api\/libraries: "502 Bad Gateway" \(text\/html\)/);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /No answer from Galaxy to GET \/api\/libraries: ECONNREFUSED/);
  });

  it('exits 2 on usage errors, a missing key, and a key in the URL', async () => {
    const noArgs = await runCli(['api', 'create-folder', 'http://127.0.0.1:9/api/libraries/x/contents'], { env: { GALAXY_API_KEY: 'k' } });
    const unknown = await runCli(['api', 'explode'], { env: {} });
    const noKey = await runCli(['api', 'display', 'http://127.0.0.1:9/api/libraries'], { env: {} });
    const keyInUrl = await runCli(['api', 'display', 'http://127.0.0.1:9/api/libraries?key=abc123'], { env: {} });
    const badConfig = await runCli(['--config', '/nonexistent/importd.ini', 'api', 'display', 'http://127.0.0.1:9/api'], { env: { GALAXY_API_KEY: 'k' } });

    assert.equal(noArgs.code, 2);
    assert.match(noArgs.stderr, /usage: galaxy-importd api create-folder CONTENTS_URL PARENT_FOLDER_ID NAME \[DESCRIPTION\]/);
    assert.equal(unknown.code, 2);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no Galaxy API key: set \$GALAXY_API_KEY/);
    assert.equal(keyInUrl.code, 2);
    assert.equal(keyInUrl.stderr.includes('abc123'), false);
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /no such config file/);
  });

  it('reads the key from [galaxy] api_key_file in --config', async (t) => {
    const dir = tempDir(t);
    const emu = await emulator(t);
    writeFileSync(path.join(dir, 'key'), `${emu.adminKey}\n`);
    writeFileSync(path.join(dir, 'importd.ini'), `[galaxy]\nurl = ${emu.url}\napi_key_file = key\n`);

    const res = await runCli(['--config', path.join(dir, 'importd.ini'), 'api', 'display', `${emu.url}/api/whoami`]);

    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^email: admin@example\.org$/m);
  });

  it('is an executable bin, so npx galaxy-importd works in the checkout after npm run build', () => {
    assert.ok((statSync(CLI).mode & 0o111) !== 0, `${CLI} is not executable`);
    assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  it('prints --version and --help', async () => {
    const v = await runCli(['--version']);
    const h = await runCli(['--help']);

    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(h.stdout, /api upload-dir CONTENTS_URL FOLDER_ID SERVER_DIR FILE_TYPE DBKEY/);
  });
});
