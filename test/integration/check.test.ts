import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkCommand } from '../../src/cli/check.js';
import { tempDir } from '../helpers.js';
import { harness } from './harness.js';

// check's rows about Galaxy's host, on the emulator and real files.

describe('check: Galaxy\'s disk', () => {
  it('shows the free space of Galaxy\'s file_path when [galaxy] galaxy_config names a galaxy.yml that sets it, and says when it does not', async (t) => {
    const root = tempDir(t, 'importd-check-');
    const files = path.join(root, 'objects');
    mkdirSync(files);
    const withPath = path.join(root, 'galaxy.yml');
    const without = path.join(root, 'other.yml');
    writeFileSync(withPath, `galaxy:\n  file_path: ${files}\n`);
    writeFileSync(without, 'galaxy:\n  admin_users: a@b.org\n');
    const run = async (galaxyConfig: string): Promise<string> => {
      const h = await harness(t, { ini: { galaxy: { galaxy_config: galaxyConfig } } });
      const out: string[] = [];
      const io = { env: { GALAXY_API_KEY: h.emu.adminKey }, stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => out.push(x) }, onSignal: () => undefined };
      await checkCommand(h.config, io);
      return out.join('');
    };

    const shown = await run(withPath);
    const unset = await run(without);

    assert.match(shown, new RegExp(`^(ok {4}|warn {2})Galaxy's file_path ${files.replaceAll('/', '\\/')}: \\d+\\.\\d GiB free of \\d+\\.\\d GiB$`, 'm'));
    assert.match(unset, /^warn {2}Galaxy's file_path is not set in .*other\.yml \(Galaxy's default is below its data_dir\): its free space is not shown$/m);
  });
});

describe('check: where Galaxy\'s bytes are compared with the checksums', () => {
  it('says fetch verifies in the job, paths with Celery compares the stored hash, paths without Celery compares nothing', async (t) => {
    const run = async (method: string, celery: 'none' | 'running'): Promise<string> => {
      const h = await harness(t, { ini: { upload: { method } }, emu: { allowPathPaste: true, celery } });
      const out: string[] = [];
      const io = { env: { GALAXY_API_KEY: h.emu.adminKey }, stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => out.push(x) }, onSignal: () => undefined };
      await checkCommand(h.config, io);
      return out.join('').split('\n').find((l) => l.includes('checksums:')) ?? '';
    };
    assert.match(await run('fetch', 'none'), /^ok {4}checksums: each file's SHA256 is taken once it settled and verified by Galaxy in the upload job/);
    assert.match(await run('paths', 'running'), /^ok {4}checksums: .* compared with the hash Galaxy's Celery computes of its dataset after the job/);
    assert.match(await run('paths', 'none'), /^warn {2}checksums: method = paths sends no hashes .*enable_celery_tasks is false.*never compared/);
  });
});
