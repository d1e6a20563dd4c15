import type { FolderDetails, FolderItem } from './answers.js';
import { expectArray, expectObject, shapeError } from './answers.js';
import type { Call } from './call.js';
import { enc } from './call.js';
import type { PageOf, RecentOptions } from './folder-pages.js';
import { allItems, leadingFolders, recentDatasets } from './folder-pages.js';

/** Galaxy's library folders: made, listed page by page (client.ts puts them together). */
export function foldersApi(call: Call) {
  return {
    async createFolder(parentFolderId: string, name: string, description = ''): Promise<FolderDetails> {
      const p = `/api/folders/${enc(parentFolderId)}`;
      return await call('POST', p, { name, description }, (b) => expectObject(b, 'POST', p, ['id', 'name'])) as FolderDetails;
    },

    /** Every item of a folder, following pagination to the end (Galaxy's default page is 10). */
    async folderContents(folderId: string, opts: { pageSize?: number; includeDeleted?: boolean } = {}): Promise<FolderItem[]> {
      return await allItems(folderPage(call, folderId), opts.pageSize ?? 500, opts.includeDeleted ? 'include_deleted=true' : '');
    },

    /** The folder's subfolders (not deleted), by their names: a page or two whatever its datasets. */
    async subfolders(folderId: string): Promise<FolderItem[]> {
      return await leadingFolders(folderPage(call, folderId), 100);
    },

    /** The folder's datasets updated lately, newest first, as far as `o` asks (folder-pages.ts). */
    async recentDatasets(folderId: string, o: RecentOptions): Promise<FolderItem[]> {
      return await recentDatasets(folderPage(call, folderId), o);
    },
  };
}

export type FoldersApi = ReturnType<typeof foldersApi>;

/** One page of a folder's contents, as folder-pages.ts reads them. */
function folderPage(call: Call, folderId: string): PageOf {
  const base = `/api/folders/${enc(folderId)}/contents`;
  return async (offset, limit, query) => await call('GET', `${base}?limit=${limit}&offset=${offset}${query ? `&${query}` : ''}`, undefined, (b) => {
    const body = expectObject(b, 'GET', base, []);
    const meta = expectObject(body.metadata, 'GET', base, []);
    if (typeof meta.total_rows !== 'number') throw shapeError('GET', base, 'metadata.total_rows is missing');
    return { total: meta.total_rows, page: expectArray(body.folder_contents, 'GET', base, ['id', 'type', 'name']) as FolderItem[] };
  });
}
