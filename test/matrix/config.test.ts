/**
 * Bad-input matrix, part 1: configuration, key and Galaxy set-up (issue 5). Each row runs the
 * built CLI as a child process on a bad config (or a Galaxy set up wrong) and asserts the exit
 * code and the message that says what is wrong and what to do; and that nothing else was
 * touched: the file waiting in the import directory is still there, nothing was sent to
 * Galaxy, and (on exit 2) no ledger was created.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Emulator } from '../../emulator/server.js';
import { startEmulator } from '../../emulator/server.js';
import { runCli, tempDir } from '../helpers.js';

interface Paths {
  root: string;
  importDir: string;
  stateDir: string;
  configFile: string;
  url: string;
}

interface Row {
  name: string;
  /** The config text, from the valid one. */
  config?: (valid: string, p: Paths) => string;
  /** Extra setup (files) before the run. */
  setup?: (p: Paths) => void;
  env?: (key: string, p: Paths) => Record<string, string>;
  args?: (p: Paths) => string[];
  command?: 'run' | 'scan' | 'check';
  code: number;
  /** Expected in stderr (exit 2) or stdout (check). */
  message: RegExp;
  /** The message must not contain this (a secret). */
  hides?: string;
}

const replace = (from: string | RegExp, to: string) => (valid: string): string => {
  const next = valid.replace(from, to);
  assert.notEqual(next, valid, `the row's edit ${String(from)} changed nothing`);
  return next;
};
const add = (section: string, line: string) => (valid: string): string => replace(`[${section}]\n`, `[${section}]\n${line}\n`)(valid);

const ROWS: Row[] = [
  // Malformed files
  { name: 'a line without =', config: add('import', 'settle seconds 3'), code: 2, message: /:\d+: malformed line "settle seconds 3": expected key = value/ },
  { name: 'a broken section header', config: (v) => `${v}\n[upload\nbatch_size = 3\n`, code: 2, message: /malformed section header "\[upload": write it as \[section\]/ },
  { name: 'a key before any section', config: (v) => `batch_size = 3\n${v}`, code: 2, message: /:1: "batch_size = 3" comes before any \[section\]/ },
  { name: 'an indented continuation line', config: add('import', 'ignore = *.tmp,\n  *.part'), code: 2, message: /indented line "\*\.part": continuation lines are not supported/ },
  { name: 'a key set twice', config: add('import', 'settle_seconds = 5'), code: 2, message: /\[import\] settle_seconds is set twice; keep one/ },
  // Unknown names
  { name: 'an unknown key (a typo)', config: (v) => `${v}\n[upload]\nbatchsize = 3\n`, code: 2, message: /\[upload\] batchsize: unknown key; did you mean batch_size\?/ },
  { name: 'an unknown section (a typo)', config: (v) => `${v}\n[uplaod]\nbatch_size = 3\n`, code: 2, message: /\[uplaod\]: unknown section; did you mean \[upload\]\?/ },
  { name: 'a [folder:] section naming a nested path', config: (v) => `${v}\n[folder:a/b]\ndbkey = hg19\n`, code: 2, message: /the part after folder: must be one subdirectory name/ },
  // Wrong types and ranges
  { name: 'a number with a unit', config: replace('timeout_seconds = 5', 'timeout_seconds = 5s'), code: 2, message: /\[galaxy\] timeout_seconds: expected a whole number from 1 to 3600, got "5s"/ },
  { name: 'a boolean that is not true or false', config: add('import', 'poll = yes please'), code: 2, message: /\[import\] poll: expected true or false, got "yes please"/ },
  { name: 'a number below its range', config: (v) => `${v}\n[upload]\nconcurrency = 0\n`, code: 2, message: /\[upload\] concurrency: expected a whole number from 1 to \d+, got "0"/ },
  { name: 'a number above its range', config: replace('settle_seconds = 1', 'settle_seconds = 99999999'), code: 2, message: /\[import\] settle_seconds: expected a number from 0 to \d+, got "99999999"/ },
  { name: 'a value outside its choices', config: (v) => `${v}\n[upload]\nmethod = ftp\n`, code: 2, message: /\[upload\] method: expected one of fetch, paths, got "ftp"/ },
  { name: 'a listen address without a port', config: replace('listen =', 'listen = localhost'), code: 2, message: /\[http\] listen: expected host:port \(such as 127\.0\.0\.1:9187\) or nothing, got "localhost"/ },
  { name: 'after_upload with an unknown action', config: add('import', 'after_upload = archive'), code: 2, message: /\[import\] after_upload: expected keep, delete or move:DIR, got "archive"/ },
  { name: 'a value given twice as key[]', config: add('import', 'ignore[] = *.tmp'), code: 2, message: /expected a single value|unknown key/ },
  // Access and notifications (issue 14)
  { name: 'access naming several roles', config: (v) => `${v}\n[library]\naccess = lab-a, lab-b\n`, code: 2, message: /\[library\] access: names 2 roles \(lab-a, lab-b\); Galaxy lets a dataset be read only by users who hold every one of its access roles, so name one/ },
  { name: 'a folder access naming several roles', config: (v) => `${v}\n[folder:run1]\naccess = a@x.org, b@x.org\n`, code: 2, message: /\[folder:run1\] access: names 2 roles/ },
  { name: 'two folder sections giving one library different access', config: (v) => `${v}\n[folder:run1]\nlibrary = Lab\naccess = lab-a\n[folder:run2]\nlibrary = Lab\naccess = lab-b\n`, code: 2, message: /\[folder:run2\] access: library "Lab" gets access "lab-b" here but "lab-a" in \[folder:run1\]; a library has one access in Galaxy/ },
  { name: 'notify_minutes that is not a number', config: (v) => `${v}\n[library]\nnotify_minutes = soon\n`, code: 2, message: /\[library\] notify_minutes: expected a number from 0 to 1440, got "soon"/ },
  { name: 'an unknown key in a folder section (notify typo)', config: (v) => `${v}\n[folder:run1]\nnotfy = lab-a\n`, code: 2, message: /\[folder:run1\] notfy: unknown key; did you mean notify\?/ },
  // Galaxy URL
  { name: 'a Galaxy URL that is not http(s)', config: replace(/url = .*/, 'url = ftp://galaxy.example.org'), code: 2, message: /\[galaxy\] url: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/galaxy\.example\.org"/ },
  { name: 'a Galaxy URL carrying key= (the key is not echoed)', config: replace(/url = .*/, 'url = http://127.0.0.1:1/?key=SECRET-IN-URL'), code: 2, message: /the URL carries a key= parameter: put the API key in api_key_file or \$GALAXY_API_KEY/, hides: 'SECRET-IN-URL' },
  { name: 'a Galaxy URL carrying a password (not echoed)', config: replace(/url = .*/, 'url = http://admin:hunter2@127.0.0.1:1/'), code: 2, message: /the URL carries credentials: remove them/, hides: 'hunter2' },
  { name: 'no Galaxy URL', config: replace(/url = .*\n/, ''), code: 2, message: /\[galaxy\] url is required: Galaxy's base URL/ },
  // The import directory
  { name: 'the import directory does not exist', config: (v, p) => v.replace(`dir = ${p.importDir}`, `dir = ${p.importDir}-nope`), code: 2, message: /\[import\] dir: .*-nope does not exist: create it, mount it, or fix the path/ },
  { name: 'the import directory is a file', setup: (p) => writeFileSync(path.join(p.root, 'afile'), 'x'), config: (v, p) => v.replace(`dir = ${p.importDir}`, `dir = ${path.join(p.root, 'afile')}`), code: 2, message: /\[import\] dir: .*afile is not a directory/ },
  { name: 'move:DIR inside the import directory', config: (v, p) => add('import', `after_upload = move:${p.importDir}/done`)(v), code: 2, message: /move:.*\/done lies inside the import directory, so moved files would be imported again/ },
  { name: 'link_data_only with after_upload = delete', config: (v) => add('import', 'after_upload = delete')(`${v}\n[upload]\nlink_data_only = true\n`), code: 2, message: /delete cannot be combined with link_data_only = true/ },
  { name: 'galaxy_config that does not set library_import_dir, and no [import] dir', setup: (p) => writeFileSync(path.join(p.root, 'galaxy.yml'), 'galaxy:\n  admin_users: a@b.c\n'), config: (v, p) => v.replace(`dir = ${p.importDir}\n`, '').replace('[galaxy]\n', `[galaxy]\ngalaxy_config = ${path.join(p.root, 'galaxy.yml')}\n`), code: 2, message: /galaxy\.yml does not set library_import_dir; set it there \(Galaxy needs it\) or set \[import\] dir/ },
  // The config file itself
  { name: 'the config file does not exist', args: (p) => ['--config', path.join(p.root, 'nope.ini')], code: 2, message: /nope\.ini/ },
  { name: 'the config path is a directory', args: (p) => ['--config', p.root], code: 2, message: /directory|EISDIR|cannot be read/i },
  // The key
  { name: 'no API key anywhere', env: () => ({}), code: 2, message: /no Galaxy API key: set \$GALAXY_API_KEY, or \[galaxy\] api_key_file/ },
  { name: 'api_key_file does not exist', env: () => ({}), config: add('galaxy', 'api_key_file = /nonexistent/key'), code: 2, message: /api_key_file: \/nonexistent\/key does not exist; the file must be readable/ },
  { name: 'api_key_file is empty', env: () => ({}), setup: (p) => writeFileSync(path.join(p.root, 'key'), '\n'), config: (v, p) => add('galaxy', `api_key_file = ${path.join(p.root, 'key')}`)(v), code: 2, message: /key is empty; put the admin user's API key in it/ },
  { name: 'api_key_file holds more than the key (not echoed)', env: () => ({}), setup: (p) => writeFileSync(path.join(p.root, 'key'), 'KEYPART1 KEYPART2\n'), config: (v, p) => add('galaxy', `api_key_file = ${path.join(p.root, 'key')}`)(v), code: 2, message: /holds more than one word; it must hold only the API key/, hides: 'KEYPART' },
  { name: 'the systemd credential is missing', env: (_k, p) => ({ CREDENTIALS_DIRECTORY: p.root }), code: 2, message: /the systemd credential galaxy-api-key: .*galaxy-api-key does not exist/ },
  // The shared ledger (ledger = postgresql)
  { name: 'ledger = postgresql without postgresql_url', config: add('state', 'ledger = postgresql'), code: 2, message: /\[state\] ledger: postgresql needs \[state\] postgresql_url, such as postgresql:\/\// },
  { name: 'postgresql_url with a password (not echoed)', config: add('state', 'ledger = postgresql\npostgresql_url = postgresql://importd:S3cretPW@127.0.0.1:5432/importd'), code: 2, message: /postgresql_url: the URL carries a password: remove it and put it in \[state\] postgresql_password_file or \$PGPASSWORD/, hides: 'S3cretPW' },
  { name: 'postgresql_url of another database', config: add('state', 'ledger = postgresql\npostgresql_url = mysql://importd@db/importd'), code: 2, message: /postgresql_url: expected a postgresql:\/\/ URL, got "mysql:\/\/…"/ },
  { name: 'lease_seconds below the minimum', config: add('state', 'lease_seconds = 5'), code: 2, message: /\[state\] lease_seconds: expected a whole number from 10 to 3600, got "5"/ },
  { name: 'postgresql_password_file does not exist', config: add('state', 'ledger = postgresql\npostgresql_url = postgresql://importd@127.0.0.1:9/importd\npostgresql_password_file = /nonexistent/pw'), code: 2, message: /postgresql_password_file: \/nonexistent\/pw does not exist; the file must be readable/ },
  { name: 'check: nothing answers at the PostgreSQL URL', command: 'check', config: add('state', 'ledger = postgresql\npostgresql_url = postgresql://importd@127.0.0.1:9/importd'), code: 1, message: /FAIL {2}\[state\] postgresql_url: cannot use the PostgreSQL ledger at postgresql:\/\/importd@127\.0\.0\.1:9\/importd: .*\n {6}fix: check \[state\] postgresql_url, that PostgreSQL accepts this user/ },
  // Galaxy set up wrong: check says which check failed and the fix
  { name: 'check: nothing answers at the Galaxy URL', command: 'check', config: replace(/url = .*/, 'url = http://127.0.0.1:9'), code: 1, message: /FAIL {2}Galaxy at http:\/\/127\.0\.0\.1:9: .*\n {6}fix: check \[galaxy\] url, the network, and the key/ },
  { name: 'check: the key is refused', command: 'check', env: () => ({ GALAXY_API_KEY: 'not-a-real-key' }), code: 1, message: /FAIL {2}Galaxy at .*(401|API key)/, hides: 'not-a-real-key' },
  { name: "check: the key is not an admin's", command: 'check', env: (_k, p) => ({ GALAXY_API_KEY: userKeyOf(p) }), code: 1, message: /FAIL {2}the key belongs to user@example\.org, who is not an admin\n {6}fix: use the key of a user listed in admin_users/ },
  { name: "check: Galaxy's library_import_dir is another directory", command: 'check', setup: (p) => mkdirSync(path.join(p.root, 'other')), config: (v, p) => v.replace(`dir = ${p.importDir}`, `dir = ${path.join(p.root, 'other')}`), code: 1, message: /FAIL {2}Galaxy's library_import_dir is .* but \[import\] dir is .*other\n {6}fix: they must be the same directory/ },
  { name: 'check: the state directory cannot be created', command: 'check', setup: (p) => writeFileSync(path.join(p.root, 'statefile'), 'x'), config: (v, p) => v.replace(`dir = ${p.stateDir}`, `dir = ${path.join(p.root, 'statefile', 'sub')}`), code: 1, message: /FAIL {2}.*statefile.*\n {6}fix: create the directory or fix \[state\] dir/ },
  // A key refused during a scan: the file is left for later, not failed
  { name: 'scan: the key is refused; the waiting file is not marked failed', command: 'scan', env: () => ({ GALAXY_API_KEY: 'not-a-real-key' }), code: 1, message: /refused|401/, hides: 'not-a-real-key' },
];

let emu: Emulator;
const userKeys = new Map<string, string>();
const userKeyOf = (p: Paths): string => userKeys.get(p.root) ?? '';

describe('bad-input matrix: configuration, key and Galaxy set-up', () => {
  let base: string;
  before(async () => {
    base = '';
    emu = await startEmulator({ libraryImportDir: null });
  });
  after(() => emu.close());

  for (const row of ROWS) {
    it(row.name, async (t) => {
      const root = tempDir(t, 'importd-matrix-');
      const p: Paths = { root, importDir: path.join(root, 'import'), stateDir: path.join(root, 'state'), configFile: path.join(root, 'galaxy-importd.ini'), url: emu.url };
      mkdirSync(path.join(p.importDir, 'run1'), { recursive: true });
      const waiting = path.join(p.importDir, 'run1', 'waiting.bed');
      writeFileSync(waiting, 'chr1\t1\t2\n');
      // One emulator for the matrix; this row's import directory is Galaxy's library_import_dir.
      emu.model.settings.libraryImportDir = p.importDir;
      userKeys.set(root, emu.userKey);
      const valid = `[galaxy]\nurl = ${emu.url}\ntimeout_seconds = 5\n\n[import]\ndir = ${p.importDir}\nsettle_seconds = 1\nrescan_minutes = 0\n\n[state]\ndir = ${p.stateDir}\n\n[http]\nlisten =\n`;
      base = valid;
      row.setup?.(p);
      writeFileSync(p.configFile, row.config ? row.config(base, p) : base);
      const posts = emu.requests.filter((r) => r.method === 'POST').length;

      const res = await runCli([...(row.args?.(p) ?? ['--config', p.configFile]), row.command ?? 'run'], { env: row.env?.(emu.adminKey, p) ?? { GALAXY_API_KEY: emu.adminKey } });

      const text = row.code === 2 ? res.stderr : `${res.stdout}${res.stderr}`;
      assert.equal(res.code, row.code, `exit ${res.code}:\n${res.stdout}${res.stderr}`);
      assert.match(text, row.message);
      if (row.hides) assert.equal(`${res.stdout}${res.stderr}`.includes(row.hides), false, 'a secret was echoed');
      assert.equal(`${res.stdout}${res.stderr}`.includes(emu.adminKey), false, 'the key was echoed');
      // Nothing else touched: the waiting file is there, nothing was sent, no ledger on exit 2.
      assert.equal(readFileSync(waiting, 'utf8'), 'chr1\t1\t2\n');
      assert.equal(emu.requests.filter((r) => r.method === 'POST').length, posts, 'something was sent to Galaxy');
      if (row.code === 2) assert.equal(existsSync(p.stateDir), false, 'a ledger was created on a config error');
      if (row.command === 'scan') {
        const status = await runCli(['--config', p.configFile, 'status', '--json'], { env: { GALAXY_API_KEY: emu.adminKey } });
        const states = (JSON.parse(status.stdout) as { states: Record<string, number> }).states;
        assert.equal(states.failed ?? 0, 0, 'a file was marked failed because of the key');
      }
      chmodSync(root, 0o755);
    });
  }
});
