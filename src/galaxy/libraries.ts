import type { ContentsEntry, CreatedItem, DatasetStorage, Json, LibraryDatasetDetails, LibrarySummary } from './answers.js';
import { expectArray, expectObject, shapeError } from './answers.js';
import type { Call } from './call.js';
import { enc } from './call.js';

/** Galaxy's libraries and their datasets: one typed call per endpoint (client.ts puts them together). */
export function librariesApi(call: Call) {
  return {
    /** Live libraries only unless `deleted` is given: admins otherwise see deleted ones too. */
    async listLibraries(deleted = false): Promise<LibrarySummary[]> {
      const p = `/api/libraries?deleted=${deleted}`;
      return await call('GET', p, undefined, (b) => expectArray(b, 'GET', '/api/libraries', ['id', 'name'])) as LibrarySummary[];
    },

    async createLibrary(name: string, description?: string, synopsis?: string): Promise<LibrarySummary> {
      const p = '/api/libraries';
      const body: Json = { name };
      if (description) body.description = description;
      if (synopsis) body.synopsis = synopsis;
      // Early Galaxy answered with a one-element list (why example_watch_folder.py reads library[0]).
      return await call('POST', p, body, (res) => expectObject(Array.isArray(res) && res.length === 1 ? res[0] : res, 'POST', p, ['id', 'name'])) as LibrarySummary;
    },

    /** The library's flat list: root '/' first, then every folder and dataset by full path. */
    async libraryContents(libraryId: string): Promise<ContentsEntry[]> {
      const p = `/api/libraries/${enc(libraryId)}/contents`;
      return await call('GET', p, undefined, (b) => expectArray(b, 'GET', p, ['id', 'type', 'name'])) as unknown as ContentsEntry[];
    },

    async showLibraryContent(libraryId: string, contentId: string): Promise<Json> {
      const p = `/api/libraries/${enc(libraryId)}/contents/${enc(contentId)}`;
      return await call('GET', p, undefined, (b) => expectObject(b, 'GET', p, ['id']));
    },

    /** The legacy `upload_paths` import of absolute paths; Galaxy needs allow_path_paste. */
    async uploadPaths(
      libraryId: string,
      opts: { folderId: string; paths: string[]; fileType: string; dbkey: string; linkDataOnly?: boolean; tags?: readonly string[] },
    ): Promise<CreatedItem[]> {
      const p = `/api/libraries/${enc(libraryId)}/contents`;
      return await call('POST', p, {
        folder_id: opts.folderId,
        file_type: opts.fileType,
        ...(opts.tags && opts.tags.length > 0 ? { tags: opts.tags } : {}),
        filesystem_paths: opts.paths.join('\n'),
        dbkey: opts.dbkey,
        upload_option: 'upload_paths',
        create_type: 'file',
        link_data_only: opts.linkDataOnly ? 'link_to_files' : 'copy_files',
      }, (b) => expectArray(b, 'POST', p, ['id', 'name'])) as CreatedItem[];
    },

    /** Change a library dataset (PATCH /api/libraries/datasets/{id}): its tags, name, genome_build, misc_info. */
    async updateLibraryDataset(datasetId: string, fields: { tags?: readonly string[]; name?: string; genome_build?: string; misc_info?: string }): Promise<Json> {
      const p = `/api/libraries/datasets/${enc(datasetId)}`;
      return call('PATCH', p, fields, (b) => expectObject(b, 'PATCH', p, ['id']));
    },

    /** A library dataset by its id (GET /api/libraries/datasets/{id}): its current version's ldda_id, folder, state, deleted. */
    async libraryDataset(datasetId: string): Promise<LibraryDatasetDetails> {
      const p = `/api/libraries/datasets/${enc(datasetId)}`;
      return await call('GET', p, undefined, (b) => expectObject(b, 'GET', '/api/libraries/datasets/{id}', ['id', 'ldda_id'])) as LibraryDatasetDetails;
    },

    /**
     * A library dataset version's stored hashes and the state of the dataset under it
     * (GET /api/datasets/{ldda_id}/storage?hda_ldda=ldda; docs/galaxy-notes.md, "Checksums"). Galaxy
     * stores the hash a fetch item sent even when it did not match: it counts only with `dataset_state` ok.
     */
    async datasetStorage(lddaId: string): Promise<DatasetStorage> {
      const p = `/api/datasets/${enc(lddaId)}/storage?hda_ldda=ldda`;
      const where = '/api/datasets/{id}/storage';
      return await call('GET', p, undefined, (b) => {
        const body = expectObject(b, 'GET', where, ['dataset_state']);
        if (!Array.isArray(body.hashes)) throw shapeError('GET', where, 'the field "hashes" is missing or not a list');
        expectArray(body.hashes, 'GET', where, ['hash_function', 'hash_value']);
        return body as DatasetStorage;
      });
    },

    /**
     * Ask Galaxy to compute and store a library dataset version's hash (PUT
     * /api/datasets/{ldda_id}/hash?hda_ldda=ldda): a Celery task, so it runs only where
     * `enable_celery_tasks` is on; Galaxy answers with the task at once, the hash appears later in
     * datasetStorage. A hash of that function stored already is kept (Galaxy logs a difference).
     */
    async computeDatasetHash(lddaId: string, hashFunction: 'MD5' | 'SHA-1' | 'SHA-256' | 'SHA-512'): Promise<Json> {
      const p = `/api/datasets/${enc(lddaId)}/hash?hda_ldda=ldda`;
      return await call('PUT', p, { hash_function: hashFunction }, (b) => expectObject(b, 'PUT', '/api/datasets/{id}/hash', ['id']));
    },

    /** Mark a library dataset deleted (DELETE /api/libraries/datasets/{id}); Galaxy answers with the dataset, `deleted: true`. */
    async deleteLibraryDataset(datasetId: string): Promise<Json> {
      const p = `/api/libraries/datasets/${enc(datasetId)}`;
      return call('DELETE', p, undefined, (b) => expectObject(b, 'DELETE', '/api/libraries/datasets/{id}', []));
    },
  };
}

export type LibrariesApi = ReturnType<typeof librariesApi>;
