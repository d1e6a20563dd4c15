#!/usr/bin/env node
/**
 * `npm run galaxy`: galaxy-importd on a real Galaxy, for a person who wants to try it. Starts a
 * throwaway Galaxy from PyPI (scripts/real-galaxy.sh: a few minutes the first time, then about
 * 30 s), writes a ready config for the daemon beside it, and prints the commands to run next.
 * Everything lives in one directory (GALAXY_IMPORTD_TRY_DIR, default /tmp/galaxy-importd-try);
 * a second `npm run galaxy` while that Galaxy runs only prints the commands again.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = path.resolve(process.env.GALAXY_IMPORTD_TRY_DIR ?? path.join(os.tmpdir(), 'galaxy-importd-try'));
const galaxyDir = path.join(dir, 'galaxy');
const envFile = path.join(dir, 'galaxy.env');
const configFile = path.join(dir, 'galaxy-importd.ini');
const keyFile = path.join(dir, 'api_key');
const script = path.join(repo, 'scripts', 'real-galaxy.sh');

function readEnv(): Record<string, string> | null {
  if (!existsSync(envFile)) return null;
  return Object.fromEntries(readFileSync(envFile, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/api/version`, { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    return false;
  }
}

let env = readEnv();
if (env === null || !(await answers(env.GALAXY_IMPORTD_TEST_GALAXY_URL ?? ''))) {
  if (env !== null) spawnSync('bash', [script, 'stop', galaxyDir], { stdio: 'inherit' });
  mkdirSync(dir, { recursive: true });
  console.log(`Starting a throwaway Galaxy in ${galaxyDir} (the first time installs it from PyPI: a few minutes)…`);
  const res = spawnSync('bash', [script, 'start', galaxyDir], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (res.status !== 0) {
    console.error(`npm run galaxy: scripts/real-galaxy.sh start failed (exit ${res.status ?? res.signal}); its messages are above`);
    process.exit(1);
  }
  writeFileSync(envFile, res.stdout, { mode: 0o600 });
  env = readEnv() ?? {};
}
const url = env.GALAXY_IMPORTD_TEST_GALAXY_URL ?? '';
const importDir = env.GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR ?? '';
writeFileSync(keyFile, `${env.GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY ?? ''}\n`, { mode: 0o600 });
writeFileSync(configFile, `; Written by npm run galaxy: galaxy-importd against the throwaway Galaxy at ${url}.
[galaxy]
url = ${url}
api_key_file = ${keyFile}

[import]
dir = ${importDir}
settle_seconds = 2

[library]
name = Imports

[state]
dir = ${path.join(dir, 'state')}

[http]
listen = 127.0.0.1:9187
`);
mkdirSync(path.join(importDir, 'run1'), { recursive: true });
const cli = path.relative(process.cwd(), path.join(repo, 'dist', 'src', 'cli', 'main.js')) || 'dist/src/cli/main.js';
console.log(`
Galaxy ${env.GALAXY_IMPORTD_TEST_GALAXY_VERSION ?? ''} runs at ${url} (API only: no web client is built).
Its library_import_dir is ${importDir}; the admin is admin@example.org, password importd-test-password.
galaxy-importd's config: ${configFile} (the admin's key in ${keyFile}).

Next:
  node ${cli} --config ${configFile} check
  node ${cli} --config ${configFile} run

Then drop files into ${path.join(importDir, 'run1')}/ (or any new subdirectory) and watch them
arrive in the library "Imports": node ${cli} --config ${configFile} status
Stop Galaxy when done: bash scripts/real-galaxy.sh stop ${galaxyDir}`);
