import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

export type KeySource = 'GALAXY_API_KEY' | 'api_key_file' | 'systemd credential';

export interface ApiKey {
  readonly key: string;
  /** Where it came from, for messages: never the key itself. */
  readonly source: KeySource;
}

/**
 * The API key, in the order of design.md: $GALAXY_API_KEY, [galaxy]
 * api_key_file, then $CREDENTIALS_DIRECTORY/galaxy-api-key (systemd
 * LoadCredential=). Never from argv. Messages name files, never contents.
 */
export function resolveApiKey(env: NodeJS.ProcessEnv, apiKeyFile: string | null): ApiKey {
  const fromEnv = env.GALAXY_API_KEY?.trim();
  if (fromEnv) return { key: fromEnv, source: 'GALAXY_API_KEY' };
  if (apiKeyFile !== null) return { key: readKeyFile(apiKeyFile, '[galaxy] api_key_file'), source: 'api_key_file' };
  if (env.CREDENTIALS_DIRECTORY) {
    const file = path.join(env.CREDENTIALS_DIRECTORY, 'galaxy-api-key');
    return { key: readKeyFile(file, 'the systemd credential galaxy-api-key'), source: 'systemd credential' };
  }
  throw new ConfigError([
    'no Galaxy API key: set $GALAXY_API_KEY, or [galaxy] api_key_file in the config, or LoadCredential=galaxy-api-key:FILE in the systemd unit. The key must be an admin user\'s (Galaxy: User → Preferences → Manage API Key).',
  ]);
}

/**
 * The key of a running daemon, read again from its source when asked (SIGHUP, and each probe of a
 * refused key): a key rotated in Galaxy and written into `api_key_file` is taken without a restart.
 * $GALAXY_API_KEY cannot change under a running process, and systemd copies a credential once, at
 * start: for those `advice` says to restart.
 */
export interface LiveKey {
  readonly key: string;
  readonly source: KeySource;
  /** Read the key again from its source; true when it changed. A source that cannot be read keeps the key held (`problem` says why). */
  reload(): boolean;
  /** Why the last reload could not read the source, or null. */
  readonly problem: string | null;
  /** What an admin does when Galaxy refuses the key. */
  advice(): string;
}

/** A LiveKey from the sources of resolveApiKey; `onNew` is told each new key (the logger hides it too). */
export function liveKey(env: NodeJS.ProcessEnv, apiKeyFile: string | null, first: ApiKey, onNew: (key: string) => void = () => undefined): LiveKey {
  let held = first;
  let problem: string | null = null;
  return {
    get key() {
      return held.key;
    },
    get source() {
      return held.source;
    },
    get problem() {
      return problem;
    },
    reload() {
      if (held.source === 'GALAXY_API_KEY') return false;
      try {
        const now = resolveApiKey(env, apiKeyFile);
        problem = null;
        if (now.key === held.key) return false;
        held = now;
        onNew(now.key);
        return true;
      } catch (err) {
        problem = err instanceof ConfigError ? err.problems.join('; ') : String(err);
        return false;
      }
    },
    advice() {
      const unread = problem === null ? '' : ` (it could not be read again: ${problem})`;
      if (held.source === 'api_key_file') return `write the admin user's current key into ${apiKeyFile ?? 'api_key_file'}${unread}: galaxy-importd reads it again before each probe (once a minute) and at once on SIGHUP (systemctl reload galaxy-importd); no restart is needed`;
      if (held.source === 'systemd credential') return "systemd copied the credential galaxy-api-key when the service started: put the admin user's current key into the file the unit's LoadCredential= names, then systemctl restart galaxy-importd (or use [galaxy] api_key_file, which is read again without a restart)";
      return "the key comes from $GALAXY_API_KEY, which a running process cannot read again: set the admin user's current key there and restart galaxy-importd (systemctl restart galaxy-importd; or use [galaxy] api_key_file, which is read again without a restart)";
    },
  };
}

/** A key that never changes (tests, the emulator's demo). */
export function fixedKey(key: string): LiveKey {
  return { key, source: 'GALAXY_API_KEY', problem: null, reload: () => false, advice: () => 'use an admin user\'s current key' };
}

/**
 * The shared ledger's PostgreSQL password (ledger = postgresql): $PGPASSWORD, [state]
 * postgresql_password_file, then $CREDENTIALS_DIRECTORY/postgresql-password. Null when none
 * is given (peer or trust authentication, or ~/.pgpass, which pg does not read: use the file).
 */
export function resolvePostgresPassword(env: NodeJS.ProcessEnv, passwordFile: string | null): string | null {
  if (env.PGPASSWORD) return env.PGPASSWORD;
  if (passwordFile !== null) return readKeyFile(passwordFile, '[state] postgresql_password_file', false);
  if (env.CREDENTIALS_DIRECTORY) {
    const file = path.join(env.CREDENTIALS_DIRECTORY, 'postgresql-password');
    try {
      readFileSync(file);
    } catch {
      return null;
    }
    return readKeyFile(file, 'the systemd credential postgresql-password', false);
  }
  return null;
}

function readKeyFile(file: string, what: string, apiKey = true): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? 'unknown error'})`;
    throw new ConfigError([`${what}: ${file} ${why}; the file must be readable by the user galaxy-importd runs as.`], { cause: err });
  }
  if (!apiKey) {
    const password = text.replace(/\r?\n$/, '');
    if (password === '') throw new ConfigError([`${what}: ${file} is empty; put the PostgreSQL user's password in it.`]);
    return password;
  }
  const key = text.trim();
  if (key === '') throw new ConfigError([`${what}: ${file} is empty; put the admin user's API key in it.`]);
  if (/\s/.test(key)) throw new ConfigError([`${what}: ${file} holds more than one word; it must hold only the API key.`]);
  return key;
}
