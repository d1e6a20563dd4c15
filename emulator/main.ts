#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startEmulator } from './server.js';

const USAGE = `Usage: npm run emulator -- [--import-dir DIR] [--port N] [--host ADDR] [--allow-path-paste]
                            [--state-file FILE] [--admin-key KEY] [--job-ms N]

A Galaxy API emulator for trying galaxy-importd without a Galaxy server.
  --import-dir DIR     Galaxy's library_import_dir (without it, server_dir imports are refused, as in Galaxy)
  --port N             port on 127.0.0.1 (default 8080; 0 picks a free one)
  --host ADDR          loopback address to listen on (default 127.0.0.1)
  --allow-path-paste   Galaxy's allow_path_paste (needed by method = paths)
  --state-file FILE    keep libraries, datasets and jobs in FILE across restarts
  --admin-key KEY      the admin user's API key (default: a random one, printed)
  --job-ms N           how long each job stays queued and running (default 30 and 60 ms)
`;

const { values } = parseArgs({
  options: {
    'import-dir': { type: 'string' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'allow-path-paste': { type: 'boolean', default: false },
    'state-file': { type: 'string' },
    'admin-key': { type: 'string' },
    'job-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`emulator: --port must be a whole number from 0 to 65535, got ${JSON.stringify(values.port)}\n`);
  process.exit(2);
}
const jobMs = values['job-ms'] === undefined ? undefined : Number(values['job-ms']);
const emu = await startEmulator({
  port,
  host: values.host,
  libraryImportDir: values['import-dir'] ?? null,
  allowPathPaste: values['allow-path-paste'],
  ...(values['state-file'] ? { stateFile: values['state-file'] } : {}),
  ...(values['admin-key'] ? { adminKey: values['admin-key'] } : {}),
  ...(jobMs !== undefined ? { jobQueuedMs: jobMs, jobRunMs: jobMs } : {}),
});
process.stdout.write(`Galaxy emulator listening on ${emu.url}\n`);
process.stdout.write(`library_import_dir: ${values['import-dir'] ?? '(unset)'}\n`);
process.stdout.write(`admin API key: ${emu.adminKey}\n`);
process.stdout.write(`non-admin API key: ${emu.userKey}\n`);
const stop = (): void => {
  void emu.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
