import { promises as fsp } from 'node:fs';
import path from 'node:path';

export type EntryKind = 'file' | 'symlink' | 'other';

export interface WalkHandlers {
  /**
   * A non-directory entry, by its '/'-separated path relative to the root.
   * Returning a promise holds the walk until it settles (back-pressure).
   */
  onEntry(relPath: string, kind: EntryKind): void | Promise<unknown>;
  /** A directory that could not be read; the walk goes on. */
  onError(relPath: string, err: NodeJS.ErrnoException): void;
  /** Return true to leave a directory (and everything below it) out. */
  skipDir(relPath: string): boolean;
  /** Called for each directory before its entries are read ('' is the root); awaited. */
  onDir?(relDir: string): Promise<void>;
}

/**
 * Walks the tree below `root` without following symlinked directories (a
 * link out of the import directory must not widen what is imported; a link
 * inside would import the same files twice). Directories are read one at a
 * time with opendir, so memory stays flat however large the tree.
 */
export async function walk(root: string, h: WalkHandlers): Promise<{ files: number; dirs: number }> {
  let files = 0;
  let dirs = 0;
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() ?? '';
    dirs++;
    if (h.onDir) await h.onDir(rel);
    let dir;
    try {
      dir = await fsp.opendir(rel === '' ? root : path.join(root, rel), { bufferSize: 256 });
    } catch (err) {
      h.onError(rel, err as NodeJS.ErrnoException);
      continue;
    }
    const subdirs: string[] = [];
    try {
      for await (const entry of dir) {
        const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          if (!h.skipDir(childRel)) subdirs.push(childRel);
          continue;
        }
        files++;
        const hold = h.onEntry(childRel, entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other');
        if (hold) await hold;
      }
    } catch (err) {
      h.onError(rel, err as NodeJS.ErrnoException);
    }
    stack.push(...subdirs.sort().reverse());
  }
  return { files, dirs };
}
