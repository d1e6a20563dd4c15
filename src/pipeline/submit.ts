import path from 'node:path';
import type { GalaxyClient } from '../galaxy/client.js';
import { legacyDatasetName } from '../galaxy/names.js';
import type { ReadyFile } from './files.js';
import type { Route } from './route.js';
import type { Target } from './targets.js';
import type { HashFunction } from './manifests.js';

/**
 * submit: one request for a batch, by either of Galaxy's two ways, behind one interface.
 * - fetch: POST /api/tools/fetch with server_dir items, into a history of the pool; Galaxy
 *   answers with a job, and a lost answer is found again through that history's jobs.
 * - paths: the legacy library upload of absolute paths (upload_paths); Galaxy creates the
 *   datasets before it answers, so their ids come back at once, and a lost answer is found by
 *   the folder check of the next attempt.
 */

export type Sent = { kind: 'job'; jobId: string } | { kind: 'datasets'; ids: Map<string, string> };

/** The files of one folder in a request, and where they go. */
export interface Part {
  files: readonly ReadyFile[];
  route: Route;
  target: Target;
}

export interface Submitter {
  /** fetch needs a history for each request; paths none. */
  readonly usesHistory: boolean;
  /** fetch: one request may carry the files of several folders (a target each, one job); paths: one folder. */
  readonly combines: boolean;
  /** Whether datasets of a lost answer can exist before its job ends (and be waited for). */
  readonly createsFirst: boolean;
  /** The dataset name Galaxy gives the file. */
  datasetName(file: ReadyFile, route: Route): string;
  /** One request for the parts (one part unless `combines`). */
  send(parts: readonly Part[], historyId: string | null): Promise<Sent>;
}

/**
 * The hashes sent with a file for Galaxy to verify (its checksum, and its provider's when of
 * another function), and the dataset's info naming them, so that a lab sees them in Galaxy.
 */
function hashesOf(f: ReadyFile): { hashes?: { hashFunction: HashFunction; hex: string }[]; info?: string } {
  const hashes = [...(f.checksum ? [f.checksum] : []), ...(f.provided && f.provided.hashFunction !== f.checksum?.hashFunction ? [{ hashFunction: f.provided.hashFunction, hex: f.provided.hex }] : [])];
  if (hashes.length === 0) return {};
  const listed = f.provided ? ` (${f.provided.hashFunction} as in ${path.posix.basename(f.provided.list)} line ${f.provided.line})` : '';
  return { hashes, info: `${hashes.map((h) => `${h.hashFunction} ${h.hex}`).join(', ')}${listed}: verified by Galaxy on import (galaxy-importd)` };
}

export function fetchSubmitter(client: Pick<GalaxyClient, 'fetchToFolders'>): Submitter {
  return {
    usesHistory: true,
    combines: true,
    createsFirst: false,
    datasetName: (file) => path.posix.basename(file.path),
    async send(parts, historyId) {
      const { jobId } = await client.fetchToFolders({
        historyId: historyId ?? '',
        targets: parts.map(({ files, route, target }) => ({
          folderId: target.folderId,
          items: files.map((f) => ({
            serverDir: f.path, name: path.posix.basename(f.path), ext: route.fileType, dbkey: route.dbkey, linkDataOnly: route.link,
            ...hashesOf(f),
          })),
        })),
      });
      return { kind: 'job', jobId };
    },
  };
}

/** `importDir`: the import directory as Galaxy sees it. */
export function pathsSubmitter(client: Pick<GalaxyClient, 'uploadPaths'>, importDir: string): Submitter {
  return {
    usesHistory: false,
    combines: false,
    createsFirst: true,
    datasetName: (file, route) => legacyDatasetName(path.posix.basename(file.path), route.link),
    async send(parts) {
      const [part, ...more] = parts;
      if (part === undefined || more.length > 0) throw new Error('the legacy library upload takes the files of one folder per request');
      const { files, route, target } = part;
      const created = await client.uploadPaths(target.libraryId, {
        folderId: target.folderId,
        paths: files.map((f) => path.join(importDir, f.path)),
        fileType: route.fileType,
        dbkey: route.dbkey,
        linkDataOnly: route.link,
        tags: route.tags,
      });
      // Galaxy answers in the order of the paths sent.
      const ids = new Map<string, string>();
      files.forEach((f, i) => {
        const item = created[i];
        if (item) ids.set(f.path, item.id);
      });
      return { kind: 'datasets', ids };
    },
  };
}
