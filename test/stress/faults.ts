import type { Emulator } from '../../emulator/server.js';

/** The stress suites' HTTP faults: 503 pages, accepted-then-502 and reset answers, resets, slow and failing reads. */
export function addFaults(emu: Emulator): void {
  emu.addFaults(
    { method: 'POST', path: '^/api/tools/fetch$', probability: 0.1, action: { type: 'status', status: 503, body: 'html', retryAfter: 1 } },
    { method: 'POST', path: '^/api/tools/fetch$', probability: 0.03, action: { type: 'accept-then', status: 502, body: 'html' } },
    { method: 'POST', path: '^/api/tools/fetch$', probability: 0.02, action: { type: 'accept-then-reset' } },
    { method: 'POST', path: '^/api/tools/fetch$', probability: 0.03, action: { type: 'reset' } },
    { method: 'GET', probability: 0.05, action: { type: 'delay', ms: 300 } },
    { method: 'GET', probability: 0.03, action: { type: 'status', status: 503, body: 'html' } },
    { method: 'GET', probability: 0.01, action: { type: 'reset' } },
  );
}
