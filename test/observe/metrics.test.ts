import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { fanOut } from '../../src/observe/events.js';
import { createLogger } from '../../src/observe/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { logEvents } from '../../src/observe/telemetry.js';
import { Discovery } from '../../src/watch/discovery.js';
import { metricsSource, turns } from '../fakes.js';

const metricsOf = () => new Metrics(metricsSource());
const value = async (m: Metrics, name: string): Promise<number> => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await m.registry.metrics())?.[1]);

describe('counters count what their names say', () => {
  it('galaxy_importd_events_total counts every log line by its event, the daemon\'s own life and the shared ledger\'s included', async () => {
    const m = metricsOf();
    m.observe({ type: 'daemon.rescan', reason: 'SIGHUP' });
    m.observe({ type: 'ledger.lease_lost', files: 3, examples: ['a'], replica: 'r1', reason: 'x' });
    m.observe({ type: 'job.check_failed', job_id: 'J1', reason: 'x' });
    const text = await m.registry.metrics();

    assert.match(text, /^galaxy_importd_events_total\{event="daemon.rescan"\} 1$/m);
    assert.match(text, /^galaxy_importd_events_total\{event="ledger.lease_lost"\} 1$/m);
    assert.match(text, /^galaxy_importd_events_total\{event="upload.retry"\} 1$/m, 'by the log line\'s event, as grep would count it');
  });

  it('galaxy_importd_uploads_total has each result at 0 before any upload ends, and counts them after', async () => {
    const m = metricsOf();
    const before = await m.registry.metrics();
    m.observe({ type: 'upload.failed', file: 'a', library: 'L', folder: '/', attempt: 1, reason: 'x' });

    assert.match(before, /^galaxy_importd_uploads_total\{result="ok"\} 0$/m);
    assert.match(before, /^galaxy_importd_uploads_total\{result="failed"\} 0$/m);
    assert.match(await m.registry.metrics(), /^galaxy_importd_uploads_total\{result="failed"\} 1$/m);
  });

  it('galaxy_importd_rescans_total counts the timer\'s rescans, not the start-up walk', async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'importd-rescan-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    t.mock.timers.enable({ apis: ['setInterval'] });
    const m = metricsOf();
    const walks: boolean[] = [];
    const discovery = new Discovery({
      importDir: dir,
      admit: { walked: () => undefined, consider: () => Promise.resolve(), gone: () => undefined, skipDir: () => false, ignored: () => false, deferred: 0 },
      watch: () => ({ addDir: () => Promise.resolve(), removeDir: () => Promise.resolve(), unwatch: () => undefined, close: () => Promise.resolve(), size: 0 }),
      rescanMinutes: 1,
      clock: systemClock,
      emit: fanOut((e) => void (e.type === 'daemon.walk' && walks.push(e.initial)), (e) => m.observe(e)),
    });
    await discovery.start(true);
    assert.equal(await value(m, 'galaxy_importd_rescans_total'), 0, 'the start-up walk is not a rescan');
    t.mock.timers.tick(60_000);
    await discovery.walking;
    await turns();
    t.mock.timers.tick(60_000);
    await discovery.walking;
    await turns();
    await discovery.close();

    assert.deepEqual(walks, [true, false, false]);
    assert.equal(await value(m, 'galaxy_importd_rescans_total'), 2);
  });

  it('galaxy_importd_ledger_outages_total counts the database going away, not a stop with changes unwritten', async () => {
    const m = metricsOf();
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk: Buffer, _e, cb) => void (lines.push(chunk.toString()), cb()) }));
    const emit = fanOut(logEvents(log), (e) => m.observe(e));
    emit({ type: 'ledger.unwritten', ledger: 'db', changes: 3 });
    assert.equal(await value(m, 'galaxy_importd_ledger_outages_total'), 0);
    emit({ type: 'ledger.unavailable', ledger: 'db', err: 'ECONNREFUSED', code: 'ECONNREFUSED' });

    assert.equal(await value(m, 'galaxy_importd_ledger_outages_total'), 1);
    // Both keep the log event they always had.
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { event: string }).event), ['ledger.unavailable', 'ledger.unavailable']);
  });

  it('galaxy_importd_retries_total counts uploads to be retried, and the log line of a failed job look keeps its event', async () => {
    const m = metricsOf();
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk: Buffer, _e, cb) => void (lines.push(chunk.toString()), cb()) }));
    const emit = fanOut(logEvents(log), (e) => m.observe(e));
    emit({ type: 'job.check_failed', job_id: 'J1', reason: '504' });
    assert.equal(await value(m, 'galaxy_importd_retries_total'), 0);
    emit({ type: 'upload.retry', file: 'a', library: 'L', folder: '/a', attempt: 1, reason: '502', delay_ms: 1000 });

    assert.equal(await value(m, 'galaxy_importd_retries_total'), 1);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { event: string }).event), ['upload.retry', 'upload.retry']);
  });
});

describe('gauges say the states alerts need', () => {
  it('galaxy_importd_ready is 1 when there is no reason not to be ready, else 0', async () => {
    let reasons: string[] = [];
    const m = new Metrics(metricsSource({ readiness: () => Promise.resolve(reasons) }));
    const ready = await value(m, 'galaxy_importd_ready');
    reasons = ['Galaxy is not reachable: ECONNREFUSED'];

    assert.equal(ready, 1);
    assert.equal(await value(m, 'galaxy_importd_ready'), 0);
  });

  it('galaxy_importd_paused has every reason, at 1 only for the one the gate holds', async () => {
    let kind: 'key' | 'failing' | null = null;
    const m = new Metrics(metricsSource({ paused: () => kind }));
    const open = await m.registry.metrics();
    kind = 'key';
    const refused = await m.registry.metrics();

    for (const reason of ['key', 'unusable', 'failing']) assert.match(open, new RegExp(`^galaxy_importd_paused\\{reason="${reason}"\\} 0$`, 'm'));
    assert.match(refused, /^galaxy_importd_paused\{reason="key"\} 1$/m);
    assert.match(refused, /^galaxy_importd_paused\{reason="failing"\} 0$/m);
  });

  it('galaxy_importd_ledger_available is 0 while the ledger has a problem', async () => {
    let problem: string | null = null;
    const m = new Metrics(metricsSource({ ledgerProblem: () => problem }));
    const before = await value(m, 'galaxy_importd_ledger_available');
    problem = 'the PostgreSQL ledger at db cannot be reached since …';

    assert.equal(before, 1);
    assert.equal(await value(m, 'galaxy_importd_ledger_available'), 0);
  });
});
