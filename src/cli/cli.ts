import { parseArgs } from 'node:util';
import { systemClock } from '../clock.js';
import { resolveApiKey } from '../config/api-key.js';
import { loadConfig } from '../config/load.js';
import type { ImportdError} from '../errors.js';
import { ConfigError, UsageError } from '../errors.js';
import { GalaxyClient } from '../galaxy/client.js';
import { GalaxyApiError, isGalaxyError } from '../galaxy/errors.js';
import { version } from '../version.js';
import { API_COMMANDS, parseApiUrl, render } from './api.js';
import type { DaemonIo } from './io.js';
import { accessCommand } from './access.js';
import { auditCommand, parseRate } from './audit.js';
import { checkCommand, healthCommand } from './check.js';
import { dryRunCommand } from './dry-run.js';
import { runCommand, scanCommand } from './run.js';
import { retryCommand, statusCommand } from './status.js';

export type CliIo = DaemonIo;

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** audit's disk reads without --max-mb-per-second: a tenth of a disk array's throughput, a fraction of a local SSD's. */
const AUDIT_MB_PER_SECOND = 50;

export { version } from '../version.js';

const HELP = `Usage: galaxy-importd [--config PATH] <command> [arguments]

Imports files dropped into Galaxy's library_import_dir into data libraries.

Commands:
  run                      the daemon: watch the import directory and import every settled file
  scan                     one pass: import what is there now, then exit (1 if any file failed)
  scan --dry-run [--json]  for each file: where it would go, or why it is left out; changes nothing
  status [--failed]        the ledger: files by state and folder; failed files with reasons
  status PATH…             each file's state, dataset, checksum and whether Galaxy verified it
  retry PATH… | --all-failed
                           queue failed files again
  check                    validate the config, reach Galaxy, check the key and library_import_dir
  access [--fix] [--json]  the imported datasets whose access in Galaxy differs from their folder's;
                           --fix sets it (exit 1 while any differs)
  audit [PATH-PREFIX | --library NAME] [--max-mb-per-second N] [--strict] [--json]
                           each imported file against its file on disk (checksum read again, at most
                           N MB/s, default 50) and its dataset in Galaxy (there, ok, the same hash);
                           exit 1 when any differs or is missing (--strict: or cannot be verified)
  health [--ready]         ask the running daemon: /healthz (or /readyz); exit 0 when it answers 200
${API_COMMANDS.map((c) => `  api ${c.name} ${c.args}\n      ${c.summary}`).join('\n')}

Options:
  --config PATH   config file (default /etc/galaxy-importd/galaxy-importd.ini, then ./galaxy-importd.ini)
  --json          api: print Galaxy's JSON as it came, instead of the seed scripts' layout;
                  status, scan --dry-run, access and audit: JSON for scripts
  --help, -h      this help
  --version       the version

The API key comes from $GALAXY_API_KEY, [galaxy] api_key_file, or the systemd
credential galaxy-api-key; never from the command line.

Exit status: 0 success; 1 Galaxy answered with an error or could not be reached;
2 usage or configuration error.
`;

function describeGalaxyError(err: ImportdError): string {
  if (err instanceof GalaxyApiError) {
    const code = err.errCode === null ? '' : ` (err_code ${err.errCode})`;
    let hint = '';
    if (err.status === 401) hint = '\nThe API key was refused: check $GALAXY_API_KEY or the key file, and that the key is the user\'s newest.';
    else if (err.status === 403) hint = "\nThe key's user may lack the rights for this: library imports need an admin user's key (admin_users in galaxy.yml).";
    return `Galaxy answered ${err.status} to ${err.method} ${err.path}: ${err.errMsg}${code}${hint}`;
  }
  return err.message;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const fail = (code: number, message: string): number => {
    io.stderr.write(`galaxy-importd: ${message}\n`);
    return code;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
        failed: { type: 'boolean', default: false },
        'all-failed': { type: 'boolean', default: false },
        ready: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        fix: { type: 'boolean', default: false },
        library: { type: 'string' },
        'max-mb-per-second': { type: 'string' },
        strict: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return fail(EXIT.usage, `${(err as Error).message}\nRun galaxy-importd --help for usage.`);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const [command, sub, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    io.stdout.write(HELP);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  try {
    if (command === 'api') {
      const api = API_COMMANDS.find((c) => c.name === sub);
      if (!api) {
        throw new UsageError(`unknown api command ${JSON.stringify(sub ?? '')}; one of: ${API_COMMANDS.map((c) => c.name).join(', ')}`);
      }
      if (rest.length < api.min || rest.length > api.max) {
        throw new UsageError(`usage: galaxy-importd api ${api.name} ${api.args}`);
      }
      const url = parseApiUrl(rest[0] ?? '');
      const config = loadConfig(values.config === undefined ? {} : { explicitPath: values.config });
      const { key } = resolveApiKey(io.env, config.galaxy.api_key_file);
      const client = new GalaxyClient({ url: url.origin, apiKey: key, timeoutMs: config.galaxy.timeout_seconds * 1000, clock: systemClock });
      try {
        const { body, layout } = await api.run(client, url, rest.slice(1));
        io.stdout.write(render(layout, body, url, values.json));
      } finally {
        await client.close();
      }
      return EXIT.ok;
    }
    const config = loadConfig(values.config === undefined ? {} : { explicitPath: values.config });
    const extra = sub === undefined ? [] : [sub, ...rest];
    if (values.fix && command !== 'access') throw new UsageError(`--fix goes with access only (galaxy-importd access --fix), not with ${command}`);
    if (values['dry-run'] && command !== 'scan') throw new UsageError(`--dry-run goes with scan only (galaxy-importd scan --dry-run), not with ${command}`);
    for (const flag of ['library', 'max-mb-per-second', 'strict'] as const) {
      if (values[flag] !== undefined && values[flag] !== false && command !== 'audit') throw new UsageError(`--${flag} goes with audit only, not with ${command}`);
    }
    const noArgs = (): void => {
      if (extra.length > 0) throw new UsageError(`${command} takes no arguments, got ${JSON.stringify(extra.join(' '))}`);
    };
    switch (command) {
      case 'run':
        noArgs();
        return await runCommand(config, io);
      case 'scan':
        noArgs();
        if (values['dry-run']) return await dryRunCommand(config, io, { json: values.json });
        return await scanCommand(config, io);
      case 'status':
        return await statusCommand(config, io, { failed: values.failed, json: values.json, paths: extra });
      case 'retry':
        return await retryCommand(config, io, extra, values['all-failed']);
      case 'check':
        noArgs();
        return await checkCommand(config, io);
      case 'access':
        noArgs();
        return await accessCommand(config, io, { fix: values.fix, json: values.json });
      case 'audit':
        if (extra.length > 1) throw new UsageError(`audit takes one PATH-PREFIX at most, got ${JSON.stringify(extra.join(' '))}`);
        return await auditCommand(config, io, {
          prefix: extra[0] ?? null, library: values.library ?? null, maxMbPerSecond: parseRate(values['max-mb-per-second'], AUDIT_MB_PER_SECOND), strict: values.strict, json: values.json,
        });
      case 'health':
        noArgs();
        return await healthCommand(config, io, { ready: values.ready });
      default:
        break;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)}\nRun galaxy-importd --help for usage.`);
  } catch (err) {
    if (err instanceof UsageError) return fail(EXIT.usage, err.message);
    if (err instanceof ConfigError) return fail(EXIT.usage, `configuration error:\n  ${err.problems.join('\n  ')}`);
    if (isGalaxyError(err)) return fail(EXIT.failed, describeGalaxyError(err));
    throw err;
  }
}
