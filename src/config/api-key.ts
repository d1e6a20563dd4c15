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
