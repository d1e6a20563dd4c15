import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Quiet } from '../../src/pipeline/quiet.js';
import { turns } from '../fakes.js';

describe('Quiet: idle as an event', () => {
  it('lets waiters go at the first check that finds nothing left, and not before', async () => {
    let left = 2;
    const quiet = new Quiet(() => left === 0);
    let done = false;
    const waiting = quiet.wait().then(() => (done = true));
    left = 1;
    quiet.check();
    await turns();
    assert.equal(done, false);
    left = 0;
    quiet.check();
    await waiting;

    assert.equal(done, true);
  });

  it('resolves at once when already quiet, and waits when not', async () => {
    let quietDone = false;
    let busyDone = false;
    void new Quiet(() => true).wait().then(() => (quietDone = true));
    void new Quiet(() => false).wait().then(() => (busyDone = true));
    await turns(1);

    assert.equal(quietDone, true);
    assert.equal(busyDone, false);
  });
});
