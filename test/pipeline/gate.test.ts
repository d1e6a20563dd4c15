import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
  }, probeMs);
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
    }, 60_000);
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
