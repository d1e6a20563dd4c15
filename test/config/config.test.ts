import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolvePostgresPassword, resolveApiKey } from '../../src/config/api-key.js';
import { readLibraryImportDir } from '../../src/config/galaxy-config.js';
import { convert } from '../../src/config/convert.js';
import { loadConfig, parseConfig, requireDaemonKeys } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const REFUSED = Symbol('refused');

describe('strict conversion', () => {
  const cases: [string, Parameters<typeof convert>[0], unknown, unknown][] = [
    ['a whole number', { kind: 'integer', min: 1, max: 10 }, '4', 4],
    ['trailing letters are refused', { kind: 'integer', min: 1, max: 10 }, '12abc', REFUSED],
    ['a fraction is not a whole number', { kind: 'integer', min: 1, max: 10 }, '2.5', REFUSED],
    ['out of range', { kind: 'integer', min: 1, max: 10 }, '11', REFUSED],
    ['a decimal number', { kind: 'number', min: 0, max: 10 }, '0.5', 0.5],
    ['ini\'s own true', { kind: 'boolean' }, true, true],
    ['yes is true', { kind: 'boolean' }, 'yes', true],
    ['maybe is not a boolean', { kind: 'boolean' }, 'maybe', REFUSED],
    ['a list', { kind: 'list' }, ' .*, *.part ,*.tmp', ['.*', '*.part', '*.tmp']],
    ['an enum value', { kind: 'enum', values: ['upload', 'skip'] }, 'skip', 'skip'],
    ['not an enum value', { kind: 'enum', values: ['upload', 'skip'] }, 'later', REFUSED],
    ['listen host:port', { kind: 'listen' }, '127.0.0.1:9187', { host: '127.0.0.1', port: 9187 }],
    ['listen [::1]:port', { kind: 'listen' }, '[::1]:9187', { host: '::1', port: 9187 }],
    ['listen empty is off', { kind: 'listen' }, '', null],
    ['move:DIR', { kind: 'after_upload' }, 'move:/data/done', { action: 'move', dir: '/data/done' }],
    ['a URL with key= is refused', { kind: 'url' }, 'http://galaxy/?key=abc', REFUSED],
    ['a URL without scheme is refused', { kind: 'url' }, 'galaxy.example.org', REFUSED],
  ];
  for (const [name, type, raw, expected] of cases) {
    it(name, () => {
      const res = convert(type, raw, '/');

      if (expected === REFUSED) assert.ok('error' in res, `expected an error for ${JSON.stringify(raw)}`);
      else assert.deepEqual(res, { value: expected });
    });
  }
});

describe('config loading', () => {
  it('gives the documented defaults when no file exists', () => {
    const cfg = loadConfig({ defaultPaths: ['/nonexistent/galaxy-importd.ini'] });

    assert.equal(cfg.file, null);
    assert.equal(cfg.upload.concurrency, 4);
    assert.equal(cfg.upload.batch_size, 10000);
    assert.deepEqual(cfg.import.after_upload, { action: 'keep' });
    assert.deepEqual(cfg.http.listen, { host: '127.0.0.1', port: 9187 });
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.upload));
  });

  it('reports every problem at once, each with its file, line, section and key', (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'bad.ini');
    writeFileSync(file, [
      '[galaxy]',
      'url = http://127.0.0.1:8080',
      'timeout_seconds = 12abc',
      '[upload]',
      'concurency = 4',
      'batch_size = 0',
      'this line has no equals sign',
      '[import]',
      `dir = ${path.join(dir, 'missing')}`,
      '[nonsense]',
      'x = 1',
    ].join('\n'));

    const found = problems(() => loadConfig({ explicitPath: file }));

    assert.equal(found.length, 6, found.join('\n'));
    assert.ok(found.some((p) => p.includes(`${file}:3: [galaxy] timeout_seconds`) && p.includes('"12abc"')));
    assert.ok(found.some((p) => p.includes(`${file}:5: [upload] concurency`) && p.includes('did you mean concurrency?')));
    assert.ok(found.some((p) => p.includes(`${file}:6: [upload] batch_size`)));
    assert.ok(found.some((p) => p.includes(`${file}:7: malformed line`)));
    assert.ok(found.some((p) => p.includes('[import] dir') && p.includes('does not exist')));
    assert.ok(found.some((p) => p.includes('[nonsense]: unknown section')));
  });

  it('keeps dots and spaces in [folder:NAME] section names', () => {
    const cfg = parseConfig('[folder:seq.v2]\nfile_type = fastqsanger\n[folder:run 2]\ndbkey = hg38\ntags = a, b\n', null);

    assert.deepEqual(cfg.folders.get('seq.v2'), { file_type: 'fastqsanger' });
    assert.deepEqual(cfg.folders.get('run 2'), { dbkey: 'hg38', tags: ['a', 'b'] });
  });

  it('refuses after_upload = delete with link_data_only, and a move target inside the import directory', (t) => {
    const dir = tempDir(t);

    const linked = problems(() => parseConfig('[import]\nafter_upload = delete\n[upload]\nlink_data_only = true\n', null));
    const inside = problems(() => parseConfig(`[import]\ndir = ${dir}\nafter_upload = move:${path.join(dir, 'done')}\n`, null));

    assert.match(linked.join('\n'), /delete cannot be combined with link_data_only/);
    assert.match(inside.join('\n'), /inside the import directory/);
  });

  it('reads library_import_dir from galaxy.yml, galaxy.ini and universe_wsgi.ini', (t) => {
    const dir = tempDir(t);
    mkdirSync(path.join(dir, 'import'));
    const yml = path.join(dir, 'galaxy.yml');
    writeFileSync(yml, 'gravity:\n  library_import_dir: /wrong\ngalaxy:\n  admin_users: a@b.org\n  library_import_dir: "import"  \n');
    const iniFile = path.join(dir, 'universe_wsgi.ini');
    writeFileSync(iniFile, '[server:main]\nuse = egg:Paste#http\n[app:main]\nlibrary_import_dir = %(here)s/import\n');
    const unset = path.join(dir, 'galaxy.ini');
    writeFileSync(unset, '[app:main]\n#library_import_dir = None\n');

    assert.equal(readLibraryImportDir(yml), path.join(dir, 'import'));
    assert.equal(readLibraryImportDir(iniFile), path.join(dir, 'import'));
    assert.equal(readLibraryImportDir(unset), null);
    const cfgFile = path.join(dir, 'galaxy-importd.ini');
    writeFileSync(cfgFile, `[galaxy]\ngalaxy_config = ${yml}\n`);
    assert.equal(loadConfig({ explicitPath: cfgFile }).import.dir, path.join(dir, 'import'));
  });

  it('parses without I/O: what the config names on this host is checked apart, by loadConfig', (t) => {
    const dir = tempDir(t);
    const text = `[import]\ndir = ${path.join(dir, 'nope')}\n[galaxy]\ngalaxy_config = ${path.join(dir, 'no-galaxy.yml')}\n`;
    const cfgFile = path.join(dir, 'galaxy-importd.ini');
    writeFileSync(cfgFile, text);

    assert.equal(parseConfig(text, cfgFile).import.dir, path.join(dir, 'nope'));
    assert.match(problems(() => loadConfig({ explicitPath: cfgFile })).join('\n'), /\[import\] dir: .*nope does not exist/);
  });

  it('enforces the table\'s required options for the daemon\'s commands, each with what to do', () => {
    const found = problems(() => requireDaemonKeys(parseConfig('[log]\nlevel = info\n', null)));

    assert.equal(found.length, 2);
    assert.match(found.join('\n'), /\[galaxy\] url is required: Galaxy's base URL/);
    assert.match(found.join('\n'), /\[import\] dir is required \(or \[galaxy\] galaxy_config/);
  });
});

describe('API key resolution', () => {
  it('prefers $GALAXY_API_KEY, then api_key_file, then the systemd credential', (t) => {
    const dir = tempDir(t);
    const keyFile = path.join(dir, 'api_key');
    writeFileSync(keyFile, 'from-file\n');
    mkdirSync(path.join(dir, 'creds'));
    writeFileSync(path.join(dir, 'creds', 'galaxy-api-key'), 'from-credential');

    assert.deepEqual(resolveApiKey({ GALAXY_API_KEY: 'from-env', CREDENTIALS_DIRECTORY: path.join(dir, 'creds') }, keyFile), { key: 'from-env', source: 'GALAXY_API_KEY' });
    assert.deepEqual(resolveApiKey({ CREDENTIALS_DIRECTORY: path.join(dir, 'creds') }, keyFile), { key: 'from-file', source: 'api_key_file' });
    assert.deepEqual(resolveApiKey({ CREDENTIALS_DIRECTORY: path.join(dir, 'creds') }, null), { key: 'from-credential', source: 'systemd credential' });
  });

  it('takes the PostgreSQL password from $PGPASSWORD, then the password file, then the systemd credential; none is fine', (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'pw');
    // A password may hold spaces; only the final newline is dropped.
    writeFileSync(file, 'pass from file \n');
    mkdirSync(path.join(dir, 'creds'));
    writeFileSync(path.join(dir, 'creds', 'postgresql-password'), 'from-credential\n');
    const creds = path.join(dir, 'creds');

    assert.equal(resolvePostgresPassword({ PGPASSWORD: 'from-env', CREDENTIALS_DIRECTORY: creds }, file), 'from-env');
    assert.equal(resolvePostgresPassword({ CREDENTIALS_DIRECTORY: creds }, file), 'pass from file ');
    assert.equal(resolvePostgresPassword({ CREDENTIALS_DIRECTORY: creds }, null), 'from-credential');
    assert.equal(resolvePostgresPassword({ CREDENTIALS_DIRECTORY: dir }, null), null, 'no credential of that name: peer or trust authentication');
    assert.equal(resolvePostgresPassword({}, null), null);
    writeFileSync(file, '\n');
    const empty = problems(() => resolvePostgresPassword({}, file)).join('\n');
    assert.match(empty, /\[state\] postgresql_password_file: .*pw is empty; put the PostgreSQL user's password in it/);
  });

  it('names the key file, never its content, when it is unusable', (t) => {
    const dir = tempDir(t);
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '  \n');
    const twoWords = path.join(dir, 'two');
    writeFileSync(twoWords, 'secret-one secret-two');

    const missing = problems(() => resolveApiKey({}, path.join(dir, 'nope'))).join('\n');
    const blank = problems(() => resolveApiKey({}, empty)).join('\n');
    const garbled = problems(() => resolveApiKey({}, twoWords)).join('\n');
    const none = problems(() => resolveApiKey({}, null)).join('\n');

    assert.match(missing, /does not exist/);
    assert.match(blank, /is empty/);
    assert.match(garbled, /more than one word/);
    assert.equal(garbled.includes('secret-one'), false);
    assert.match(none, /GALAXY_API_KEY/);
  });

  it('reports an unreadable key file', (t) => {
    if (process.getuid?.() === 0) {
      t.skip('root reads any file regardless of its mode, so unreadability cannot be arranged here');
      return;
    }
    const dir = tempDir(t);
    const file = path.join(dir, 'locked');
    writeFileSync(file, 'k');
    chmodSync(file, 0o000);

    assert.match(problems(() => resolveApiKey({}, file)).join('\n'), /not readable/);
  });
});
