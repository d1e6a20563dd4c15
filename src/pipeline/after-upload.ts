import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AfterUpload } from '../config/load.js';
import type { Emit } from '../observe/events.js';
import type { ReadyFile } from './files.js';
import type { Flow } from './flow.js';
import type { Fingerprint } from './settle.js';

/**
 * after-upload: once a file's dataset is ok, [import] after_upload keeps, deletes or moves it.
 * A file written again while it was being uploaded is left alone (Galaxy's dataset may hold
 * either version): it settles and is imported again (file.changed).
 */

export interface AfterUploadDeps {
  importDir: string;
  action: AfterUpload;
  /** settle.ts's statFileSync: a local stat, without a trip through the thread pool per file. */
  stat(relPath: string): Fingerprint | null;
  /** Says `done` (no more watching: discovery) and `changed` (written again during its upload: admission looks again). */
  flow: Pick<Flow, 'emit'>;
  emit: Emit;
}

export function afterUpload(d: AfterUploadDeps): (file: ReadyFile) => Promise<void> {
  return async (file) => {
    d.flow.emit('done', file.path);
    const current = d.stat(file.path);
    if (current !== null && (current.size !== file.size || current.mtimeMs !== file.mtimeMs)) {
      d.flow.emit('changed', file.path);
      return;
    }
    const action = d.action;
    if (action.action === 'keep') return;
    const source = path.join(d.importDir, file.path);
    try {
      if (action.action === 'delete') {
        await fsp.unlink(source);
      } else {
        const dest = path.join(action.dir, file.path);
        await makeDirs(path.dirname(dest));
        try {
          await fsp.rename(source, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await fsp.copyFile(source, dest, fsc.COPYFILE_EXCL);
          await fsp.unlink(source);
        }
      }
      d.emit({ type: 'file.after_upload', file: file.path, action: action.action });
    } catch (err) {
      d.emit({ type: 'file.after_upload', file: file.path, action: action.action, err: withWriteHint(err as NodeJS.ErrnoException, d.importDir, action) });
    }
  };
}

/**
 * mkdir -p, one level at a time: Node's `recursive: true` reports a read-only file system (or a
 * permission error) as ENOENT, which would hide the hint below.
 */
async function makeDirs(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return isDir(dir);
    // ENOTDIR: a file stands at a level above; making that level says which.
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(dir) === dir) throw err;
    await makeDirs(path.dirname(dir));
    await fsp.mkdir(dir).catch(async (again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
      await isDir(dir);
    });
  }
}

/** Something already at a directory's path: a directory is fine, a file is said as such. */
async function isDir(dir: string): Promise<void> {
  if ((await fsp.stat(dir)).isDirectory()) return;
  throw Object.assign(new Error(`ENOTDIR: ${dir} is a file, not a directory`), { code: 'ENOTDIR', path: dir });
}

/**
 * The error of a delete or move, and what to do when the directories are not writable: a
 * read-only file system under the systemd unit (ProtectSystem=strict; systemd sets INVOCATION_ID)
 * wants the drop-in that makes them writable; a permission error, write access for the user.
 */
export function withWriteHint(err: NodeJS.ErrnoException, importDir: string, action: AfterUpload, env: NodeJS.ProcessEnv = process.env): string {
  const dirs = action.action === 'move' ? `${importDir} ${action.dir}` : importDir;
  const what = `${err.message}: after_upload = ${action.action === 'move' ? `move:${action.dir}` : action.action} must write to ${dirs}`;
  if (err.code === 'EROFS') {
    return env.INVOCATION_ID !== undefined
      ? `${what}; the unit's ProtectSystem=strict leaves them read-only: add a drop-in (systemctl edit galaxy-importd) with [Service] ReadWritePaths=${dirs}, then systemctl restart galaxy-importd (docs/operations.md, "systemd")`
      : `${what}; they are on a read-only file system or mount: make it writable`;
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') return `${what}; give the daemon's user write access to them (owner, group or ACL)`;
  return err.message;
}
