import type { GalaxyClient } from '../galaxy/client.js';
import { UsageError } from '../errors.js';
import { formatDisplay, formatResponse } from './format.js';

/**
 * The seed's four scripts (scripts/api/display.py, library_create_library.py,
 * library_create_folder.py, library_upload_from_import_dir.py) as
 * `galaxy-importd api …`, with the same arguments except the key.
 */

export interface ApiCommand {
  name: string;
  args: string;
  summary: string;
  min: number;
  max: number;
  run(client: GalaxyClient, url: URL, rest: string[]): Promise<{ body: unknown; layout: 'display' | 'response' }>;
}

export const API_COMMANDS: readonly ApiCommand[] = [
  {
    name: 'display',
    args: 'URL',
    summary: "GET any API URL and print it in display.py's layout",
    min: 1,
    max: 1,
    run: async (client, url) => ({ body: await client.get(url.href), layout: 'display' }),
  },
  {
    name: 'create-library',
    args: 'URL NAME [DESCRIPTION]',
    summary: 'create a data library (URL is …/api/libraries)',
    min: 2,
    max: 3,
    run: async (client, url, [name, description]) => ({
      body: await client.post(url.href, { name, description: description ?? '', synopsis: '' }),
      layout: 'response',
    }),
  },
  {
    name: 'create-folder',
    args: 'CONTENTS_URL PARENT_FOLDER_ID NAME [DESCRIPTION]',
    summary: 'create a folder (CONTENTS_URL is …/api/libraries/ID/contents; folder ids start with F)',
    min: 3,
    max: 4,
    run: async (client, url, [folderId, name, description]) => ({
      body: await client.post(url.href, { folder_id: folderId, name, description: description ?? '', create_type: 'folder' }),
      layout: 'response',
    }),
  },
  {
    name: 'upload-dir',
    args: 'CONTENTS_URL FOLDER_ID SERVER_DIR FILE_TYPE DBKEY',
    summary: 'import every file of a library_import_dir subdirectory into a folder',
    min: 5,
    max: 5,
    run: async (client, url, [folderId, serverDir, fileType, dbkey]) => ({
      body: await client.post(url.href, {
        folder_id: folderId,
        file_type: fileType,
        server_dir: serverDir,
        dbkey,
        upload_option: 'upload_directory',
        create_type: 'file',
      }),
      layout: 'response',
    }),
  },
];

/** An API URL from argv: absolute http(s), and never carrying the key. */
export function parseApiUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${JSON.stringify(raw)} is not a URL: give a full URL such as http://localhost:8080/api/libraries`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${JSON.stringify(raw)}: only http:// and https:// URLs are supported`);
  if (url.searchParams.has('key')) {
    throw new UsageError('the URL carries key=…: the API key never goes on the command line. Remove it and set $GALAXY_API_KEY or [galaxy] api_key_file instead.');
  }
  return url;
}

export function render(layout: 'display' | 'response', body: unknown, url: URL, json: boolean): string {
  if (json) return `${JSON.stringify(body, null, 2)}\n`;
  return layout === 'display' ? formatDisplay(body, url.pathname) : formatResponse(body, url.pathname);
}
