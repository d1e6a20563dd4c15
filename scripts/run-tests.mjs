#!/usr/bin/env node
// Runs the compiled tests with node's own runner. Node 20's --test takes no
// globs, so the files are listed here. Usage: node scripts/run-tests.mjs [dir-or-file-filter…]
// The stress suite (test/stress/) runs only when a filter names it: npm run test:stress.
// The unit under systemd in a container (test/deploy/systemd-unit.test.ts) builds and runs a
// container: it runs only with GALAXY_IMPORTD_TEST_SYSTEMD=1 (.ci/run runs it on its own).
// The image as a sidecar next to a real Galaxy (test/deploy/sidecar.test.ts) builds and runs the
// project's image: it runs only with GALAXY_IMPORTD_TEST_SIDECAR=1 (.ci/run's images part).
// The Ansible role (test/deploy/ansible-role.test.ts) runs in a systemd container: only with
// GALAXY_IMPORTD_TEST_ANSIBLE=1 (.ci/run runs it after the unit under systemd).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', 'dist', 'test');
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : full.endsWith('.test.js') ? [full] : [];
  });
const filters = process.argv.slice(2);
const files = walk(root)
  .filter((f) => (filters.length === 0 ? !f.includes(`${path.sep}stress${path.sep}`) : filters.some((x) => f.includes(x))))
  .sort();
for (const [file, variable, what] of [
  ['systemd-unit.test.js', 'GALAXY_IMPORTD_TEST_SYSTEMD', 'it runs a systemd container'],
  ['sidecar.test.js', 'GALAXY_IMPORTD_TEST_SIDECAR', 'it builds the image and runs it next to a real Galaxy'],
  ['ansible-role.test.js', 'GALAXY_IMPORTD_TEST_ANSIBLE', 'it runs the Ansible role in a systemd container'],
]) {
  const tail = `${path.sep}deploy${path.sep}${file}`;
  if (process.env[variable] !== '1' && files.some((f) => f.endsWith(tail))) {
    console.log(`# skipped dist/test/deploy/${file}: ${what}; set ${variable}=1 to run it`);
    files.splice(files.findIndex((f) => f.endsWith(tail)), 1);
    if (files.length === 0) process.exit(0);
  }
}
if (files.length === 0) {
  console.error(`no test files under ${root}${filters.length ? ` matching ${filters.join(', ')}` : ''}: run npm run build first`);
  process.exit(1);
}
// Node's --test-timeout bounds each test file as a whole too: the real-Galaxy suite (one file of
// scenarios that take minutes each on a real Galaxy) runs on its own with a bound to match. The
// others get 5 minutes: the integration file of daemon tests (one of which waits a minute by
// design) took 172-176 s on a slow 2-core machine, too near 3 minutes.
const realGalaxy = files.filter((f) => f.includes(`${path.sep}real-galaxy${path.sep}`));
const rest = files.filter((f) => !realGalaxy.includes(f));
let status = 0;
// The real-Galaxy file first: the last summary printed is then the whole suite's.
for (const [set, timeout] of [[realGalaxy, 60 * 60_000], [rest, 300_000]]) {
  if (set.length === 0) continue;
  const res = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-reporter=spec', `--test-timeout=${timeout}`, ...set], { stdio: 'inherit' });
  status ||= res.status ?? 1;
}
process.exit(status);
