import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { GalaxyClient } from '../../src/galaxy/client.js';
import { GalaxyApiError } from '../../src/galaxy/errors.js';
import { Gate, UNUSABLE_STRIKES } from '../../src/pipeline/gate.js';

const noRoute = new GalaxyApiError({ status: 404, errCode: null, errMsg: '"404 Not Found: No route for /api/jobs" (text/html)', retryAfterMs: null, fromGalaxy: false, method: 'GET', path: '/api/jobs' });

function gate(probeMs = 60_000): { gate: Gate; said: string[] } {
  const said: string[] = [];
  const client = { currentUser: () => Promise.resolve({ is_admin: true }) } as unknown as GalaxyClient;
  const g = new Gate(client, {
    refused: (m) => said.push(`refused ${m}`),
    restored: () => said.push('restored'),
    unusable: (request) => said.push(`unusable ${request}`),
    reloaded: () => said.push('reloaded'),
    failing: (run) => said.push(`failing ${run.jobs}`),
  }, probeMs, systemClock);
  return { gate: g, said };
}

describe('the gate and answers that cannot be used', () => {
  it(`closes on the ${UNUSABLE_STRIKES}rd unusable answer in a row to one request, not before, and a good answer starts the count again`, () => {
    const { gate: g, said } = gate();

    g.onAnswer('GET /api/jobs', noRoute);
    g.onAnswer('GET /api/jobs', noRoute);
    g.onAnswer('GET /api/jobs', null);
    g.onAnswer('GET /api/jobs', noRoute);
    g.onAnswer('GET /api/jobs/{id}', noRoute);
    g.onAnswer('GET /api/jobs', noRoute);
    const openBefore = g.blocked;
    g.onAnswer('GET /api/jobs', noRoute);

    assert.equal(openBefore, null);
    assert.equal(g.kind, 'unusable');
    assert.match(g.blocked ?? '', /^GET \/api\/jobs: Galaxy answered 404 to GET \/api\/jobs: .*No route for \/api\/jobs/);
    assert.deepEqual(said, ['unusable GET /api/jobs']);
    g.close();
  });

  it('holds every waiter for probeMs, then lets the work ask again; an answer still unusable closes it at once, so the line comes once per probeMs', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { gate: g, said } = gate(60_000);
    for (let i = 0; i < UNUSABLE_STRIKES; i++) g.onAnswer('POST /api/tools/fetch', noRoute);
    let released = false;
    const waiting = g.wait().then(() => (released = true));

    t.mock.timers.tick(59_999);
    await Promise.resolve();
    const heldAt59 = !released;
    t.mock.timers.tick(1);
    await waiting;
    const openAfter = g.blocked;
    g.onAnswer('POST /api/tools/fetch', noRoute);
    g.onAnswer('POST /api/tools/fetch', noRoute);

    assert.equal(heldAt59, true);
    assert.equal(released, true);
    assert.equal(openAfter, null);
    assert.equal(g.kind, 'unusable');
    assert.deepEqual(said, ['unusable POST /api/tools/fetch', 'unusable POST /api/tools/fetch']);
    g.close();
  });

  it('a refused key is its own kind, and is not reopened by the unusable timer', () => {
    const { gate: g } = gate();

    g.block('401 Provided API key is not valid.');
    for (let i = 0; i < UNUSABLE_STRIKES; i++) g.onAnswer('GET /api/jobs', noRoute);

    assert.equal(g.kind, 'key');
    assert.equal(g.blocked, '401 Provided API key is not valid.');
    g.close();
  });
});

describe('the gate while the key is refused (fake timers)', () => {
  it('probes the key once per probeMs, says so each time, and opens when it works as an admin\'s', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const said: string[] = [];
    const answers = [{ is_admin: false }, { is_admin: true }];
    const g = new Gate({ currentUser: () => Promise.resolve(answers.shift() ?? { is_admin: true }) }, {
      refused: (m) => said.push(`refused ${m}`),
      restored: () => said.push('restored'),
      unusable: () => undefined,
      reloaded: () => said.push('reloaded'),
      failing: () => undefined,
    }, 60_000, systemClock);
    g.block('401 Provided API key is not valid.');
    let through = false;
    const waiting = g.wait().then(() => (through = true));
    t.mock.timers.tick(59_999);
    await Promise.resolve();
    assert.equal(through, false);
    t.mock.timers.tick(1);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    assert.equal(through, false, 'a key whose user is not an admin keeps it closed');
    t.mock.timers.tick(60_000);
    await waiting;

    assert.deepEqual(said, ['refused 401 Provided API key is not valid.', 'refused the key works but its user is not an admin (admin_users in galaxy.yml)', 'restored']);
    assert.equal(g.blocked, null);
    g.close();
  });
});

describe('the gate and a rotated key (fake timers)', () => {
  /** A key source whose file holds `next` once written; Galaxy accepts only the key 'new'. */
  function rotating(t: TestContext) {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const said: string[] = [];
    let held = 'old';
    let file = 'old';
    const key = { source: 'api_key_file' as const, reload: () => (file === held ? false : ((held = file), true)), advice: () => 'write it into /etc/galaxy-importd/api_key' };
    const asked: string[] = [];
    const client = { currentUser: () => (asked.push(held), Promise.resolve(held === 'new' ? { is_admin: true } : Promise.reject(new Error('401 Provided API key has expired.')))) };
    const g = new Gate(client, {
      refused: (m, fix) => said.push(`refused ${m} / ${fix}`),
      restored: () => said.push('restored'),
      unusable: () => undefined,
      reloaded: (source) => said.push(`reloaded from ${source}`),
      failing: () => undefined,
    }, 60_000, systemClock, key);
    return { g, said, asked, write: (k: string) => (file = k) };
  }
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };

  it('a refusal says where the key comes from; SIGHUP after the new key is written probes at once and opens', async (t) => {
    const { g, said, asked, write } = rotating(t);
    g.block('401 Provided API key has expired.');
    write('new');
    g.reloadKey();
    t.mock.timers.tick(0);
    await settle();

    assert.deepEqual(said, ['refused 401 Provided API key has expired. / write it into /etc/galaxy-importd/api_key', 'reloaded from api_key_file', 'restored']);
    assert.deepEqual(asked, ['new'], 'probed with the new key, without waiting a minute');
    assert.equal(g.blocked, null);
    g.close();
  });

  it('without SIGHUP, the next probe reads the key file again and opens', async (t) => {
    const { g, said, write } = rotating(t);
    g.block('401 Provided API key has expired.');
    t.mock.timers.tick(60_000);
    await settle();
    write('new');
    t.mock.timers.tick(59_999);
    await settle();
    const closedBefore = g.blocked !== null;
    t.mock.timers.tick(1);
    await settle();

    assert.equal(closedBefore, true);
    assert.equal(g.blocked, null);
    assert.deepEqual(said.slice(-2), ['reloaded from api_key_file', 'restored']);
    assert.equal(said.filter((l) => l.startsWith('refused')).length, 2, 'said at the refusal and at the probe that failed, no more');
    g.close();
  });

  it('a key already rotated when Galaxy refuses the old one is probed at once, without a refusal said', async (t) => {
    const { g, said, write } = rotating(t);
    write('new');
    g.block('401 Provided API key has expired.');
    t.mock.timers.tick(0);
    await settle();

    assert.deepEqual(said, ['reloaded from api_key_file', 'restored']);
    g.close();
  });

  it('SIGHUP while the key works takes a new key for the next requests, and says so', (t) => {
    const { g, said, write } = rotating(t);
    write('newer');
    g.reloadKey();
    g.reloadKey();

    assert.deepEqual(said, ['reloaded from api_key_file']);
    assert.equal(g.blocked, null);
    g.close();
  });
});
