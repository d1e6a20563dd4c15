import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { REPO } from '../helpers.js';

const dockerfile = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

/** The Dockerfile's instructions with continuation lines joined, each with its stage's name. */
function instructions(): Instruction[] {
  const joined = dockerfile.replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  let stage = '';
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? 'runtime';
    out.push({ op, args, stage });
  }
  return out;
}

describe('Dockerfile', () => {
  it('passes dockerfile-utils lint with no problem', () => {
    const r = spawnSync(path.join(REPO, 'node_modules', '.bin', 'dockerfile-utils'), ['lint', path.join(REPO, 'Dockerfile')], { encoding: 'utf8' });
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'dockerfile-utils lint found problems');
    assert.equal(r.status, 0);
  });

  it('builds with dev dependencies and runs with production dependencies only, on Node 24', () => {
    const ins = instructions();
    const runtime = ins.filter((i) => i.stage === 'runtime');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    assert.ok(ins.some((i) => i.stage === 'build' && i.op === 'RUN' && /npm ci(?! --omit)/.test(i.args)));
    // The production dependencies are the build's, pruned: the addon is compiled once.
    assert.match(dockerfile, /^FROM build AS deps$/m);
    assert.ok(ins.some((i) => i.stage === 'deps' && i.op === 'RUN' && i.args.includes('npm prune --omit=dev')));
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(copies.includes('--from=deps /build/node_modules ./node_modules'), 'node_modules must come from the production install');
    assert.ok(copies.includes('--from=build /build/dist/src ./dist/src'));
    assert.ok(!copies.some((c) => c.startsWith('--from=build /build/node_modules')), 'the dev dependencies must not reach the image');
  });

  it('trusts a build CA only as the secret ca of the npm installs, and builds the addon against the image\'s headers', () => {
    const ins = instructions();
    const installs = ins.filter((i) => i.op === 'RUN' && i.args.includes('npm ci'));

    assert.equal(installs.length, 1);
    for (const i of installs) {
      assert.match(i.args, /^--mount=type=secret,id=ca,required=false /, `${i.stage}: npm ci without the secret ca`);
      assert.match(i.args, /export NODE_EXTRA_CA_CERTS=\/run\/secrets\/ca/);
    }
    const elsewhere = ins.filter((i) => !installs.includes(i) && /NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|cafile|secrets\/ca\b/.test(i.args));
    assert.deepEqual(elsewhere, [], 'the CA must not reach a layer or the environment');
    assert.ok(ins.some((i) => i.stage === 'toolchain' && i.op === 'ENV' && i.args.startsWith('npm_config_nodedir=')));
  });

  it('runs as a non-root user whose uid/gid are build arguments, with health, signals and the config path', () => {
    const runtime = instructions().filter((i) => i.stage === 'runtime');
    const user = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
    assert.deepEqual(user, ['galaxy']);
    assert.ok(runtime.some((i) => i.op === 'ARG' && i.args.startsWith('GALAXY_UID=')));
    assert.ok(runtime.some((i) => i.op === 'ARG' && i.args.startsWith('GALAXY_GID=')));
    const health = runtime.find((i) => i.op === 'HEALTHCHECK');
    assert.match(health?.args ?? '', /CMD \["galaxy-importd", "--config", "\/etc\/galaxy-importd\/galaxy-importd\.ini", "health", "--ready"\]/);
    assert.deepEqual(runtime.filter((i) => i.op === 'STOPSIGNAL').map((i) => i.args), ['SIGTERM']);
    assert.ok(runtime.some((i) => i.op === 'VOLUME' && i.args.includes('/var/lib/galaxy-importd')));
    assert.ok(runtime.some((i) => i.op === 'ENTRYPOINT' && i.args.includes('/etc/galaxy-importd/galaxy-importd.ini')));
  });

  it('reads only files that .dockerignore lets into the build context, and that exist', () => {
    const ignore = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = instructions()
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(sources.length > 0);
    for (const src of sources) {
      assert.ok(ignore.some((keep) => src === keep || src.startsWith(`${keep}/`)), `${src} is copied but .dockerignore leaves it out`);
      assert.ok(existsSync(path.join(REPO, src)), `${src} does not exist`);
    }
  });
});

describe('docs/docker-compose.example.yml', () => {
  interface Service {
    environment?: Record<string, string>;
    volumes?: string[];
    secrets?: string[];
  }
  const compose = parse(readFileSync(path.join(REPO, 'docs', 'docker-compose.example.yml'), 'utf8')) as {
    services: Record<string, Service>;
    secrets: Record<string, { file: string }>;
  };
  const galaxy = compose.services.galaxy;
  const importd = compose.services['galaxy-importd'];

  it('shares the import directory with Galaxy at the path galaxy.yml and the config name', () => {
    assert.ok(galaxy && importd);
    const importDir = galaxy.environment?.GALAXY_CONFIG_LIBRARY_IMPORT_DIR;
    assert.ok(importDir, 'Galaxy needs library_import_dir');
    assert.ok(galaxy.environment?.GALAXY_CONFIG_ADMIN_USERS, 'Galaxy needs an admin user');
    const mountOf = (s: Service): string | undefined => s.volumes?.find((v) => v.split(':')[1] === importDir)?.split(':')[0];
    assert.ok(mountOf(galaxy), 'Galaxy does not mount the import directory');
    assert.equal(mountOf(importd), mountOf(galaxy), 'both containers must mount the same host directory');

    const configMount = importd.volumes?.find((v) => v.split(':')[1] === '/etc/galaxy-importd/galaxy-importd.ini');
    assert.ok(configMount, 'the config must be mounted where the image looks for it');
    const configFile = path.join(REPO, 'docs', configMount.split(':')[0] ?? '');
    assert.equal(parseConfig(readFileSync(configFile, 'utf8'), configFile).import.dir, importDir);
    // On this host /data/import exists only inside the containers: that may be the only problem.
    try {
      loadConfig({ explicitPath: configFile });
      assert.fail(`${importDir} should not exist on the test host`);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(
        err.problems.filter((p) => !p.includes(`[import] dir: ${importDir} does not exist`)),
        [],
      );
      assert.equal(err.problems.length, 1);
    }
  });

  it('passes the key as the secret the image reads', () => {
    assert.deepEqual(importd?.secrets, ['galaxy-api-key']);
    assert.ok(compose.secrets['galaxy-api-key']?.file);
    assert.match(dockerfile, /^ENV CREDENTIALS_DIRECTORY=\/run\/secrets$/m);
    assert.equal(JSON.stringify(importd).includes('GALAXY_API_KEY'), false, 'the key must not be in the environment');
  });
});
