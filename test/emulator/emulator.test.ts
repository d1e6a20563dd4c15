import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { call, emulator, tempDir, waitFor } from '../helpers.js';
import type { Emulator } from '../../emulator/server.js';

// One test per item of galaxy-api.md section 8, then the addenda of section 9
// and the fault injection the daemon's tests rely on.

type Json = Record<string, unknown>;

async function setup(t: TestContext, opts: Parameters<typeof emulator>[1] = {}): Promise<{ emu: Emulator; importDir: string; lib: Json }> {
  const importDir = tempDir(t);
  const emu = await emulator(t, { libraryImportDir: importDir, ...opts });
  const lib = (await call(emu, 'POST', '/api/libraries', { body: { name: 'Imports' } })).json as Json;
  return { emu, importDir, lib };
}

async function newHistory(emu: Emulator): Promise<string> {
  return ((await call(emu, 'POST', '/api/histories', { body: { name: 'imports' } })).json as Json).id as string;
}

async function waitJob(emu: Emulator, jobId: string): Promise<Json> {
  return waitFor(async () => {
    const job = (await call(emu, 'GET', `/api/jobs/${jobId}`)).json as Json;
    return job.state === 'ok' || job.state === 'error' ? job : undefined;
  }, 10_000, `job ${jobId}`);
}

async function folderItems(emu: Emulator, folderId: string): Promise<Json[]> {
  const res = (await call(emu, 'GET', `/api/folders/${folderId}/contents?limit=1000`)).json as Json;
  return res.folder_contents as Json[];
}

describe('Galaxy emulator (galaxy-api.md section 8)', () => {
  it('1. accepts the key as x-api-key or ?key= and refuses an unknown key with 401001', async (t) => {
    const emu = await emulator(t);

    const header = await call(emu, 'GET', '/api/whoami');
    const query = await call(emu, 'GET', `/api/whoami?key=${emu.adminKey}`, { key: null });
    const anonymous = await call(emu, 'GET', '/api/whoami', { key: null });
    const bad = await call(emu, 'GET', '/api/libraries', { key: 'not-a-key' });

    assert.equal((header.json as Json).email, 'admin@example.org');
    assert.equal((query.json as Json).email, 'admin@example.org');
    assert.equal(anonymous.json, null);
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json, { err_msg: 'Provided API key is not valid.', err_code: 401001 });
  });

  it('2. refuses library creation by non-admins and anonymous users with 403006', async (t) => {
    const emu = await emulator(t);

    const user = await call(emu, 'POST', '/api/libraries', { body: { name: 'x' }, key: emu.userKey });
    const anon = await call(emu, 'POST', '/api/libraries', { body: { name: 'x' }, key: null });

    for (const res of [user, anon]) {
      assert.equal(res.status, 403);
      assert.equal((res.json as Json).err_code, 403006);
    }
    assert.equal(emu.model.libraries.size, 0);
  });

  it('3. lists deleted libraries to admins unless deleted=false, and honours deleted=true', async (t) => {
    const emu = await emulator(t);
    await call(emu, 'POST', '/api/libraries', { body: { name: 'live' } });
    const gone = (await call(emu, 'POST', '/api/libraries', { body: { name: 'gone' } })).json as Json;
    await call(emu, 'DELETE', `/api/libraries/${String(gone.id)}`);

    const names = async (q: string, key?: string): Promise<string[]> =>
      ((await call(emu, 'GET', `/api/libraries${q}`, key === undefined ? {} : { key })).json as Json[]).map((l) => l.name as string);

    assert.deepEqual(await names(''), ['gone', 'live']);
    assert.deepEqual(await names('?deleted=false'), ['live']);
    assert.deepEqual(await names('?deleted=true'), ['gone']);
    assert.deepEqual(await names('', emu.userKey), ['live']);
    assert.equal((await call(emu, 'GET', '/api/libraries?deleted=true', { key: emu.userKey })).status, 403);
  });

  it("4. uses F-prefixed folder ids, refuses them without F, and refuses them with F in the fetch API", async (t) => {
    const { emu, importDir, lib } = await setup(t);
    writeFileSync(path.join(importDir, 'a.txt'), 'a\n');
    const root = lib.root_folder_id as string;
    const history = await newHistory(emu);

    const withoutF = await call(emu, 'POST', `/api/libraries/${String(lib.id)}/contents`, {
      body: { create_type: 'folder', folder_id: root.slice(1), name: 'x' },
    });
    const fetchWithF = await call(emu, 'POST', '/api/tools/fetch', {
      body: { history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: root }, items: [{ src: 'server_dir', server_dir: 'a.txt' }] }] },
    });

    assert.match(root, /^F[0-9a-f]{16}$/);
    assert.equal(withoutF.status, 400);
    assert.equal((withoutF.json as Json).err_code, 400008);
    assert.equal(fetchWithF.status, 400);
    // Galaxy 26.1 reports it as a missing field of the target models (docs/galaxy-notes.md).
    assert.equal((fetchWithF.json as Json).err_code, 400007);
  });

  it('5. lists library contents flat, root first, with full paths, without deleted items', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    const libId = String(lib.id);
    const sub = ((await call(emu, 'POST', `/api/folders/${String(lib.root_folder_id)}`, { body: { name: 'sub' } })).json as Json).id as string;
    mkdirSync(path.join(importDir, 'run'));
    writeFileSync(path.join(importDir, 'run', 'keep.bed'), 'chr1\t1\t2\n');
    writeFileSync(path.join(importDir, 'run', 'drop.bed'), 'chr1\t1\t2\n');
    const created = (await call(emu, 'POST', `/api/libraries/${libId}/contents`, {
      body: { create_type: 'file', folder_id: sub, upload_option: 'upload_directory', server_dir: 'run' },
    })).json as Json[];
    const drop = created.find((c) => c.name === 'drop.bed');
    await call(emu, 'DELETE', `/api/libraries/${libId}/contents/${String(drop?.id)}`);

    const list = (await call(emu, 'GET', `/api/libraries/${libId}/contents`)).json as Json[];

    assert.deepEqual(list.map((e) => [e.type, e.name]), [['folder', '/'], ['folder', '/sub'], ['file', '/sub/keep.bed']]);
    assert.equal(list[0]?.id, lib.root_folder_id);
    assert.match(String(list[2]?.url), new RegExp(`^/api/libraries/${libId}/contents/[0-9a-f]{16}$`));
  });

  it('6. answers a legacy upload at once with library dataset ids that go queued → ok later', async (t) => {
    const { emu, importDir, lib } = await setup(t, { jobQueuedMs: 100, jobRunMs: 100 });
    mkdirSync(path.join(importDir, 'bed'));
    writeFileSync(path.join(importDir, 'bed', '2.bed'), 'chr1\t10\t20\tx\t0\t+\n');

    const res = await call(emu, 'POST', `/api/libraries/${String(lib.id)}/contents`, {
      body: { create_type: 'file', folder_id: lib.root_folder_id, upload_option: 'upload_directory', server_dir: 'bed', file_type: 'bed', dbkey: 'hg19' },
    });
    const [item] = res.json as Json[];
    const first = (await call(emu, 'GET', `/api/libraries/${String(lib.id)}/contents/${String(item?.id)}`)).json as Json;
    const done = await waitFor(async () => {
      const d = (await call(emu, 'GET', `/api/libraries/${String(lib.id)}/contents/${String(item?.id)}`)).json as Json;
      return d.state === 'ok' ? d : undefined;
    });

    assert.equal(res.status, 200);
    assert.equal(item?.name, '2.bed');
    assert.ok(['queued', 'running'].includes(first.state as string), `state right after the POST: ${String(first.state)}`);
    assert.equal(done.model_class, 'LibraryDataset');
    assert.equal(done.file_size, Buffer.byteLength('chr1\t10\t20\tx\t0\t+\n'));
    assert.equal(done.genome_build, 'hg19');
    assert.equal(done.misc_blurb, '1 regions');
  });

  it('7. validates server_dir as Galaxy does', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    mkdirSync(path.join(importDir, 'empty'));
    mkdirSync(path.join(importDir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(path.join(importDir, 'nested', 'top.txt'), 'top\n');
    writeFileSync(path.join(importDir, 'nested', 'deeper', 'low.txt'), 'low\n');
    const outside = tempDir(t);
    writeFileSync(path.join(outside, 'secret.txt'), 'secret\n');
    mkdirSync(path.join(importDir, 'links'));
    symlinkSync(path.join(outside, 'secret.txt'), path.join(importDir, 'links', 'secret.txt'));
    const post = (serverDir: unknown, key?: string) => call(emu, 'POST', `/api/libraries/${String(lib.id)}/contents`, {
      body: { create_type: 'file', folder_id: lib.root_folder_id, upload_option: 'upload_directory', server_dir: serverDir },
      ...(key === undefined ? {} : { key }),
    });

    const empty = await post('');
    const absolute = await post('/etc');
    const parent = await post('../x');
    const missing = await post('nope');
    const emptyDir = await post('empty');
    const nested = await post('nested');
    const link = await post('links');
    const unset = await emulator(t, { libraryImportDir: null });
    const unsetLib = (await call(unset, 'POST', '/api/libraries', { body: { name: 'x' } })).json as Json;
    const noImportDir = await call(unset, 'POST', `/api/libraries/${String(unsetLib.id)}/contents`, {
      body: { create_type: 'file', folder_id: unsetLib.root_folder_id, upload_option: 'upload_directory', server_dir: 'x' },
    });

    assert.equal(empty.status, 400);
    assert.equal(absolute.status, 400);
    assert.equal((absolute.json as Json).err_msg, 'Invalid server_dir specified');
    assert.equal(parent.status, 400);
    assert.equal(missing.status, 500);
    assert.equal(emptyDir.status, 400);
    assert.equal((emptyDir.json as Json).err_code, 400005);
    assert.deepEqual((nested.json as Json[]).map((i) => i.name), ['top.txt'], 'top-level files only');
    assert.deepEqual((link.json as Json[]).map((i) => i.name), ['secret.txt'], 'no admin-side symlink check');
    assert.equal(noImportDir.status, 403);
    assert.equal((noImportDir.json as Json).err_code, 403004);
  });

  it('8. refuses upload_paths and src: path unless the key is an admin\'s and allow_path_paste is on', async (t) => {
    const off = await setup(t, { allowPathPaste: false });
    const on = await setup(t, { allowPathPaste: true });
    const file = path.join(on.importDir, 'p.txt');
    writeFileSync(file, 'p\n');
    const paths = (s: typeof off, key?: string) => call(s.emu, 'POST', `/api/libraries/${String(s.lib.id)}/contents`, {
      body: { create_type: 'file', folder_id: s.lib.root_folder_id, upload_option: 'upload_paths', filesystem_paths: file },
      ...(key === undefined ? {} : { key }),
    });
    const history = await newHistory(off.emu);

    const notAllowed = await paths(off);
    const nonAdmin = await paths(on, on.emu.userKey);
    const allowed = await paths(on);
    const fetchPath = await call(off.emu, 'POST', '/api/tools/fetch', {
      body: { history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: String(off.lib.root_folder_id).slice(1) }, items: [{ src: 'path', path: file }] }] },
    });

    assert.equal(notAllowed.status, 403);
    assert.equal((notAllowed.json as Json).err_code, 403004);
    assert.equal(nonAdmin.status, 403);
    assert.equal(allowed.status, 200);
    assert.equal(fetchPath.status, 403);
    assert.equal((fetchPath.json as Json).err_code, 403004);
  });

  it('9. pages folder contents 10 at a time by default, folders first, with total_rows', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    const root = String(lib.root_folder_id);
    for (const n of ['f1', 'f2']) await call(emu, 'POST', `/api/folders/${root}`, { body: { name: n } });
    mkdirSync(path.join(importDir, 'many'));
    for (let i = 0; i < 12; i++) writeFileSync(path.join(importDir, 'many', `d${String(i).padStart(2, '0')}.txt`), `${i}\n`);
    await call(emu, 'POST', `/api/libraries/${String(lib.id)}/contents`, {
      body: { create_type: 'file', folder_id: root, upload_option: 'upload_directory', server_dir: 'many' },
    });

    const page1 = (await call(emu, 'GET', `/api/folders/${root}/contents`)).json as Json;
    const page2 = (await call(emu, 'GET', `/api/folders/${root}/contents?offset=10`)).json as Json;

    const items1 = page1.folder_contents as Json[];
    assert.equal(items1.length, 10);
    assert.deepEqual(items1.slice(0, 2).map((i) => i.type), ['folder', 'folder']);
    assert.equal((page1.metadata as Json).total_rows, 14);
    assert.equal((page2.folder_contents as Json[]).length, 4);
  });

  it('10. runs a fetch job from history_id and server_dir items; a missing file leaves the job ok and an error dataset', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    writeFileSync(path.join(importDir, 'good.bed'), 'chr1\t1\t2\n');
    const folder = String(lib.root_folder_id).slice(1);
    const history = await newHistory(emu);
    const target = (items: Json[]) => ({ history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: folder }, items }] });

    const noHistory = await call(emu, 'POST', '/api/tools/fetch', { body: { targets: [] } });
    const purge = await call(emu, 'POST', '/api/tools/fetch', { body: target([{ src: 'server_dir', server_dir: 'good.bed', purge_source: true }]) });
    const stringLink = await call(emu, 'POST', '/api/tools/fetch', { body: target([{ src: 'server_dir', server_dir: 'good.bed', link_data_only: 'copy_files' }]) });
    const res = await call(emu, 'POST', '/api/tools/fetch', {
      body: target([
        { src: 'server_dir', server_dir: 'good.bed', name: 'good.bed', ext: 'bed', link_data_only: false },
        { src: 'server_dir', server_dir: 'missing.bed', name: 'missing.bed' },
      ]),
    });
    const jobId = ((res.json as Json).jobs as Json[])[0]?.id as string;
    const job = await waitJob(emu, jobId);
    const items = await folderItems(emu, String(lib.root_folder_id));

    assert.equal(noHistory.status, 400);
    assert.equal((noHistory.json as Json).err_code, 400007);
    assert.equal(purge.status, 400, 'per-item purge_source is refused');
    assert.equal(stringLink.status, 400, 'item-level link_data_only must be a boolean');
    assert.equal(res.status, 200);
    assert.deepEqual((res.json as Json).outputs, []);
    assert.equal(job.state, 'ok');
    assert.deepEqual(items.map((i) => [i.name, i.state]).sort(), [['Unnamed dataset', 'error'], ['good.bed', 'ok']]);
  });

  it('10d. lists a history\'s jobs most recently updated first, and with date_range_min only those updated since', async (t) => {
    const { emu, importDir, lib } = await setup(t, { jobQueuedMs: 0, jobRunMs: 0 });
    writeFileSync(path.join(importDir, 'a.bed'), 'chr1\t1\t2\n');
    const history = await newHistory(emu);
    const send = async (): Promise<string> => {
      const body = { history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: String(lib.root_folder_id).slice(1) }, items: [{ src: 'server_dir', server_dir: 'a.bed' }] }] };
      const id = (((await call(emu, 'POST', '/api/tools/fetch', { body })).json as Json).jobs as Json[])[0]?.id as string;
      await waitJob(emu, id);
      return id;
    };
    const first = await send();
    await new Promise((r) => setTimeout(r, 5));
    const second = await send();
    const all = (await call(emu, 'GET', `/api/jobs?history_id=${history}`)).json as Json[];
    const secondUpdated = String(all.find((j) => j.id === second)?.update_time);
    const since = (await call(emu, 'GET', `/api/jobs?history_id=${history}&date_range_min=${secondUpdated.slice(0, 23)}`)).json as Json[];
    const bad = await call(emu, 'GET', '/api/jobs?date_range_min=yesterday');

    assert.deepEqual(all.map((j) => j.id), [second, first], 'most recently updated first');
    assert.deepEqual(since.map((j) => j.id), [second], 'the first job was last updated before the second');
    assert.equal(bad.status, 400);
    assert.equal((bad.json as Json).err_code, 400008);
  });

  it('10b. imports a whole directory with items_from: directory, mirroring subdirectories as folders', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    mkdirSync(path.join(importDir, 'run', 'lane1'), { recursive: true });
    writeFileSync(path.join(importDir, 'run', 'a.txt'), 'a\n');
    writeFileSync(path.join(importDir, 'run', 'lane1', 'b.txt'), 'b\n');
    const history = await newHistory(emu);

    const res = await call(emu, 'POST', '/api/tools/fetch', {
      body: { history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: String(lib.root_folder_id).slice(1) }, items_from: 'directory', src: 'server_dir', server_dir: 'run' }] },
    });
    await waitJob(emu, ((res.json as Json).jobs as Json[])[0]?.id as string);
    const list = (await call(emu, 'GET', `/api/libraries/${String(lib.id)}/contents`)).json as Json[];

    assert.deepEqual(list.map((e) => e.name), ['/', '/lane1', '/lane1/b.txt', '/a.txt']);
  });

  it('10c. records size and checksum when the job runs, reading the file then', async (t) => {
    const { emu, importDir, lib } = await setup(t, { jobQueuedMs: 200, jobRunMs: 50 });
    const file = path.join(importDir, 'grow.txt');
    writeFileSync(file, 'short');
    const history = await newHistory(emu);
    const res = await call(emu, 'POST', '/api/tools/fetch', {
      body: { history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: String(lib.root_folder_id).slice(1) }, items: [{ src: 'server_dir', server_dir: 'grow.txt', name: 'grow.txt' }] }] },
    });
    writeFileSync(file, 'much longer content');

    await waitJob(emu, ((res.json as Json).jobs as Json[])[0]?.id as string);

    const [d] = emu.model.tree();
    assert.equal(d?.size, 'much longer content'.length);
    assert.match(String(d?.sha256), /^[0-9a-f]{64}$/);
  });

  it('11. allows duplicate names for libraries, folders and datasets', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    await call(emu, 'POST', '/api/libraries', { body: { name: 'Imports' } });
    const root = String(lib.root_folder_id);
    await call(emu, 'POST', `/api/folders/${root}`, { body: { name: 'twin' } });
    await call(emu, 'POST', `/api/folders/${root}`, { body: { name: 'twin' } });
    mkdirSync(path.join(importDir, 'd'));
    writeFileSync(path.join(importDir, 'd', 'x.txt'), 'x\n');
    for (let i = 0; i < 2; i++) {
      await call(emu, 'POST', `/api/libraries/${String(lib.id)}/contents`, {
        body: { create_type: 'file', folder_id: root, upload_option: 'upload_directory', server_dir: 'd' },
      });
    }

    const libs = (await call(emu, 'GET', '/api/libraries')).json as Json[];
    const items = await folderItems(emu, root);

    assert.equal(libs.filter((l) => l.name === 'Imports').length, 2);
    assert.equal(items.filter((i) => i.name === 'twin').length, 2);
    assert.equal(items.filter((i) => i.name === 'x.txt').length, 2);
  });

  it('12. reports validation errors as 400, not 422, with validation_errors', async (t) => {
    const emu = await emulator(t);

    const missing = await call(emu, 'POST', '/api/libraries', { body: { description: 'no name' } });
    const invalidJson = await call(emu, 'POST', '/api/libraries', { rawBody: '{"name": ' });

    assert.equal(missing.status, 400);
    assert.equal((missing.json as Json).err_code, 400007);
    assert.ok(Array.isArray((missing.json as Json).validation_errors));
    assert.equal(invalidJson.status, 400);
    assert.equal((invalidJson.json as Json).err_code, 400008);
  });

  it('answers a random well-formed id with 400009 and a malformed one with 400008', async (t) => {
    const emu = await emulator(t);

    const random = await call(emu, 'GET', '/api/libraries/0123456789abcdef');
    const malformed = await call(emu, 'GET', '/api/libraries/xyz');

    assert.equal((random.json as Json).err_code, 400009);
    assert.equal((malformed.json as Json).err_code, 400008);
  });

  it('reports library_import_dir and allow_library_path_paste to admins only', async (t) => {
    const importDir = tempDir(t);
    const emu = await emulator(t, { libraryImportDir: importDir });

    const admin = (await call(emu, 'GET', '/api/configuration?keys=is_admin_user,library_import_dir')).json as Json;
    const user = (await call(emu, 'GET', '/api/configuration', { key: emu.userKey })).json as Json;

    assert.deepEqual(admin, { is_admin_user: true, library_import_dir: importDir });
    assert.equal(user.is_admin_user, false);
    assert.equal('library_import_dir' in user, false);
  });
});

describe('Galaxy emulator: job faults', () => {
  it('fails a whole job, fails one dataset of an ok job, or leaves a job queued', async (t) => {
    const { emu, importDir, lib } = await setup(t);
    for (const n of ['a.txt', 'bad.txt', 'stuck.txt', 'jobfail.txt']) writeFileSync(path.join(importDir, n), `${n}\n`);
    emu.addJobFaults(
      { match: '^bad\\.txt$', outcome: 'dataset-error', message: 'checksum mismatch' },
      { match: '^stuck\\.txt$', outcome: 'stuck' },
      { match: '^jobfail\\.txt$', outcome: 'job-error', message: 'handler crashed' },
    );
    const history = await newHistory(emu);
    const fetch = async (names: string[]): Promise<string> => {
      const res = await call(emu, 'POST', '/api/tools/fetch', {
        body: { history_id: history, targets: [{ destination: { type: 'library_folder', library_folder_id: String(lib.root_folder_id).slice(1) }, items: names.map((n) => ({ src: 'server_dir', server_dir: n, name: n })) }] },
      });
      return ((res.json as Json).jobs as Json[])[0]?.id as string;
    };

    const mixed = await waitJob(emu, await fetch(['a.txt', 'bad.txt']));
    const failed = await waitJob(emu, await fetch(['jobfail.txt']));
    const stuckId = await fetch(['stuck.txt']);
    await new Promise((r) => setTimeout(r, 300));
    const stuck = (await call(emu, 'GET', `/api/jobs/${stuckId}?full=true`)).json as Json;
    const full = (await call(emu, 'GET', `/api/jobs/${String(failed.id)}?full=true`)).json as Json;

    assert.equal(mixed.state, 'ok');
    assert.equal(failed.state, 'error');
    assert.equal(full.stderr, 'handler crashed');
    assert.equal(stuck.state, 'queued');
    const tree = emu.model.tree().map((d) => [d.name, d.state, d.info]).sort();
    assert.deepEqual(tree, [['Unnamed dataset', 'error', 'checksum mismatch'], ['a.txt', 'ok', 'uploaded txt file']]);
  });
});

describe('Galaxy emulator: HTTP faults and records', () => {
  it('answers with a proxy HTML page and Retry-After, then normally once `times` is used up', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/version$', times: 1, action: { type: 'status', status: 503, retryAfter: 7 } });

    const first = await call(emu, 'GET', '/api/version');
    const second = await call(emu, 'GET', '/api/version');

    assert.equal(first.status, 503);
    assert.equal(first.headers.get('retry-after'), '7');
    assert.match(first.text, /<html>/);
    assert.equal(second.status, 200);
  });

  it('resets connections, sends invalid JSON and slow bodies', async (t) => {
    const emu = await emulator(t);
    emu.addFaults(
      { path: '^/api/whoami$', times: 1, action: { type: 'reset' } },
      { path: '^/api/version$', times: 1, action: { type: 'invalid-json' } },
      { path: '^/api/users/current$', times: 1, action: { type: 'slow-drip', ms: 1 } },
    );

    await assert.rejects(call(emu, 'GET', '/api/whoami'));
    const invalid = await call(emu, 'GET', '/api/version');
    const slow = await call(emu, 'GET', '/api/users/current');

    assert.equal(invalid.status, 200);
    assert.equal(invalid.json, undefined);
    assert.equal((slow.json as Json).is_admin, true);
  });

  it('accepts then answers 502: the library exists although the client saw an error', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ method: 'POST', path: '^/api/libraries$', times: 1, action: { type: 'accept-then', status: 502 } });

    const res = await call(emu, 'POST', '/api/libraries', { body: { name: 'ghost' } });
    const libs = (await call(emu, 'GET', '/api/libraries')).json as Json[];

    assert.equal(res.status, 502);
    assert.deepEqual(libs.map((l) => l.name), ['ghost']);
  });

  it('delays and hangs requests, and records concurrency, URLs and the key header', async (t) => {
    const emu = await emulator(t);
    emu.addFaults({ path: '^/api/version$', action: { type: 'delay', ms: 150 } }, { path: '^/api/whoami$', times: 1, action: { type: 'hang' } });

    const hanging = call(emu, 'GET', '/api/whoami').catch(() => 'aborted');
    await Promise.all([1, 2, 3].map(() => call(emu, 'GET', '/api/version')));
    const during = emu.stats();
    await emu.close();
    await hanging;

    assert.equal(during.maxInFlight, 4);
    assert.equal(during.inFlight, 1, 'the hung request is still in flight');
    assert.ok(emu.requests.every((r) => r.apiKeyHeader && !r.url.includes('key=')));
    assert.deepEqual(emu.requests.map((r) => r.fault).sort(), ['delay', 'delay', 'delay', 'hang']);
  });

  it('keeps its state across a restart with a state file', async (t) => {
    const dir = tempDir(t);
    const stateFile = path.join(dir, 'state.json');
    const first = await emulator(t, { stateFile, libraryImportDir: dir });
    const lib = (await call(first, 'POST', '/api/libraries', { body: { name: 'kept' } })).json as Json;
    await first.close();

    const second = await emulator(t, { stateFile, libraryImportDir: dir });
    const shown = await call(second, 'GET', `/api/libraries/${String(lib.id)}`);

    assert.equal(second.adminKey, first.adminKey);
    assert.equal((shown.json as Json).name, 'kept');
  });
});
