import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { JobSummary } from '../../src/galaxy/client.js';
import { Details } from '../../src/pipeline/datasets.js';

describe('Details: what a failure quotes', () => {
  it("asks Galaxy for a failed job's stderr once, however many folders of the job quote it", async () => {
    const asked: string[] = [];
    const client = {
      showJob: (id: string): Promise<JobSummary> => (asked.push(id), Promise.resolve({ id, state: 'error', stderr: `  ${id} crashed \n` })),
      showLibraryContent: () => Promise.reject(new Error('unused')),
      updateLibraryDataset: () => Promise.reject(new Error('unused')),
    };
    const details = new Details(client, { dataset: () => Promise.resolve() }, { clock: systemClock, signal: new AbortController().signal, emit: () => undefined });

    const quoted = await Promise.all([details.stderr('J1'), details.stderr('J1'), details.stderr('J2'), details.stderr('J1')]);

    assert.deepEqual(quoted, [': J1 crashed', ': J1 crashed', ': J2 crashed', ': J1 crashed']);
    assert.deepEqual(asked, ['J1', 'J2']);
  });
});
