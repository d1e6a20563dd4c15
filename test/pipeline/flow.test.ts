import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Flow } from '../../src/pipeline/flow.js';

describe('Flow: the signals that run against the pipeline', () => {
  it('hands each event to every listener of it, in the order they subscribed, and to no other', () => {
    const flow = new Flow();
    const heard: string[] = [];
    flow.on('done', (p) => heard.push(`a:done:${p}`));
    flow.on('changed', (p) => heard.push(`changed:${p}`));
    flow.on('done', (p) => heard.push(`b:done:${p}`));
    flow.emit('done', 'run1/x.txt');
    flow.emit('shrank');

    assert.deepEqual(heard, ['a:done:run1/x.txt', 'b:done:run1/x.txt']);
  });
});
