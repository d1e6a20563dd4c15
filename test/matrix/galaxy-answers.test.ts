/**
 * Bad-input matrix, part 3: Galaxy's answers (issue 5). Each row injects one bad answer into
 * one upload and asserts the file's end state, the reason logged, and that nothing else was
 * lost: a control file uploaded in the same run is ok, and no file is in Galaxy twice.
 * In-process daemon, real chokidar, real SQLite, the emulator on a loopback port.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FaultRule } from '../../emulator/faults.js';
import { waitFor } from '../helpers.js';
import { harness } from '../integration/harness.js';

interface Row {
  name: string;
  /** Faults for this row's upload; `times` keeps them from touching the other rows. */
  faults: FaultRule[];
  /** ok: imported exactly once after retries; failed: the reason must match. */
  outcome: 'ok' | RegExp;
  /** A log line about the bad answer (upload.retry or upload.failed reason). */
  logged?: RegExp;
}

const FETCH = { method: 'POST', path: '^/api/tools/fetch$' };
const CONTENTS = { method: 'GET', path: '^/api/folders/[^/]+/contents$' };
const JOB = { method: 'GET', path: '^/api/jobs/[^/]+$' };

const ROWS: Row[] = [
  { name: 'a proxy 502 HTML page', faults: [{ ...FETCH, times: 1, action: { type: 'status', status: 502, body: 'html' } }], outcome: 'ok', logged: /502/ },
  { name: '503 with Retry-After', faults: [{ ...FETCH, times: 1, action: { type: 'status', status: 503, body: 'text', retryAfter: 1 } }], outcome: 'ok', logged: /503/ },
  { name: '200 with a body that is not JSON', faults: [{ ...FETCH, times: 1, action: { type: 'invalid-json' } }], outcome: 'ok', logged: /JSON/i },
  { name: '200 with an empty body', faults: [{ ...FETCH, times: 1, action: { type: 'status', status: 200, body: 'empty' } }], outcome: 'ok' },
  { name: '200 with an unexpected shape', faults: [{ ...FETCH, times: 1, action: { type: 'shape', body: { unexpected: true } } }], outcome: 'ok' },
  { name: 'a huge body (over the 64 MB cap)', faults: [{ ...FETCH, times: 1, action: { type: 'huge', bytes: 65 * 1024 * 1024 } }], outcome: 'ok', logged: /larger than/ },
  { name: 'a slow-drip body past the deadline', faults: [{ ...FETCH, times: 1, action: { type: 'slow-drip', ms: 400 } }], outcome: 'ok' },
  { name: 'no answer at all (hang)', faults: [{ ...FETCH, times: 1, action: { type: 'hang' } }], outcome: 'ok' },
  { name: 'connection reset before Galaxy acted', faults: [{ ...FETCH, times: 1, action: { type: 'reset' } }], outcome: 'ok' },
  { name: 'accepted, then a 502 page (the upload did happen)', faults: [{ ...FETCH, times: 1, action: { type: 'accept-then', status: 502, body: 'html' } }], outcome: 'ok' },
  { name: 'accepted, then the connection reset', faults: [{ ...FETCH, times: 1, action: { type: 'accept-then-reset' } }], outcome: 'ok' },
  { name: 'folder contents answered with invalid JSON while confirming', faults: [{ ...CONTENTS, times: 1, action: { type: 'invalid-json' } }], outcome: 'ok' },
  { name: 'the job answered with an HTML 500 while confirming', faults: [{ ...JOB, times: 2, action: { type: 'status', status: 500, body: 'html' } }], outcome: 'ok' },
  { name: 'a Galaxy 400 error (permanent): failed with its message, not retried', faults: [{ ...FETCH, times: 1, action: { type: 'status', status: 400, body: 'json' } }], outcome: /./ },
];

describe("bad-input matrix: Galaxy's answers", () => {
  it(`${ROWS.length} kinds of bad answers, one upload each, in one daemon run`, { timeout: 180_000 }, async (t) => {
    const h = await harness(t, { ini: { galaxy: { timeout_seconds: 2 }, upload: { max_attempts: 4, backoff_max_seconds: 1 } } });
    await h.start();
    for (const [i, row] of ROWS.entries()) {
      await t.test(row.name, async () => {
        const dir = `g${String(i).padStart(2, '0')}`;
        const file = `${dir}/data.txt`;
        h.emu.faults.clear();
        h.emu.addFaults(...row.faults);
        mkdirSync(path.join(h.importDir, dir));
        writeFileSync(path.join(h.importDir, file), `${row.name}\n`);
        const end = await waitFor(() => h.events('upload.ok', file)[0] ?? h.events('upload.failed', file)[0], 60_000, `an outcome for ${file}`);
        const copies = h.emu.model.tree().filter((d) => d.folder === `/${dir}` && d.state === 'ok');
        if (row.outcome === 'ok') {
          assert.equal(end.event, 'upload.ok', String(end.reason));
          assert.equal(copies.length, 1, `${file} is ok in Galaxy ${copies.length} times`);
        } else {
          assert.equal(end.event, 'upload.failed');
          assert.match(String(end.reason), row.outcome);
          assert.equal(h.events('upload.retry', file).length, 0, 'a permanent error is not retried');
          assert.equal(copies.length, 0);
        }
        if (row.logged) {
          const reasons = [...h.events('upload.retry', file), ...h.events('upload.failed', file), ...h.events('upload.retry')].map((l) => String(l.reason));
          assert.ok(reasons.some((r) => row.logged?.test(r)), `no log line says ${row.logged}: ${reasons.join(' | ')}`);
          for (const r of reasons) assert.ok(!/<html|<body/i.test(r), `an HTML page leaked into a reason: ${r.slice(0, 200)}`);
        }
      });
    }
    // Nothing else lost: a control file after all the rows, and no name twice in Galaxy.
    h.emu.faults.clear();
    mkdirSync(path.join(h.importDir, 'control'));
    writeFileSync(path.join(h.importDir, 'control', 'after.txt'), 'after\n');
    await h.waitOk(['control/after.txt'], 30_000);
    const names = h.datasets().filter((d) => !d.includes('Unnamed'));
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), []);
  });
});
