#!/usr/bin/env node
/**
 * Big files into a real Galaxy (issues 28 and 29): N files of M MB of random bytes, written
 * locally into library_import_dir, imported by `galaxy-importd scan` four ways in one run (the
 * same files, the same Galaxy, a library and a fresh ledger each): copied with checksums (SHA-256,
 * the default: Galaxy verifies it in the job), copied without (`checksum = none`), and linked
 * (`link_data_only`), with and without checksums; against a plain `cp` of the same bytes on the
 * same disk, the physical floor of a copy. For each: wall time until every dataset is ok, Galaxy's CPU (its process tree: the
 * web process and the job processes it reaped) and galaxy-importd's.
 *
 *   scripts/real-galaxy.sh start /tmp/g > /tmp/g.env; set -a; . /tmp/g.env; set +a
 *   node dist/bench/big-files.js [--files 10] [--mb 1024]
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { galaxyCpuSeconds, reapedChildrenCpuSeconds } from './proc.js';
import { recordFigures, writeSection } from './results.js';

const { values } = parseArgs({ options: { files: { type: 'string', default: '10' }, mb: { type: 'string', default: '1024' } } });
const FILES = Number(values.files);
const MB = Number(values.mb);
const env = process.env;
const galaxyUrl = env.GALAXY_IMPORTD_TEST_GALAXY_URL ?? '';
const key = env.GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY ?? '';
const importDir = env.GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR ?? '';
const galaxyDir = env.GALAXY_IMPORTD_TEST_GALAXY_DIR ?? '';
if (!galaxyUrl || !key || !importDir || !galaxyDir) {
  console.error('bench/big-files: start a Galaxy with scripts/real-galaxy.sh start DIR and export the variables it prints');
  process.exit(2);
}
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
/** CPU seconds of a process with the children it reaped; `children`: only those. */

interface Row { way: string; seconds: number; galaxyCpu: number; ownCpu: number; ok: number }

/** The files, random bytes, written once (each way imports the same ones). */
function writeFiles(): void {
  const dir = path.join(importDir, 'big');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const chunk = Buffer.allocUnsafe(8 << 20);
  for (let i = 0; i < FILES; i++) {
    const fd = openSync(path.join(dir, `f${i}.bin`), 'w');
    for (let left = MB << 20; left > 0; left -= chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, left));
    closeSync(fd);
  }
  spawnSync('sync');
}

async function okDatasets(library: string): Promise<number> {
  const libs = (await (await fetch(`${galaxyUrl}/api/libraries`, { headers: { 'x-api-key': key } })).json()) as { id: string; name: string }[];
  const lib = libs.find((l) => l.name === library);
  if (!lib) return 0;
  const contents = (await (await fetch(`${galaxyUrl}/api/libraries/${lib.id}/contents`, { headers: { 'x-api-key': key } })).json()) as { type: string; name: string }[];
  return contents.filter((c) => c.type === 'file').length;
}

/** `galaxy-importd scan` with `upload` settings; every dataset is ok when it exits 0. */
async function scanWay(way: string, upload: string): Promise<Row> {
  const root = path.join(os.tmpdir(), `bench-big-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  const library = `bench big ${way} ${Date.now()}`;
  const config = path.join(root, 'galaxy-importd.ini');
  writeFileSync(config, `[galaxy]\nurl = ${galaxyUrl}\ntimeout_seconds = 600\n[import]\ndir = ${importDir}\nsettle_seconds = 1\nrescan_minutes = 0\n[library]\nname = ${library}\n[upload]\n${upload}[state]\ndir = ${root}/state\n[http]\nlisten =\n`);
  const [c0, own0, t0] = [galaxyCpuSeconds(galaxyDir), reapedChildrenCpuSeconds(), Date.now()];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [cli, '--config', config, 'scan'], { env: { PATH: env.PATH ?? '', GALAXY_API_KEY: key }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('close', resolve);
  });
  const row = { way, seconds: (Date.now() - t0) / 1000, galaxyCpu: galaxyCpuSeconds(galaxyDir) - c0, ownCpu: reapedChildrenCpuSeconds() - own0, ok: await okDatasets(library) };
  rmSync(root, { recursive: true, force: true });
  if (code !== 0) throw new Error(`${way}: scan exited ${code}`);
  console.log(JSON.stringify(row));
  return row;
}

function cpWay(): Row {
  const to = path.join(path.dirname(importDir), `bench-big-cp-${Date.now()}`);
  const [own0, t0] = [reapedChildrenCpuSeconds(), Date.now()];
  const r = spawnSync('sh', ['-c', `cp -r '${path.join(importDir, 'big')}' '${to}' && sync`]);
  const row = { way: 'cp', seconds: (Date.now() - t0) / 1000, galaxyCpu: 0, ownCpu: reapedChildrenCpuSeconds() - own0, ok: FILES };
  rmSync(to, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`cp: ${r.stderr.toString()}`);
  console.log(JSON.stringify(row));
  return row;
}

writeFiles();
const rows = [
  cpWay(),
  await scanWay('copied, SHA-256 verified by Galaxy (the default)', ''),
  await scanWay('copied, checksum = none', 'checksum = none\n'),
  await scanWay('linked (link_data_only), SHA-256 verified', 'link_data_only = true\n'),
  // Linked with no checksum, no byte is read by either side but Galaxy's sniff (1 MB): time that does not grow with the bytes.
  await scanWay('linked, checksum = none', 'link_data_only = true\nchecksum = none\n'),
];
rmSync(path.join(importDir, 'big'), { recursive: true, force: true });
const version = ((await (await fetch(`${galaxyUrl}/api/version`)).json()) as { version_major: string; version_minor?: string });
recordFigures(`big-files-${FILES}x${MB}`, { files: FILES, mb: MB, rows });
const cp = rows[0] as Row;
writeSection(`big-files-${FILES}x${MB}`, [
  `### Into a real Galaxy ${version.version_major}.${version.version_minor ?? ''}: ${FILES} files of ${MB} MB (random bytes), until every dataset is ok`,
  '',
  `\`node dist/bench/big-files.js --files ${FILES} --mb ${MB}\`: the same files, written locally into library_import_dir, imported by \`galaxy-importd scan\` each way into a library of its own with a fresh ledger; \`cp\` of the same bytes on the same disk (then \`sync\`) is the physical floor of a copy. Galaxy's CPU is its process tree's (the web process, and the job processes it reaped).`,
  '',
  '| way | seconds | × cp | MB/s | Galaxy CPU s | galaxy-importd CPU s | datasets ok |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.way} | ${r.seconds.toFixed(1)} | ${(r.seconds / cp.seconds).toFixed(2)}× | ${((FILES * MB) / r.seconds).toFixed(0)} | ${r.galaxyCpu.toFixed(1)} | ${r.way === 'cp' ? '–' : r.ownCpu.toFixed(1)} | ${r.ok} / ${FILES} |`),
]);
