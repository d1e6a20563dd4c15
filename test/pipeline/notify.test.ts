import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import { GalaxyApiError } from '../../src/galaxy/errors.js';
import { NOTIFY_GATHER_MS, Notifier } from '../../src/pipeline/notify.js';
import { events, turns } from '../fakes.js';

/** A Notifier on fake timers, a config with [folder:run1] notify, and a Galaxy that records what it is sent. */
function notifier(t: TestContext, o: { version?: string; enabled?: boolean; minutes?: number; refuse?: GalaxyApiError; missing?: string[] } = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const sent: { roleIds: readonly string[]; subject: string; message: string }[] = [];
  const emit = events();
  const config = parseConfig(`[library]\nnotify_minutes = ${o.minutes ?? 5}\n[folder:run1]\nnotify = lab-a, pi@lab.org\n[folder:quiet]\ndbkey = hg38\n`, null);
  const n = new Notifier({
    client: {
      version: () => Promise.resolve({ version_major: o.version ?? '26.1' }),
      configuration: () => Promise.resolve({ enable_notification_system: o.enabled ?? true }),
      sendNotification: (m) => (o.refuse ? Promise.reject(o.refuse) : (sent.push(m), Promise.resolve({ total_notifications_sent: 2 }))),
    },
    roles: { roleId: (name, setting) => ((o.missing ?? []).includes(name) ? Promise.reject(new Error(`${setting ?? 'access'} = ${name}: Galaxy has no role named "${name}"`)) : Promise.resolve(`id-${name}`)) },
    config, clock: systemClock, emit, everyMs: (o.minutes ?? 5) * 60_000,
  });
  const ok = (file: string, reason?: string): void => n.observe({ type: 'upload.ok', file, library: 'Imports', folder: '/x', dataset_id: 'd', size: 1, ...(reason ? { reason } : {}) });
  const tick = async (ms: number): Promise<void> => {
    t.mock.timers.tick(ms);
    await turns(30);
  };
  return { n, sent, emit, ok, tick };
}

describe('Notifier (fake timers)', () => {
  it('gathers a folder\'s ok files into one notification to its roles and users, naming library, folder and count', async (t) => {
    const { sent, emit, ok, tick } = notifier(t);
    ok('run1/a.fastq');
    ok('run1/b.fastq');
    ok('quiet/c.txt');
    ok('run1/old.txt', 'already in Galaxy');

    await tick(NOTIFY_GATHER_MS - 1);
    assert.equal(sent.length, 0, 'not before the gathering time');
    await tick(1);

    assert.deepEqual(sent, [{
      roleIds: ['id-lab-a', 'id-pi@lab.org'], source: 'galaxy-importd',
      subject: '2 new files in Imports /run1',
      message: '2 files were imported into the data library **Imports**, folder **/run1**: a.fastq, b.fastq.',
    }]);
    assert.deepEqual(emit.of('notify.sent').map((e) => [e.library, e.folder, e.files, e.sent]), [['Imports', '/run1', 2, 2]]);
  });

  it('sends at most one per folder every notify_minutes: later files wait and are counted into the next', async (t) => {
    const { sent, ok, tick } = notifier(t, { minutes: 5 });
    ok('run1/a.txt');
    await tick(NOTIFY_GATHER_MS);
    ok('run1/b.txt');
    ok('run1/c.txt');
    await tick(4 * 60_000);
    assert.equal(sent.length, 1, 'the second waits for its five minutes');
    await tick(60_000);

    assert.deepEqual(sent.map((s) => s.subject), ['1 new file in Imports /run1', '2 new files in Imports /run1']);
  });

  it('flush at stop sends what is gathered at once', async (t) => {
    const { n, sent, ok } = notifier(t);
    ok('run1/a.txt');
    const flushed = n.flush(1000);
    await turns(30);
    await flushed;
    assert.equal(sent.length, 1);
  });

  it('a Galaxy older than 23.1, or with notifications off, is said once and sent nothing', async (t) => {
    for (const o of [{ version: '23.0' }, { enabled: false }]) {
      const { sent, emit, ok, tick } = notifier(t, o);
      ok('run1/a.txt');
      await tick(NOTIFY_GATHER_MS);
      ok('run1/b.txt');
      await tick(10 * 60_000);
      assert.equal(sent.length, 0);
      assert.equal(emit.of('notify.unavailable').length, 1, JSON.stringify(o));
      assert.match(emit.of('notify.unavailable')[0]?.reason ?? '', o.enabled === false ? /enable_notification_system: true in galaxy\.yml/ : /Galaxy 23\.0 has no notifications \(they came in 23\.1\)/);
      t.mock.timers.reset();
    }
  });

  it('a missing recipient is said and the others are told; a refusal is logged and the files stay ok', async (t) => {
    const missing = notifier(t, { missing: ['pi@lab.org'] });
    missing.ok('run1/a.txt');
    await missing.tick(NOTIFY_GATHER_MS);
    assert.deepEqual(missing.sent.map((s) => s.roleIds), [['id-lab-a']]);
    assert.match(missing.emit.of('notify.failed')[0]?.reason ?? '', /notify = pi@lab\.org: Galaxy has no role/);
    t.mock.timers.reset();

    const refused = notifier(t, { refuse: new GalaxyApiError({ status: 400, method: 'POST', path: '/api/notifications', errMsg: 'bad recipients', errCode: 400008, retryAfterMs: null, fromGalaxy: true }) });
    refused.ok('run1/a.txt');
    await refused.tick(NOTIFY_GATHER_MS);
    assert.match(refused.emit.of('notify.failed')[0]?.reason ?? '', /bad recipients/);
  });
});
