import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { REPO, request, tempDir } from '../helpers.js';
import type { Answer } from '../helpers.js';
import { ini } from '../integration/harness.js';
import type { Sections } from '../integration/harness.js';

/**
 * The real-Galaxy suite needs a Galaxy server: .ci/run starts a throwaway one with
 * scripts/real-galaxy.sh and exports the variables it prints. Every verdict is read
 * from Galaxy's public API with the admin key; deleted datasets are left out.
 */
const env = process.env;
export const GALAXY = env.GALAXY_IMPORTD_TEST_GALAXY_URL
  ? {
      url: env.GALAXY_IMPORTD_TEST_GALAXY_URL,
      adminKey: env.GALAXY_IMPORTD_TEST_GALAXY_ADMIN_KEY ?? '',
      userKey: env.GALAXY_IMPORTD_TEST_GALAXY_USER_KEY ?? '',
      importDir: env.GALAXY_IMPORTD_TEST_GALAXY_IMPORT_DIR ?? '',
      dir: env.GALAXY_IMPORTD_TEST_GALAXY_DIR ?? '',
      version: env.GALAXY_IMPORTD_TEST_GALAXY_VERSION ?? '',
    }
  : null;
export const NO_GALAXY = GALAXY === null
  ? 'needs a real Galaxy: run scripts/real-galaxy.sh start DIR and export the variables it prints (.ci/run does)'
  : false;

export type Galaxy = NonNullable<typeof GALAXY>;

export function galaxy(): Galaxy {
  if (GALAXY === null) throw new Error(String(NO_GALAXY));
  return GALAXY;
}

/** One request to the real Galaxy, with the admin key unless another is given (null: none). */
export function gx(method: string, urlPath: string, opts: { body?: unknown; key?: string | null; timeoutMs?: number } = {}): Promise<Answer> {
  const g = galaxy();
  return request(g.url, method, urlPath, { ...opts, key: opts.key === undefined ? g.adminKey : opts.key });
}

/** GET that must answer 200; its JSON. */
export async function get<T = unknown>(urlPath: string): Promise<T> {
  const a = await gx('GET', urlPath);
  assert.equal(a.status, 200, `GET ${urlPath}: ${a.status} ${a.text.slice(0, 300)}`);
  return a.json as T;
}

export interface Library {
  id: string;
  name: string;
  root_folder_id: string;
  deleted: boolean;
}

export async function librariesNamed(name: string): Promise<Library[]> {
  return (await get<Library[]>('/api/libraries?deleted=false')).filter((l) => l.name === name);
}

export interface Dataset {
  id: string;
  /** The folder's path in the library and the dataset's name: '/runA/sample1/x.fastq'. */
  path: string;
  name: string;
  state: string;
  size: number;
  ext: string;
  folderId: string;
}

interface FolderItem {
  id: string;
  type: 'file' | 'folder';
  name: string;
  state?: string;
  raw_size?: number;
  file_ext?: string;
  deleted?: boolean;
}

/** Every live dataset of every live library with this name, by walking the folders. */
export async function datasets(libraryName: string): Promise<Dataset[]> {
  const out: Dataset[] = [];
  for (const lib of await librariesNamed(libraryName)) {
    const walkFolder = async (folderId: string, at: string): Promise<void> => {
      const body = await get<{ folder_contents: FolderItem[] }>(`/api/folders/${folderId}/contents?limit=1000`);
      for (const item of body.folder_contents) {
        if (item.deleted) continue;
        const p = `${at}/${item.name}`;
        if (item.type === 'folder') await walkFolder(item.id, p);
        else out.push({ id: item.id, path: p, name: item.name, state: String(item.state), size: Number(item.raw_size), ext: String(item.file_ext), folderId });
      }
    };
    await walkFolder(lib.root_folder_id, '');
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** A library dataset's details (genome_build, misc_info, metadata_*). */
export async function datasetDetails(libraryId: string, datasetId: string): Promise<Record<string, unknown>> {
  return get<Record<string, unknown>>(`/api/libraries/${libraryId}/contents/${datasetId}`);
}

/** Asserts each expected path is present exactly once, ok, and nothing else is there. */
export function assertEachOnceOk(found: Dataset[], expected: string[], what = 'datasets'): void {
  const paths = found.map((d) => d.path);
  const twice = paths.filter((p, i) => paths.indexOf(p) !== i);
  assert.deepEqual(twice, [], `${what}: no file twice`);
  assert.deepEqual([...paths].sort(), [...expected].sort(), `${what}: every file, and nothing else`);
  const notOk = found.filter((d) => d.state !== 'ok').map((d) => `${d.path}: ${d.state}`);
  assert.deepEqual(notOk, [], `${what}: every dataset ok`);
}

/**
 * One scenario's set-up. Galaxy has one library_import_dir, so the scenarios share it and run
 * one after another (one test file): each starts with it empty and uses a library of its own.
 */
export interface Scenario {
  g: Galaxy;
  library: string;
  importDir: string;
  stateDir: string;
  configFile: string;
  root: string;
  env: Record<string, string>;
  put(rel: string, content: string | Buffer): string;
  writeConfig(extra?: Sections): void;
}

export function emptyImportDir(): void {
  const dir = galaxy().importDir;
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { recursive: true, force: true });
}

export function scenario(t: TestContext, name: string, extra: Sections = {}): Scenario {
  const g = galaxy();
  emptyImportDir();
  t.after(emptyImportDir);
  const root = tempDir(t, `importd-real-${name}-`);
  const stateDir = path.join(root, 'state');
  const configFile = path.join(root, 'galaxy-importd.ini');
  const library = `${name} ${randomBytes(3).toString('hex')}`;
  const s: Scenario = {
    g,
    library,
    importDir: g.importDir,
    stateDir,
    configFile,
    root,
    env: { GALAXY_API_KEY: g.adminKey },
    put(rel, content) {
      const full = path.join(g.importDir, rel);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, content);
      return full;
    },
    writeConfig(more = {}) {
      writeFileSync(configFile, ini({
        galaxy: { url: g.url, timeout_seconds: 30 },
        import: { dir: g.importDir, settle_seconds: 1, rescan_minutes: 0 },
        library: { name: library },
        upload: { backoff_max_seconds: 5 },
        state: { dir: stateDir },
        http: { listen: '' },
      }, extra, more));
    },
  };
  s.writeConfig();
  return s;
}

export function fileSize(full: string): number {
  return statSync(full).size;
}

/** Stop the Galaxy of the suite (its processes; the directory stays) or start it again (`ifDown`: only when it is not answering). */
export function galaxyServer(action: 'halt' | 'serve', ifDown = false): void {
  const dir = galaxy().dir;
  if (ifDown && existsSync(path.join(dir, 'galaxy.pid'))) return;
  const res = spawnSync('bash', [path.join(REPO, 'scripts', 'real-galaxy.sh'), action, dir], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(res.status, 0, `real-galaxy.sh ${action}: ${res.stderr}`);
}

/** JSON log lines of a daemon's stdout. */
export function events(stdout: string): { event?: string; file?: string; level?: string; reason?: string; [k: string]: unknown }[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string });
}

export function fastq(n: number, seed: number): string {
  const bases = 'ACGT';
  let out = '';
  for (let i = 0; i < n; i++) {
    let seq = '';
    for (let j = 0; j < 36; j++) seq += bases[(seed + i * 7 + j * 3) % 4];
    out += `@read${seed}_${i}\n${seq}\n+\n${'I'.repeat(36)}\n`;
  }
  return out;
}
