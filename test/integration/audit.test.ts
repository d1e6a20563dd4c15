import assert from 'node:assert/strict';
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/cli.js';
import { call, put } from '../helpers.js';
import type { Harness, Sections } from './harness.js';
import { harness, ini } from './harness.js';

/** A whole second a minute ago: an mtime that utimes puts back exactly. */
const WHEN = Math.floor(Date.now() / 1000) - 60;

const FILES: Record<string, string> = {
  'run1/a.txt': 'alpha\n',
  'run1/b.txt': 'bravo\n',
  'run1/c.txt': 'charlie\n',
  'run2/d.txt': 'delta\n',
  'run2/e.txt': 'echo\n',
  'run2/f.txt': 'foxtrot\n',
};

interface AuditJson {
  checked: number;
  matching: number;
  failed: boolean;
  counts: Record<string, number>;
  files: { file: string; library: string; folder: string; dataset_id: string; linked: boolean; problems: { kind: string; problem: string; detail: string }[] }[];
}

/** Every file imported by a daemon that then stopped; `audit` runs the CLI in this process on the same config. */
async function imported(t: Parameters<typeof harness>[0], extra: Sections = {}): Promise<{ h: Harness; audit: (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }> }> {
  const h = await harness(t, { ini: extra });
  for (const [rel, content] of Object.entries(FILES)) {
    put(h.importDir, rel, content);
    utimesSync(path.join(h.importDir, rel), WHEN, WHEN);
  }
  await h.start();
  await h.waitOk(Object.keys(FILES));
  await h.stop();
  const configFile = path.join(h.stateDir, '..', 'galaxy-importd.ini');
  writeFileSync(configFile, ini({
    galaxy: { url: h.emu.url, timeout_seconds: 5 },
    import: { dir: h.importDir },
    upload: { rate_per_second: 0 },
    state: { dir: h.stateDir },
    http: { listen: '' },
  }, extra));
  return {
    h,
    audit: async (...args) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(['--config', configFile, 'audit', ...args], {
        env: { GALAXY_API_KEY: h.emu.adminKey },
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        onSignal: () => undefined,
      });
      assert.equal(`${stdout}${stderr}`.includes(h.emu.adminKey), false, 'the key is never printed');
      return { code, stdout, stderr };
    },
  };
}

/** The emulator's live dataset of an imported file's name. */
function datasetOf(h: Harness, name: string): { id: number; encoded: string } {
  const d = [...h.emu.model.datasets.values()].find((x) => x.name === name && !x.deleted);
  assert.ok(d, name);
  return { id: d.id, encoded: h.emu.model.codec.encode(d.id) };
}

describe('audit: imported files against disk and Galaxy (emulator)', () => {
  it('finds everything as imported: exit 0, every file matching, the hashes Galaxy stored equal to the ledger\'s', async (t) => {
    const { h, audit } = await imported(t);

    const text = await audit();
    const json = await audit('--json');

    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^audit: 6 imported files checked \(all\): on disk read again at most 50 MB\/s, and in Galaxy$/m);
    assert.match(text.stdout, /^ {2}matching +6$/m);
    assert.match(text.stdout, /^audit: every file matches$/m);
    const report = JSON.parse(json.stdout) as AuditJson;
    assert.deepEqual([json.code, report.checked, report.matching, report.failed, report.files], [0, 6, 6, false, []]);
    const stored = [...h.emu.model.datasets.values()].map((d) => d.hashes?.map((x) => x.hashFunction));
    assert.deepEqual(stored, Array.from({ length: 6 }, () => ['SHA-256']), 'each dataset keeps the SHA-256 it was sent with');
  });

  it('reports a file overwritten with the same size and mtime, a file deleted, a dataset deleted, one gone and one not ok in Galaxy, and a stored hash that differs: exit 1', async (t) => {
    const { h, audit } = await imported(t);
    writeFileSync(path.join(h.importDir, 'run1/b.txt'), 'BRAVO\n');
    utimesSync(path.join(h.importDir, 'run1/b.txt'), WHEN, WHEN);
    rmSync(path.join(h.importDir, 'run1/c.txt'));
    const deleted = await call(h.emu, 'DELETE', `/api/libraries/datasets/${datasetOf(h, 'd.txt').encoded}`);
    assert.equal(deleted.status, 200);
    h.emu.model.datasets.delete(datasetOf(h, 'e.txt').id);
    const f = h.emu.model.datasets.get(datasetOf(h, 'f.txt').id);
    assert.ok(f?.hashes?.[0]);
    f.hashes[0].hex = '0'.repeat(64);
    const a = h.emu.model.datasets.get(datasetOf(h, 'a.txt').id);
    assert.ok(a);
    a.state = 'error';

    const text = await audit();
    const json = await audit('--json');

    const report = JSON.parse(json.stdout) as AuditJson;
    assert.deepEqual([text.code, json.code, report.checked, report.matching, report.failed], [1, 1, 6, 0, true]);
    assert.deepEqual(report.files.map((x) => [x.file, x.problems.map((p) => p.kind)]), [
      ['run1/a.txt', ['not_ok_in_galaxy']],
      ['run1/b.txt', ['bytes_changed_on_disk']],
      ['run1/c.txt', ['missing_on_disk']],
      ['run2/d.txt', ['deleted_in_galaxy']],
      ['run2/e.txt', ['missing_in_galaxy']],
      ['run2/f.txt', ['galaxy_hash_differs']],
    ]);
    assert.match(text.stdout, /^ {2}run1\/b\.txt \(Imports \/run1\): changed on disk \(same size and mtime\): SHA-256 [0-9a-f]{16}… in the ledger, [0-9a-f]{16}… on disk$/m);
    assert.match(text.stdout, /^ {2}run1\/c\.txt \(Imports \/run1\): missing on disk: .*run1\/c\.txt does not exist$/m);
    assert.match(text.stdout, /^ {2}run2\/e\.txt \(Imports \/run2\): missing in Galaxy: dataset [0-9a-f]{16}: not in its folder F[0-9a-f]{16}, deleted ones included, and Galaxy answered 500/m);
    assert.match(text.stdout, /^ {2}deleted in Galaxy +1$/m);
    assert.match(text.stdout, /^audit: 6 of 6 files differ or are missing$/m);
  });

  it('audits a path prefix or a library only; an empty scope or both at once is a usage error', async (t) => {
    const { h, audit } = await imported(t);
    rmSync(path.join(h.importDir, 'run1/c.txt'));

    const run2 = await audit('--json', 'run2');
    const absolute = await audit('--json', path.join(h.importDir, 'run1'));
    const library = await audit('--json', '--library', 'Imports');
    const none = await audit('--library', 'Nope');
    const both = await audit('run1', '--library', 'Imports');
    const rate = await audit('--max-mb-per-second', 'fast');

    assert.deepEqual([run2.code, (JSON.parse(run2.stdout) as AuditJson).checked], [0, 3]);
    assert.deepEqual([absolute.code, (JSON.parse(absolute.stdout) as AuditJson).files.map((x) => x.file)], [1, ['run1/c.txt']]);
    assert.deepEqual([library.code, (JSON.parse(library.stdout) as AuditJson).checked], [1, 6]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /holds no imported file in the library Nope/);
    assert.equal(both.code, 2);
    assert.equal(rate.code, 2);
    assert.match(rate.stderr, /--max-mb-per-second takes a number/);
  });

  it('a file imported without a checksum is reported but fails the audit only with --strict', async (t) => {
    const { audit } = await imported(t, { upload: { checksum: 'none' } });

    const plain = await audit();
    const strict = await audit('--strict', '--json');

    assert.equal(plain.code, 0, plain.stdout);
    assert.match(plain.stdout, /^ {2}no checksum +6$/m);
    assert.match(plain.stdout, /^audit: every file matches \(6 cannot be verified: no checksum or no hash in Galaxy; --strict fails on these\)$/m);
    assert.equal(strict.code, 1);
    assert.deepEqual(new Set((JSON.parse(strict.stdout) as AuditJson).files.flatMap((x) => x.problems.map((p) => p.kind))), new Set(['no_checksum']));
  });

  it('says of a linked file changed on disk that its dataset itself changed', async (t) => {
    const { h, audit } = await imported(t, { 'folder:run2': { link_data_only: true } });
    writeFileSync(path.join(h.importDir, 'run2/d.txt'), 'DELTA\n');
    utimesSync(path.join(h.importDir, 'run2/d.txt'), WHEN, WHEN);

    const json = await audit('--json');

    const report = JSON.parse(json.stdout) as AuditJson;
    assert.equal(json.code, 1);
    assert.deepEqual(report.files.map((x) => [x.file, x.linked, x.problems.map((p) => p.kind)]), [['run2/d.txt', true, ['bytes_changed_on_disk']]]);
    assert.match(report.files[0]?.problems[0]?.detail ?? '', /link_data_only\): Galaxy's dataset is this file, so the dataset itself changed/);
  });
});
