import { constants as fsc, promises as fsp, realpathSync } from 'node:fs';
import type { ApiKey } from '../config/api-key.js';
import { resolveApiKey } from '../config/api-key.js';
import { readGalaxyPath } from '../config/galaxy-config.js';
import type { Config } from '../config/load.js';
import { requireDaemonKeys } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { compareReleases, OLDEST_TESTED, TESTED_RELEASES } from '../galaxy/releases.js';
import { ledgerWhere } from '../ledger/open.js';
import { checkDatasetAccess } from './access.js';
import { checkAccess } from './check-access.js';
import type { DaemonIo } from './io.js';
import { commandClient, openClientLedger } from './io.js';

/** `check` (everything the daemon needs, said one line each) and `health` (ask the running daemon). */

export async function checkCommand(config: Config, io: DaemonIo): Promise<number> {
  const results: { ok: boolean; warn?: boolean; text: string; fix?: string }[] = [];
  const pass = (text: string): void => void results.push({ ok: true, text });
  const fail = (text: string, fix: string): void => void results.push({ ok: false, text, fix });
  const warn = (text: string, fix: string): void => void results.push({ ok: true, warn: true, text, fix });
  pass(`configuration ${config.file ?? '(defaults: no config file found)'} is valid`);
  try {
    requireDaemonKeys(config);
  } catch (err) {
    for (const p of (err as ConfigError).problems) fail(p, 'set it in the config file');
  }
  let key: ApiKey | null = null;
  try {
    key = resolveApiKey(io.env, config.galaxy.api_key_file);
    pass(`API key found (from ${key.source})`);
  } catch (err) {
    fail((err as ConfigError).problems.join('; '), 'provide the key as described');
  }
  if (config.import.dir !== null) {
    try {
      await fsp.access(config.import.dir, fsc.R_OK | fsc.X_OK);
      pass(`import directory ${config.import.dir} is readable`);
    } catch {
      fail(`import directory ${config.import.dir} is not readable by this user`, "run galaxy-importd as a user that can read it (usually Galaxy's own user)");
    }
  }
  try {
    const ledger = await openClientLedger(config, io.env);
    await ledger.close();
    pass(config.state.ledger === 'sqlite' ? `state directory ${config.state.dir} is writable (ledger opened)` : `the PostgreSQL ledger ${ledgerWhere(config)} is reachable and its schema is current`);
  } catch (err) {
    const problem = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
    fail(problem, config.state.ledger === 'sqlite'
      ? 'create the directory or fix [state] dir (a local disk, writable by this user)'
      : 'check [state] postgresql_url, that PostgreSQL accepts this user from this host (pg_hba.conf), and the password ($PGPASSWORD or [state] postgresql_password_file)');
  }
  if (config.galaxy.url !== null && key !== null) {
    const client = commandClient(config, key);
    try {
      const v = await client.version();
      pass(`Galaxy ${v.version_major} answers at ${config.galaxy.url}`);
      if (compareReleases(v.version_major, OLDEST_TESTED) < 0) {
        warn(`Galaxy ${v.version_major} is older than the oldest release galaxy-importd is tested on (${OLDEST_TESTED}; tested: ${TESTED_RELEASES.join(', ')})`,
          'it may work; if an answer cannot be used the daemon pauses and says which request (docs/galaxy-notes.md). Upgrading Galaxy is the sure way');
      }
      const user = await client.currentUser();
      if (user.is_admin === true) pass(`the key belongs to ${user.email ?? 'a user'}, an admin`);
      else fail(`the key belongs to ${user.email ?? 'a user'}, who is not an admin`, 'use the key of a user listed in admin_users in galaxy.yml');
      if (user.is_admin === true) {
        try {
          await checkAccess(config, client, { pass, fail, warn });
        } catch (err) {
          fail(`access: cannot read roles or library permissions from Galaxy: ${(err as Error).message}`, 'check that the key is an admin\'s, and Galaxy\'s log');
        }
        try {
          const ledger = await openClientLedger(config, io.env);
          try {
            await checkDatasetAccess(config, client, user, ledger.inState('ok'), { pass, fail, warn });
          } finally {
            await ledger.close();
          }
        } catch (err) {
          fail(`access: cannot read the key's user's default permissions or the imported datasets' access: ${(err as Error).message}`, 'check that the key is an admin\'s, the ledger (above), and Galaxy\'s log');
        }
      }
      await checkGalaxyDisk(config, { pass, warn });
      // Where Galaxy checks the bytes it imports, and where it does not.
      const conf = await client.configuration(['library_import_dir', 'is_admin_user', 'enable_celery_tasks']);
      if (config.upload.method === 'paths' && conf.enable_celery_tasks !== true) warn('checksums: method = paths sends no hashes (upload_paths takes none), and Galaxy runs no Celery tasks (enable_celery_tasks is false), which alone compute a stored hash of its datasets: the bytes Galaxy imports are never compared with their checksums, which are only recorded, for galaxy-importd audit', 'use method = fetch (the default) to have Galaxy verify each file\'s checksum in its job, or enable Celery in Galaxy');
      else if (config.upload.method === 'paths') pass(`checksums: each file's ${config.upload.checksum.toUpperCase()} is taken once it settled and compared with the hash Galaxy's Celery computes of its dataset after the job (method = paths sends no hashes, so Galaxy's job itself checks nothing)`);
      else if (config.upload.checksum === 'none') warn('checksums: [upload] checksum = none: Galaxy imports whatever it reads when its job runs, unchecked', 'set [upload] checksum = sha256 (the default)');
      else pass(`checksums: each file's ${config.upload.checksum.toUpperCase()} is taken once it settled and verified by Galaxy in the upload job${config.import.manifests.length > 0 ? ', with providers\' checksum lists ([import] manifests)' : ''}`);
      const galaxyDir = typeof conf.library_import_dir === 'string' ? conf.library_import_dir : null;
      if (galaxyDir === null) {
        fail("Galaxy's library_import_dir is not set (or not visible to this key)", 'set library_import_dir in galaxy.yml to the import directory and restart Galaxy');
      } else if (config.import.dir !== null) {
        const same = ((): boolean => {
          try {
            return realpathSync(galaxyDir) === realpathSync(config.import.dir);
          } catch {
            return galaxyDir === config.import.dir;
          }
        })();
        if (same) pass(`Galaxy's library_import_dir is the watched directory (${galaxyDir})`);
        else fail(`Galaxy's library_import_dir is ${galaxyDir} but [import] dir is ${config.import.dir}`, 'they must be the same directory (in Docker: mount the volume at the same path in both containers)');
      }
    } catch (err) {
      fail(`Galaxy at ${config.galaxy.url}: ${(err as Error).message}`, 'check [galaxy] url, the network, and the key');
    } finally {
      await client.close();
    }
  }
  for (const r of results) io.stdout.write(r.warn ? `warn  ${r.text}\n      note: ${r.fix ?? ''}\n` : r.ok ? `ok    ${r.text}\n` : `FAIL  ${r.text}\n      fix: ${r.fix ?? ''}\n`);
  const bad = results.filter((r) => !r.ok).length;
  io.stdout.write(bad === 0 ? 'all checks passed\n' : `${bad} check(s) failed\n`);
  return bad === 0 ? 0 : 1;
}

/** Below this much free space on Galaxy's file_path, check warns: a fetch job of a full disk leaves empty datasets. */
const LOW_DISK_BYTES = 1024 ** 3;

/**
 * The free space of Galaxy's file_path, where Galaxy's config can be read ([galaxy] galaxy_config):
 * Galaxy's API does not tell it (26.1.2), and a full file_path makes fetch jobs end in error with
 * no message (docs/galaxy-notes.md).
 */
async function checkGalaxyDisk(config: Config, out: { pass(text: string): void; warn(text: string, fix: string): void }): Promise<void> {
  const file = config.galaxy.galaxy_config;
  if (file === null) return;
  let where: string | null;
  try {
    where = readGalaxyPath(file, 'file_path');
  } catch (err) {
    out.warn(`Galaxy's file_path: ${(err as Error).message}`, 'check [galaxy] galaxy_config');
    return;
  }
  if (where === null) {
    out.warn(`Galaxy's file_path is not set in ${file} (Galaxy's default is below its data_dir): its free space is not shown`, 'set file_path in galaxy.yml to see it here');
    return;
  }
  try {
    const st = await fsp.statfs(where);
    const free = st.bavail * st.bsize;
    const total = st.blocks * st.bsize;
    const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    const text = `Galaxy's file_path ${where}: ${gib(free)} free of ${gib(total)}`;
    if (free < LOW_DISK_BYTES || free < total * 0.05) out.warn(text, "free space on it: Galaxy's fetch jobs on a full disk end in error and leave empty datasets (galaxy-importd deletes those and says so)");
    else out.pass(text);
  } catch (err) {
    out.warn(`Galaxy's file_path ${where} cannot be looked at from here (${(err as NodeJS.ErrnoException).code ?? String(err)}): its free space is not shown`, 'run check on the Galaxy host, as a user that can see file_path');
  }
}

/**
 * Ask the running daemon over its HTTP server: /healthz, or /readyz with
 * `ready`. For Docker's HEALTHCHECK and monitoring scripts.
 */
export async function healthCommand(config: Config, io: DaemonIo, opts: { ready: boolean }): Promise<number> {
  const listen = config.http.listen;
  if (listen === null) throw new ConfigError(['[http] listen is empty, so the daemon serves no health endpoint; set it (such as 127.0.0.1:9187) to use galaxy-importd health']);
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}/${opts.ready ? 'readyz' : 'healthz'}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const body = await res.text();
    io.stdout.write(`${url}: ${res.status} ${body}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (err) {
    io.stderr.write(`galaxy-importd: no answer from ${url}: ${(err as Error).message}; is galaxy-importd run running with this config?\n`);
    return 1;
  }
}

