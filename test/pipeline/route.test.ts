import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { countByFolder, folderText, libraryAccess, routeFile, routeKey } from '../../src/pipeline/route.js';

const config = parseConfig([
  '[library]', 'name = Imports', 'access = core', 'notify = core',
  '[upload]', 'file_type = auto', 'dbkey = ?',
  '[folder:labA]', 'library = Lab A', 'folder = /projects/a', 'access = lab-a', 'dbkey = hg38', 'tags = run42, seq', 'file_type = fastqsanger',
  '[folder:open]', 'access =',
  '[folder:linked]', 'link_data_only = true',
].join('\n'), null);

describe('routeFile: a subdirectory to its library folder', () => {
  it('a file at the top goes to the library\'s root folder, with the defaults', () => {
    const r = routeFile('a.txt', config);
    assert.deepEqual(r, { library: 'Imports', folder: [], fileType: 'auto', dbkey: '?', tags: [], link: false, access: 'core', notify: ['core'] });
    assert.equal(folderText(r), '/');
  });

  it('a subdirectory is the folder /<subdir>, deeper directories nested folders below it', () => {
    const r = routeFile('run1/sample1/lane2/r.fastq', config);
    assert.deepEqual(r.folder, ['run1', 'sample1', 'lane2']);
    assert.equal(folderText(r), '/run1/sample1/lane2');
    assert.equal(r.library, 'Imports');
  });

  it('[folder:NAME] sets library, folder, file_type, dbkey, tags and access for its subdirectory and below', () => {
    const r = routeFile('labA/deep/x.fastq', config);
    assert.deepEqual(r, { library: 'Lab A', folder: ['projects', 'a', 'deep'], fileType: 'fastqsanger', dbkey: 'hg38', tags: ['run42', 'seq'], link: false, access: 'lab-a', notify: ['core'] });
  });

  it('access = (empty) on a folder makes its datasets public in a restricted library; link_data_only per folder', () => {
    assert.equal(routeFile('open/x', config).access, null);
    assert.equal(routeFile('linked/x', config).link, true);
  });

  it('routeKey tells folders apart by library and path', () => {
    assert.notEqual(routeKey(routeFile('run1/x', config)), routeKey(routeFile('run2/x', config)));
    assert.equal(routeKey(routeFile('run1/x', config)), routeKey(routeFile('run1/y', config)));
    assert.notEqual(routeKey(routeFile('labA/x', config)), routeKey(routeFile('projects/a/x', config)), 'same folder path, other library');
  });
});

describe('libraryAccess and countByFolder', () => {
  it('a library\'s access: [library] access for [library] name, a [folder:NAME] section\'s for its library, else public', () => {
    assert.equal(libraryAccess('Imports', config), 'core');
    assert.equal(libraryAccess('Lab A', config), 'lab-a');
    assert.equal(libraryAccess('Elsewhere', config), null);
  });

  it('counts the ledger\'s rows by directory into library folders, adding directories that route to one folder', () => {
    const counts = countByFolder([
      { dir: 'run1', state: 'ok', count: 3, verified: 2 },
      { dir: 'run1', state: 'failed', count: 1, verified: 0 },
      { dir: 'labA', state: 'ok', count: 2, verified: 2 },
      { dir: '', state: 'queued', count: 4, verified: 0 },
    ], config);
    assert.deepEqual([...counts.values()].map((c) => [c.library, c.folder, c.counts.ok, c.counts.failed, c.counts.queued, c.verified]), [
      ['Imports', '/run1', 3, 1, 0, 2],
      ['Lab A', '/projects/a', 2, 0, 0, 2],
      ['Imports', '/', 0, 0, 4, 0],
    ]);
  });
});
