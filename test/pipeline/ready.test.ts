import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { Files } from '../../src/pipeline/files.js';
import { Ready } from '../../src/pipeline/ready.js';
import { statFileSync } from '../../src/pipeline/settle.js';
import { ROUTE, events, memoryRows } from '../fakes.js';
import { tempDir } from '../helpers.js';

describe('Ready: settled files checked, claimed and queued', () => {
  it('files that became ready in one turn are queued in one turn, each with its checksum, whatever the time their checksums took', async (t) => {
    const dir = tempDir(t);
    const names = ['a/1.txt', 'b/2.txt', 'c/3.txt', 'c/4.txt', 'd/5.txt', 'e/6.txt'];
    for (const [i, n] of names.entries()) {
      writeFileSync(path.join(dir, n.replace('/', '-')), 'x'.repeat(1000 * (i + 1)));
    }
    const queued: { path: string; turn: number }[] = [];
    let turn = 0;
    const tick = setInterval(() => turn++, 0);
    t.after(() => clearInterval(tick));
    const emit = events();
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const ready = new Ready({
      importDir: dir, rules: { settled: () => null }, files: new Files({ ledger: memoryRows(), emit, clock: systemClock }),
      route: () => ROUTE, queue: (f) => {
        queued.push({ path: f.path, turn });
        assert.match(f.checksum?.hex ?? '', /^[0-9a-f]{64}$/);
        if (queued.length === names.length) done();
      },
      checksum: 'sha256', stat: (p) => statFileSync(dir, p), changed: () => assert.fail('nothing changed'), clock: systemClock, emit,
    });
    for (const n of names) {
      const p = n.replace('/', '-');
      const fp = statFileSync(dir, p);
      assert.ok(fp);
      ready.take(p, fp);
    }
    assert.equal(ready.size, names.length);
    await all;

    assert.deepEqual(new Set(queued.map((q) => q.turn)).size, 1, `one turn: ${JSON.stringify(queued)}`);
    assert.equal(ready.size, 0);
  });
});
