import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FetchItem } from '../../src/galaxy/client.js';
import type { ReadyFile } from '../../src/pipeline/files.js';
import { fetchSubmitter, pathsSubmitter } from '../../src/pipeline/submit.js';
import { ROUTE } from '../fakes.js';

const file = (p: string): ReadyFile => ({ path: p, size: 1, mtimeMs: 1, readyAt: 0 });

describe('fetchSubmitter', () => {
  it('sends one request with a target per folder, each file a server_dir item named by its base name, and answers with the job', async () => {
    const asked: { historyId: string; targets: readonly { folderId: string; items: readonly FetchItem[] }[] }[] = [];
    const s = fetchSubmitter({ fetchToFolders: (o) => (asked.push(o), Promise.resolve({ jobId: 'J1' })) });
    const linked = { ...ROUTE, folder: ['run2'], link: true, fileType: 'bed', dbkey: 'hg19' };

    const sent = await s.send([
      { files: [file('run1/a.txt'), file('run1/b.txt')], route: ROUTE, target: { libraryId: 'L1', folderId: 'F1' } },
      { files: [file('run2/c.bed')], route: linked, target: { libraryId: 'L1', folderId: 'F2' } },
    ], 'H1');

    assert.deepEqual(sent, { kind: 'job', jobId: 'J1' });
    assert.deepEqual(asked, [{
      historyId: 'H1',
      targets: [
        { folderId: 'F1', items: [{ serverDir: 'run1/a.txt', name: 'a.txt', ext: 'auto', dbkey: '?', linkDataOnly: false }, { serverDir: 'run1/b.txt', name: 'b.txt', ext: 'auto', dbkey: '?', linkDataOnly: false }] },
        { folderId: 'F2', items: [{ serverDir: 'run2/c.bed', name: 'c.bed', ext: 'bed', dbkey: 'hg19', linkDataOnly: true }] },
      ],
    }]);
    assert.equal(s.datasetName(file('run1/x/y.fastq'), ROUTE), 'y.fastq');
    assert.deepEqual([s.usesHistory, s.combines, s.createsFirst], [true, true, false]);
  });

  it('sends a file\'s checksum as the item\'s hashes, with its checksum list\'s digest when of another function, and names them in the dataset\'s info', async () => {
    const asked: { targets: readonly { items: readonly FetchItem[] }[] }[] = [];
    const s = fetchSubmitter({ fetchToFolders: (o) => (asked.push(o), Promise.resolve({ jobId: 'J1' })) });
    const sha = { hashFunction: 'SHA-256' as const, hex: 'ab'.repeat(32) };
    await s.send([{
      files: [
        { ...file('run1/a.txt'), checksum: sha },
        { ...file('run1/b.txt'), checksum: sha, provided: { hashFunction: 'MD5', hex: 'cd'.repeat(16), list: 'run1/md5.txt', line: 2 } },
        { ...file('run1/c.txt'), checksum: sha, provided: { hashFunction: 'SHA-256', hex: sha.hex, list: 'run1/sha256sums.txt', line: 1 } },
        file('run1/d.txt'),
      ],
      route: ROUTE, target: { libraryId: 'L1', folderId: 'F1' },
    }], 'H1');

    const items = asked[0]?.targets[0]?.items ?? [];
    assert.deepEqual(items.map((i) => i.hashes), [[sha], [sha, { hashFunction: 'MD5', hex: 'cd'.repeat(16) }], [sha], undefined]);
    assert.deepEqual(items.map((i) => i.info), [
      `SHA-256 ${sha.hex}: verified by Galaxy on import (galaxy-importd)`,
      `SHA-256 ${sha.hex}, MD5 ${'cd'.repeat(16)} (MD5 as in md5.txt line 2): verified by Galaxy on import (galaxy-importd)`,
      `SHA-256 ${sha.hex} (SHA-256 as in sha256sums.txt line 1): verified by Galaxy on import (galaxy-importd)`,
      undefined,
    ]);
  });
});

describe('pathsSubmitter', () => {
  it('sends one folder\'s files as absolute paths under the import directory, and pairs Galaxy\'s answer with the files in order', async () => {
    const asked: unknown[] = [];
    const s = pathsSubmitter({ uploadPaths: (lib, o) => (asked.push({ lib, ...o }), Promise.resolve([{ id: 'D1', name: 'a.txt' }, { id: 'D2', name: 'b.txt' }])) }, '/data/import');

    const sent = await s.send([{ files: [file('run1/a.txt'), file('run1/b.txt')], route: { ...ROUTE, tags: ['t'] }, target: { libraryId: 'L1', folderId: 'F1' } }], null);

    assert.deepEqual(sent, { kind: 'datasets', ids: new Map([['run1/a.txt', 'D1'], ['run1/b.txt', 'D2']]) });
    assert.deepEqual(asked, [{ lib: 'L1', folderId: 'F1', paths: ['/data/import/run1/a.txt', '/data/import/run1/b.txt'], fileType: 'auto', dbkey: '?', linkDataOnly: false, tags: ['t'] }]);
    assert.deepEqual([s.usesHistory, s.combines, s.createsFirst], [false, false, true]);
  });

  it('refuses the files of several folders in one request (the legacy upload takes one folder)', async () => {
    const s = pathsSubmitter({ uploadPaths: () => Promise.resolve([]) }, '/data/import');
    const part = { files: [file('run1/a.txt')], route: ROUTE, target: { libraryId: 'L1', folderId: 'F1' } };
    await assert.rejects(s.send([part, part], null), /the legacy library upload takes the files of one folder per request/);
  });
});
