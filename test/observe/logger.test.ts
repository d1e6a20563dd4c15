import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';

const KEY = '0123456789abcdef0123456789abcdef';

function sink(): { write(line: string): void; lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line) };
}

describe('the logger', () => {
  it('never writes the API key: not in a field named like a key, not nested, not inside a message', () => {
    const out = sink();
    const log = createLogger('info', out, [KEY]);

    log.info({ event: 'a', apiKey: KEY }, 'first');
    log.info({ event: 'b', request: { headers: { 'x-api-key': KEY } } }, 'second');
    log.warn({ event: 'c', reason: `Galaxy said: key ${KEY} is not valid` }, `retrying with ${KEY}`);

    assert.equal(out.lines.length, 3);
    for (const line of out.lines) assert.equal(line.includes(KEY), false, line);
    assert.match(out.lines[2] ?? '', /"reason":"Galaxy said: key \[redacted\] is not valid"/);
    assert.match(out.lines[2] ?? '', /"msg":"retrying with \[redacted\]"/);
  });

  it('leaves lines without the key as they are', () => {
    const out = sink();
    const log = createLogger('info', out, [KEY]);
    log.info({ event: 'upload.ok', file: 'run1/a.txt', dataset_id: '0123456789abcdef' }, 'upload ok');
    assert.match(out.lines[0] ?? '', /"file":"run1\/a.txt","dataset_id":"0123456789abcdef","msg":"upload ok"/);
  });
});
