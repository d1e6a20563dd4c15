import type { FetchItem, Json, JobSummary } from './answers.js';
import { expectArray, expectObject, shapeError } from './answers.js';
import type { Call } from './call.js';
import { enc } from './call.js';

/** Galaxy's histories, the fetch API and its jobs (client.ts puts them together). */
export function jobsApi(call: Call) {
  return {
    async createHistory(name: string): Promise<{ id: string; name: string }> {
      const p = '/api/histories';
      return await call('POST', p, { name }, (b) => expectObject(b, 'POST', p, ['id'])) as { id: string; name: string };
    },

    /**
     * `POST /api/tools/fetch` into a library folder. `folderId` may carry the
     * `F` prefix the library APIs use: the fetch API wants it without.
     * Returns the job id; the datasets appear in the folder when the job ends.
     */
    /** One fetch request (one Galaxy job) with a target per library folder. */
    async fetchToFolders(opts: { historyId: string; targets: readonly { folderId: string; items: readonly FetchItem[] }[] }): Promise<{ jobId: string }> {
      const p = '/api/tools/fetch';
      const targets = opts.targets.map((t) => {
        const folder = t.folderId.startsWith('F') ? t.folderId.slice(1) : t.folderId;
        const items = t.items.map((it) => {
          const out: Json = it.serverDir !== undefined
            ? { src: 'server_dir', server_dir: it.serverDir }
            : { src: 'path', path: it.path };
          out.name = it.name;
          out.ext = it.ext;
          out.dbkey = it.dbkey;
          // Always a boolean: the legacy strings are read inverted here (galaxy-api.md 3.9).
          out.link_data_only = it.linkDataOnly;
          if (it.info) out.info = it.info;
          if (it.hashes?.length) out.hashes = it.hashes.map((h) => ({ hash_function: h.hashFunction, hash_value: h.hex }));
          return out;
        });
        return { destination: { type: 'library_folder', library_folder_id: folder }, items };
      });
      const body = { history_id: opts.historyId, targets };
      return call('POST', p, body, (res) => {
        const first = expectArray(expectObject(res, 'POST', p, []).jobs, 'POST', p, ['id'])[0];
        if (!first) throw shapeError('POST', p, 'the answer names no job');
        return { jobId: first.id as string };
      });
    },

    /**
     * Jobs of one history, most recently updated first: after an upload whose answer was lost, they
     * tell whether Galaxy took it; with `updatedSinceMs`, only those Galaxy updated since then
     * (`date_range_min`, compared with `update_time`: Galaxy's times are UTC without a zone).
     */
    async listJobs(opts: { historyId: string; toolId?: string; limit?: number; updatedSinceMs?: number }): Promise<JobSummary[]> {
      const q = new URLSearchParams({ history_id: opts.historyId, limit: String(opts.limit ?? 100) });
      if (opts.toolId) q.set('tool_id', opts.toolId);
      if (opts.updatedSinceMs !== undefined) q.set('date_range_min', new Date(opts.updatedSinceMs).toISOString().slice(0, 23));
      const p = '/api/jobs';
      return await call('GET', `${p}?${q.toString()}`, undefined, (b) => expectArray(b, 'GET', p, ['id', 'state'])) as JobSummary[];
    },

    async showJob(jobId: string, full = false): Promise<JobSummary> {
      const p = `/api/jobs/${enc(jobId)}${full ? '?full=true' : ''}`;
      return await call('GET', p, undefined, (b) => expectObject(b, 'GET', `/api/jobs/${enc(jobId)}`, ['id', 'state'])) as JobSummary;
    },
  };
}

export type JobsApi = ReturnType<typeof jobsApi>;
