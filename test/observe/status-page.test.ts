import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zeroCounts } from '../../src/ledger/ledger.js';
import type { StatusData } from '../../src/observe/status-page.js';
import { renderStatusPage, STATUS_REFRESH_SECONDS } from '../../src/observe/status-page.js';

const data = (o: Partial<StatusData> = {}): StatusData => ({
  version: '0.1.0', galaxy: 'http://127.0.0.1:8080', importDir: '/data/import', ledger: '/var/lib/galaxy-importd/ledger.sqlite', now: Date.UTC(2026, 11, 3, 12),
  reasons: [], states: { ...zeroCounts(), ok: 12, failed: 1, queued: 2 }, settling: 3, waitingForMarker: 0, inFlight: 2,
  folders: [{ library: 'Imports', folder: '/run1', counts: { ...zeroCounts(), ok: 12, failed: 1 }, verified: 11 }],
  failures: [{ file: 'run1/bad.bed', reason: 'dataset 1 ended error: checksum mismatch', attempts: 3, at: Date.UTC(2026, 11, 3, 11, 58) }],
  active: [{ file: 'run1/next.bed', state: 'submitted', attempts: 1, at: Date.UTC(2026, 11, 3, 11, 59, 30) }],
  ...o,
});

describe('status page', () => {
  it('shows health, files by state and folder, what is in flight and the latest failures with their reason; reloads itself', () => {
    const html = renderStatusPage(data());

    assert.match(html, new RegExp(`<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">`));
    assert.match(html, /<div class="health ok" id="health">Ready/);
    assert.match(html, /<td class="n state-ok">12<\/td>/);
    assert.match(html, /<td>Imports<\/td><td>\/run1<\/td>/);
    assert.match(html, /<th title="ok files whose checksum Galaxy verified[^"]*">verified<\/th><\/tr><tr><td>Imports<\/td><td>\/run1<\/td>.*<td class="n">11 of 12<\/td><\/tr>/, 'verified counts per folder');
    assert.match(html, /<td>run1\/next\.bed<\/td><td>submitted<\/td><td class="n">1<\/td><td>30 s ago<\/td>/);
    assert.match(html, /<td>run1\/bad\.bed<\/td><td class="reason">dataset 1 ended error: checksum mismatch<\/td><td class="n">3<\/td><td>2 min ago<\/td>/);
    assert.doesNotMatch(html, /<script|<link|src=|https?:\/\/(?!127\.0\.0\.1:8080)/, 'nothing is fetched from anywhere');
  });

  it('says why it is not ready, and escapes names and reasons', () => {
    const html = renderStatusPage(data({
      reasons: ['Galaxy is not reachable: connect ECONNREFUSED'],
      failures: [{ file: 'run1/<script>alert(1)</script>.txt', reason: 'a "quoted" & <b>bold</b> reason', attempts: 1, at: 0 }],
      folders: [], active: [],
    }));

    assert.match(html, /<div class="health bad" id="health"><strong>Not ready:<\/strong><ul><li>Galaxy is not reachable: connect ECONNREFUSED<\/li>/);
    assert.match(html, /run1\/&#60;script&#62;alert\(1\)&#60;\/script&#62;\.txt/);
    assert.match(html, /a &#34;quoted&#34; &#38; &#60;b&#62;bold&#60;\/b&#62; reason/);
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /No files yet\./);
    assert.match(html, /Nothing in flight\./);
  });
});
