import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DiskLook, GalaxyLook, Problem } from '../../src/cli/audit-compare.js';
import { compareFile, fails } from '../../src/cli/audit-compare.js';
import { lookOnDisk, Pace } from '../../src/cli/audit-disk.js';
import type { AuditGalaxyClient } from '../../src/cli/audit-galaxy.js';
import { GalaxySide } from '../../src/cli/audit-galaxy.js';
import { auditFiles, inScope } from '../../src/cli/audit.js';
import { parseConfig } from '../../src/config/load.js';
import type { FolderItem } from '../../src/galaxy/client.js';
import { GalaxyApiError, GalaxyNetworkError } from '../../src/galaxy/errors.js';
import type { FileRecord } from '../../src/ledger/ledger.js';
import { put, tempDir } from '../helpers.js';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function row(fields: Partial<FileRecord> = {}): FileRecord {
  return {
    path: 'run1/a.txt', size: 4, mtimeMs: 1_000_000, state: 'ok', attempts: 1, lastError: null, libraryId: 'l1', folderId: 'F1', datasetId: 'd1',
    jobId: 'j1', historyId: 'h1', submittedAt: 1, checksum: `SHA-256:${hex('abc\n')}`, verified: true, updatedAt: 1, ...fields,
  };
}

const here: DiskLook = { kind: 'present', where: '/i/run1/a.txt', size: 4, mtimeMs: 1_000_000, hex: hex('abc\n') };
const inGalaxy: GalaxyLook = { kind: 'found', deleted: false, state: 'ok', movedTo: null, storage: { state: 'ok', hashes: [{ hashFunction: 'SHA-256', hex: hex('abc\n') }] } };
const kept = { link: false, mtime: true };
const kinds = (problems: Problem[]): string[] => problems.map((p) => p.kind);

describe('audit: a file against its ledger row', () => {
  const cases: { name: string; row?: Partial<FileRecord>; disk?: DiskLook; galaxy?: GalaxyLook; want: string[] }[] = [
    { name: 'the same everywhere: no problem', want: [] },
    { name: 'gone from disk', disk: { kind: 'missing', where: '/i/run1/a.txt' }, want: ['missing_on_disk'] },
    { name: 'unreadable', disk: { kind: 'unreadable', where: '/i/run1/a.txt', reason: 'EACCES' }, want: ['unreadable_on_disk'] },
    { name: 'another size', disk: { ...here, size: 5, hex: null }, want: ['changed_on_disk'] },
    { name: 'another mtime', disk: { ...here, mtimeMs: 2_000_000, hex: null }, want: ['changed_on_disk'] },
    { name: 'the same size and mtime, other bytes', disk: { ...here, hex: hex('abd\n') }, want: ['bytes_changed_on_disk'] },
    { name: 'deleted by after_upload: the disk is not compared', disk: { kind: 'not-kept', why: 'after_upload = delete' }, want: [] },
    { name: 'no checksum in the ledger: size and mtime only, and said', row: { checksum: null, verified: false }, disk: { ...here, hex: null }, galaxy: { ...inGalaxy, storage: null }, want: ['no_checksum'] },
    { name: 'missing in Galaxy', galaxy: { kind: 'missing', detail: 'x' }, want: ['missing_in_galaxy'] },
    { name: 'deleted in Galaxy', galaxy: { ...inGalaxy, deleted: true, storage: null }, want: ['deleted_in_galaxy'] },
    { name: 'not ok in Galaxy', galaxy: { ...inGalaxy, state: 'error', storage: null }, want: ['not_ok_in_galaxy'] },
    {
      name: "a stored hash equal to the ledger's counts only when the data is ok (Galaxy keeps a hash that failed)",
      galaxy: { ...inGalaxy, storage: { state: 'error', hashes: [{ hashFunction: 'SHA-256', hex: hex('abc\n') }] } }, want: ['not_ok_in_galaxy'],
    },
    { name: 'no hash in Galaxy', galaxy: { ...inGalaxy, storage: { state: 'ok', hashes: [] } }, want: ['no_hash_in_galaxy'] },
    { name: 'only a hash of another function', galaxy: { ...inGalaxy, storage: { state: 'ok', hashes: [{ hashFunction: 'MD5', hex: 'ab' }] } }, want: ['no_hash_in_galaxy'] },
    { name: "Galaxy's hash differs", galaxy: { ...inGalaxy, storage: { state: 'ok', hashes: [{ hashFunction: 'SHA-256', hex: hex('zzz\n') }] } }, want: ['galaxy_hash_differs'] },
    { name: 'one of several stored hashes of the function matches (upper-case hex too)', galaxy: { ...inGalaxy, storage: { state: 'ok', hashes: [{ hashFunction: 'SHA-256', hex: 'ff' }, { hashFunction: 'SHA-256', hex: hex('abc\n').toUpperCase() }] } }, want: [] },
    { name: 'Galaxy answered an error for the stored hashes of this one dataset: said as not ok, the audit goes on', galaxy: { ...inGalaxy, storage: { error: 'Galaxy answered 500 to GET /api/datasets/{id}/storage: boom' } }, want: ['not_ok_in_galaxy'] },
    { name: 'changed on disk and deleted in Galaxy: both', disk: { kind: 'missing', where: '/x' }, galaxy: { ...inGalaxy, deleted: true, storage: null }, want: ['missing_on_disk', 'deleted_in_galaxy'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = compareFile(row(c.row), c.disk ?? here, c.galaxy ?? inGalaxy, kept);

      assert.deepEqual(kinds(problems), c.want);
    });
  }

  it('a moved file (after_upload = move) is compared without its mtime: a copy across file systems takes a new one', () => {
    const problems = compareFile(row(), { ...here, mtimeMs: 5 }, inGalaxy, { link: false, mtime: false });

    assert.deepEqual(problems, []);
  });

  it("says of a linked dataset's changed file that Galaxy's dataset itself changed", () => {
    const [problem] = compareFile(row(), { ...here, hex: hex('abd\n') }, inGalaxy, { link: true, mtime: true });

    assert.match(problem?.detail ?? '', /link_data_only.*dataset itself changed/);
  });

  it('fails on differences; on files that cannot be verified only when strict', () => {
    assert.equal(fails([{ kind: 'no_checksum', detail: '' }, { kind: 'no_hash_in_galaxy', detail: '' }], false), false);
    assert.equal(fails([{ kind: 'no_checksum', detail: '' }], true), true);
    assert.equal(fails([{ kind: 'deleted_in_galaxy', detail: '' }], false), true);
    assert.equal(fails([], true), false);
  });
});

describe('audit: disk reads', () => {
  it('paces reads of all readers together to the rate, with no burst after a pause', async () => {
    let now = 0;
    const slept: number[] = [];
    const pace = new Pace(1000, { now: () => now, sleep: (ms) => { slept.push(ms); now += ms; return Promise.resolve(true); } });

    await pace.paid(500);
    await pace.paid(500);
    now += 10_000;
    await pace.paid(1000);

    assert.deepEqual(slept, [500, 500, 1000]);
  });

  it("recomputes the checksum with the ledger's function, and only when size and mtime are the ledger's", async (t) => {
    const dir = tempDir(t);
    put(dir, 'a.txt', 'abc\n');
    const full = path.join(dir, 'a.txt');
    utimesSync(full, 1000, 1000);
    const pace = new Pace(0, { now: () => 0, sleep: () => Promise.resolve(true) });
    const slept: number[] = [];
    const slow = new Pace(2, { now: () => 0, sleep: (ms) => (slept.push(ms), Promise.resolve(true)) });

    const same = await lookOnDisk(row({ mtimeMs: 1_000_000 }), full, kept, slow);
    const other = await lookOnDisk(row({ mtimeMs: 2_000_000 }), full, kept, pace);
    const md5 = await lookOnDisk(row({ mtimeMs: 1_000_000, checksum: `MD5:${createHash('md5').update('abc\n').digest('hex')}` }), full, kept, pace);
    const gone = await lookOnDisk(row(), path.join(dir, 'nope'), kept, pace);

    assert.deepEqual(same, { kind: 'present', where: full, size: 4, mtimeMs: 1_000_000, hex: hex('abc\n') });
    assert.deepEqual(slept, [2000], 'its 4 bytes paid for at 2 bytes a second');
    assert.equal(other.kind === 'present' && other.hex, null);
    assert.equal(md5.kind === 'present' && md5.hex, createHash('md5').update('abc\n').digest('hex'), 'by the function the ledger names');
    assert.equal(gone.kind, 'missing');
  });
});

/** A client of the three reads audit makes, answering from tables; `calls` records them. */
type Answers<T> = Record<string, T | Error>;
type Storage = { dataset_state: string; hashes: { hash_function: string; hash_value: string }[] };
function fakeClient(o: { folders?: Answers<FolderItem[]>; datasets?: Answers<Record<string, unknown>>; storage?: Answers<Storage> }): AuditGalaxyClient & { calls: string[] } {
  const calls: string[] = [];
  const answer = <T>(v: T | Error | undefined, what: string): Promise<T> => {
    calls.push(what);
    if (v === undefined) return Promise.reject(new GalaxyApiError({ status: 404, errCode: 404001, errMsg: 'not found', retryAfterMs: null, fromGalaxy: true, method: 'GET', path: what }));
    return v instanceof Error ? Promise.reject(v) : Promise.resolve(v);
  };
  return {
    calls,
    folderContents: (id: string) => answer(o.folders?.[id], `folder ${id}`),
    libraryDataset: (id: string) => answer(o.datasets?.[id], `dataset ${id}`) as ReturnType<AuditGalaxyClient['libraryDataset']>,
    datasetStorage: (id: string) => answer(o.storage?.[id], `storage ${id}`),
  };
}

const item = (id: string, fields: Partial<FolderItem> = {}): FolderItem => ({ id, type: 'file', name: id, state: 'ok', deleted: false, ldda_id: `L${id}`, ...fields });
const noSleep = { now: () => 0, sleep: () => Promise.resolve(true) };

describe('audit: Galaxy', () => {
  it("reads a listed dataset's stored hashes by its ldda_id, and nothing more", async () => {
    const client = fakeClient({ folders: { F1: [item('d1')] }, storage: { Ld1: { dataset_state: 'ok', hashes: [{ hash_function: 'SHA-256', hash_value: 'aa' }] } } });
    const g = new GalaxySide({ client, clock: noSleep });

    const look = await g.look(row(), await g.folder('F1'));

    assert.deepEqual(look, { kind: 'found', deleted: false, state: 'ok', movedTo: null, storage: { state: 'ok', hashes: [{ hashFunction: 'SHA-256', hex: 'aa' }] } });
    assert.deepEqual(client.calls, ['folder F1', 'storage Ld1']);
  });

  it('asks no hashes of a deleted dataset, nor for a row without a checksum', async () => {
    const client = fakeClient({ folders: { F1: [item('d1', { deleted: true }), item('d2')] } });
    const g = new GalaxySide({ client, clock: noSleep });
    const listed = await g.folder('F1');

    const deleted = await g.look(row(), listed);
    const unsummed = await g.look(row({ datasetId: 'd2', checksum: null }), listed);

    assert.deepEqual([deleted.kind === 'found' && deleted.deleted, unsummed.kind === 'found' && unsummed.storage], [true, null]);
    assert.deepEqual(client.calls, ['folder F1']);
  });

  it('asks for a dataset not in its folder by its id: found elsewhere, it is moved; Galaxy answering with an error, it is missing', async () => {
    const client = fakeClient({
      folders: { F1: [] },
      datasets: { d1: { id: 'd1', ldda_id: 'Ld1', folder_id: 'F9', state: 'ok', deleted: false }, d2: new GalaxyApiError({ status: 500, errCode: 500001, errMsg: 'No row was found', retryAfterMs: null, fromGalaxy: true, method: 'GET', path: '/x' }) },
      storage: { Ld1: { dataset_state: 'ok', hashes: [] } },
    });
    const g = new GalaxySide({ client, clock: noSleep });
    const listed = await g.folder('F1');

    const moved = await g.look(row(), listed);
    const gone = await g.look(row({ datasetId: 'd2' }), listed);

    assert.equal(moved.kind === 'found' && moved.movedTo, 'F9');
    assert.equal(gone.kind, 'missing');
    assert.match(gone.kind === 'missing' ? gone.detail : '', /not in its folder F1.*500.*No row was found/);
    assert.deepEqual(client.calls, ['folder F1', 'dataset d1', 'storage Ld1', 'dataset d2'], "Galaxy's own 500 is not asked again");
  });

  it('retries a read that got no answer, at most three times, then gives up with the error', async () => {
    const down = new GalaxyNetworkError({ failure: 'refused', method: 'GET', path: '/api/folders/F1/contents', detail: 'ECONNREFUSED', cause: null });
    const client = fakeClient({ folders: { F1: down } });
    const g = new GalaxySide({ client, clock: noSleep, random: () => 0 });

    await assert.rejects(g.folder('F1'), GalaxyNetworkError);

    assert.equal(client.calls.length, 3);
  });
});

describe('audit: the run', () => {
  const config = parseConfig('[galaxy]\nurl = http://127.0.0.1:1\n[import]\ndir = /i\n[state]\ndir = /s\n[folder:lab]\nlibrary = Lab\nlink_data_only = true\n', null);

  it('scopes by a path prefix of whole components, or by library', () => {
    const rows = ['run1/a', 'run10/b', 'run1/sub/c', 'lab/d'].map((p) => row({ path: p }));
    const failed = row({ path: 'run1/e', state: 'failed' });

    const below = inScope([...rows, failed], { prefix: 'run1/', library: null }, config).map((r) => r.path);
    const lab = inScope(rows, { prefix: null, library: 'Lab' }, config).map((r) => r.path);

    assert.deepEqual(below, ['run1/a', 'run1/sub/c']);
    assert.deepEqual(lab, ['lab/d']);
  });

  it('lists each folder once, reports the files with problems by path and counts each kind', async () => {
    const looks = new Map<string, GalaxyLook>([['run1/b', { kind: 'missing', detail: 'gone' }]]);
    const folders: (string | null)[] = [];
    const galaxy = {
      folder: (id: string | null) => { folders.push(id); return Promise.resolve(null); },
      look: (r: FileRecord) => Promise.resolve(looks.get(r.path) ?? { ...inGalaxy, storage: null }),
    };
    const rows = [row({ path: 'run1/b', checksum: null }), row({ path: 'run1/a', checksum: null }), row({ path: 'lab/c', folderId: 'F2', checksum: null })];

    const report = await auditFiles(rows, { config, galaxy, pace: new Pace(0, noSleep) });

    assert.deepEqual(folders.sort(), ['F1', 'F2']);
    assert.equal(report.checked, 3);
    assert.equal(report.matching, 0, 'without a checksum no file matches');
    assert.equal(report.counts.missing_on_disk, 3);
    assert.equal(report.counts.missing_in_galaxy, 1);
    assert.equal(report.counts.no_checksum, 3);
    assert.deepEqual(report.files.map((f) => [f.file, f.library, f.folder, f.linked]), [['lab/c', 'Lab', '/lab', true], ['run1/a', 'Imports', '/run1', false], ['run1/b', 'Imports', '/run1', false]]);
  });
});
