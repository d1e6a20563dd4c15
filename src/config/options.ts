/**
 * The one table of configuration options. It drives parsing, strict
 * conversion, validation, docs/configuration.md and config/galaxy-importd.ini;
 * a test keeps the last two in sync with it. Defaults are written as they
 * would be in the INI file and go through the same conversion as user values.
 */

export type OptionType =
  | { kind: 'string' }
  | { kind: 'path' }
  | { kind: 'url' }
  | { kind: 'postgresql_url' }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'boolean' }
  | { kind: 'list' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'listen' }
  | { kind: 'after_upload' };

export interface OptionSpec {
  section: string;
  key: string;
  type: OptionType;
  /** INI text of the default; undefined when the option has none (optional or required). */
  default?: string;
  /** Required for the daemon's commands (run, scan, check): what to say after "is required" when it is missing. */
  required?: string;
  doc: string;
  /** A value shown in the example file when there is no default. */
  example?: string;
}

const int = (min: number, max: number) => ({ kind: 'integer', min, max }) as const;
const num = (min: number, max: number) => ({ kind: 'number', min, max }) as const;

export type AfterUpload = { action: 'keep' } | { action: 'delete' } | { action: 'move'; dir: string };

export const OPTIONS = [
  { section: 'galaxy', key: 'url', type: { kind: 'url' }, required: ": Galaxy's base URL, such as http://127.0.0.1:8080", example: 'http://127.0.0.1:8080',
    doc: "Galaxy's base URL, with its path prefix if Galaxy is served below one (https://example.org/galaxy)." },
  { section: 'galaxy', key: 'api_key_file', type: { kind: 'path' }, example: '/etc/galaxy-importd/api_key',
    doc: "A file holding an admin user's API key. Used when $GALAXY_API_KEY is not set; $CREDENTIALS_DIRECTORY/galaxy-api-key (systemd LoadCredential=) comes last. The key is never read from the command line." },
  { section: 'galaxy', key: 'galaxy_config', type: { kind: 'path' }, example: '/srv/galaxy/config/galaxy.yml',
    doc: "Galaxy's galaxy.yml (or older galaxy.ini / universe_wsgi.ini): library_import_dir is read from it when [import] dir is not set." },
  { section: 'galaxy', key: 'timeout_seconds', type: int(1, 3600), default: '60',
    doc: 'Deadline for one request to Galaxy, answer included.' },

  { section: 'import', key: 'dir', type: { kind: 'path' }, required: ' (or [galaxy] galaxy_config naming a Galaxy config that sets library_import_dir)', example: '/data/galaxy/import',
    doc: "Galaxy's library_import_dir as this host sees it. Required unless [galaxy] galaxy_config names a Galaxy config that sets it." },
  { section: 'import', key: 'settle_seconds', type: num(0, 86400), default: '10',
    doc: 'A file is ready when its size and modification time have not changed for this long. While fewer than 100 new files a second arrive, readiness is looked for on a 0.2 s grid, so a file may wait up to 0.2 s more and files ready about together go to Galaxy in one request. Files of a backlog (found by a walk at start, a scan or a rescan, or in a directory moved in) settle in groups: those found within about 0.5 s (at most half of settle_seconds) of each other are ready together, up to that much later.' },
  { section: 'import', key: 'ready_marker', type: { kind: 'string' }, example: '.ready',
    doc: 'When set, nothing in a directory is imported before a file of this name exists in it; the marker itself is never imported. `scan` imports the directories that have it and says how many files wait for theirs.' },
  { section: 'import', key: 'ignore', type: { kind: 'list' }, default: '.*, *.part, *.tmp, *~, *.swp',
    doc: "Comma-separated name patterns (* and ? wildcards) that are never imported. Hidden names also cover rsync's .name.XXXXXX temporaries." },
  { section: 'import', key: 'poll', type: { kind: 'boolean' }, default: 'false',
    doc: 'Poll the file system instead of using inotify: needed on NFS and CIFS, where inotify sees no changes made by other hosts.' },
  { section: 'import', key: 'rescan_minutes', type: num(0, 1440), default: '10',
    doc: 'Walk the whole import directory this often, as a safety net for missed events; 0 turns it off.' },
  { section: 'import', key: 'backlog', type: { kind: 'enum', values: ['upload', 'skip'] }, default: 'upload',
    doc: 'What to do with files already present at the very first start: upload them, or skip them and import only new files.' },
  { section: 'import', key: 'manifests', type: { kind: 'list' }, default: 'md5.txt, md5sum.txt, md5sums.txt, MD5SUMS, *.md5, sha1sums.txt, SHA1SUMS, sha256sum.txt, sha256sums.txt, SHA256SUMS, *.sha256, sha512sums.txt, SHA512SUMS, *.sha512',
    doc: "Comma-separated name patterns (* and ?) of providers' checksum lists (GNU `<hex>  <name>` lines, text or binary mode, or BSD `MD5 (<name>) = <hex>`; MD5, SHA-1, SHA-256 and SHA-512 known by length; names relative to the list's directory). A list is read once it settles; a file it names is checked against it before it is sent (a file that differs is failed, naming the list and line, and never imported) and sent with the list's digest too, so that Galaxy checks it as well (method = fetch). A file a list names that is not there settle_seconds after the list was read is recorded missing until it arrives. Empty: no lists are read." },
  { section: 'import', key: 'manifest_required', type: { kind: 'boolean' }, default: 'false',
    doc: 'Import only files a checksum list names: a file waits for a list in its directory or one above (up to manifest_wait_seconds), and fails when the list there leaves it out. false: files no list names are imported with their own checksum only.' },
  { section: 'import', key: 'manifest_wait_seconds', type: num(0, 604800), default: '3600',
    doc: 'With manifest_required, how long a settled file waits for a checksum list before it is failed (galaxy-importd retry sends it again once the list is there).' },
  { section: 'import', key: 'import_manifests', type: { kind: 'boolean' }, default: 'false',
    doc: 'Import the checksum lists themselves as datasets too; false: they are read, recorded skipped, and not imported.' },
  { section: 'import', key: 'after_upload', type: { kind: 'after_upload' }, default: 'keep',
    doc: 'What to do with a file once its dataset is ok: keep it, delete it, or move:DIR to move it below DIR. Not allowed with link_data_only.' },

  { section: 'library', key: 'name', type: { kind: 'string' }, default: 'Imports',
    doc: 'The data library files go to unless a [folder:NAME] section says otherwise; created when missing.' },
  { section: 'library', key: 'description', type: { kind: 'string' }, default: 'Files from the import directory',
    doc: 'Description given to libraries galaxy-importd creates.' },
  { section: 'library', key: 'access', type: { kind: 'list' }, example: 'lab-a',
    doc: "One Galaxy role name, or a user's email meaning that user's private role: only its members see the library [library] name and read the datasets galaxy-importd puts there ([folder:NAME] access overrides it for a subdirectory's datasets). A public library is restricted at its first use; one restricted to other roles is left alone and reported by check, as are datasets that were readable by all before access was set. Empty: public: the library as Galaxy makes it, and every dataset galaxy-importd imports readable by everybody, whatever the key's user's default permissions (a dataset Galaxy made private from them is made public). See docs/operations.md, \"Access and notifications\"." },
  { section: 'library', key: 'notify', type: { kind: 'list' }, example: 'lab-a, pi@lab-a.example.org',
    doc: 'Galaxy role names or user emails told, by a Galaxy notification, when files of a folder are ok (the default for every [folder:NAME]); needs Galaxy 23.1 or later with enable_notification_system: true. Empty: nobody is told.' },
  { section: 'library', key: 'notify_minutes', type: num(0, 1440), default: '5',
    doc: 'At most one notification per folder this often: files that become ok meanwhile are counted into the next one. 0 sends one per batch.' },

  { section: 'upload', key: 'method', type: { kind: 'enum', values: ['fetch', 'paths'] }, default: 'fetch',
    doc: "fetch: POST /api/tools/fetch with server_dir items (needs an admin key and library_import_dir). paths: the legacy upload_paths option (needs Galaxy's allow_path_paste)." },
  { section: 'upload', key: 'concurrency', type: int(1, 64), default: '4',
    doc: 'Most requests to Galaxy in flight at once, job polling included; also the most upload histories in use at once (named "galaxy-importd uploads N" in Galaxy), one per upload request until Galaxy answers it.' },
  { section: 'upload', key: 'rate_per_second', type: num(0, 1000), default: '50',
    doc: "Most request starts to Galaxy in any one second; 0 means no rate limit. Beside `concurrency`, it bounds only requests Galaxy answers in under concurrency/rate seconds (80 ms at the defaults), such as a backlog's folder creations and folder reads (a few tens of milliseconds each) and `audit`'s reads of each dataset's stored hashes, which share this limit. At 5 (the default before issue 29), 1,000 files in 100 new folders took 73 s into a production-shaped Galaxy against 37 s at 50 or unlimited: 200 cheap requests, 5 a second. Lower it to spread that load over more time; Galaxy's cost is the same." },
  { section: 'upload', key: 'batch_size', type: int(1, 10000), default: '10000',
    doc: "Most files sent in one fetch request (one Galaxy job). Files ready one at a time go at once, as they come; a backlog (a start-up walk, a scan, a burst) goes in requests of up to this many files, folders sharing a request, a target each. Each Galaxy job costs about 15 CPU seconds whatever its size, and a few hundredths of a second per small file, so a backlog costs Galaxy about one job per batch_size files: at the default, Galaxy's own ceiling (its max_discovered_files fails a job of more), a backlog of up to 10,000 files is one job. At 2,500 (the default before) 10,000 small files were four jobs, which cost a single-process Galaxy 1.2-1.33x the CPU of one and no time (bench/RESULTS.md). With checksums each file adds about 300 bytes to the request, 2.8 MB at 10,000: behind nginx, raise client_max_body_size above its default of 1 MB (Galaxy's nginx docs set 10G), or a large request is refused (413) and goes again in halves, down to 2,500 files, with a warning for each folder each time; from then on, until a restart or a reload (SIGHUP), requests hold at most half the refused one's files (an upload.ceiling warning says how many). A lower batch_size has a backlog's first datasets ok sooner (a job of 10,000 small files runs about 5 minutes on 2 cores) and a job failed as a whole costs less to split (in halves: by folders, then a folder's files)." },
  { section: 'upload', key: 'checksum', type: { kind: 'enum', values: ['sha256', 'md5', 'sha1', 'sha512', 'none'] }, default: 'sha256',
    doc: "Each file's checksum, computed once it has settled (streamed, in bounded memory) and sent with it (method = fetch: the item's hashes), so that Galaxy verifies in the upload job that it imports the very bytes that settled: a file changed after it settled ends in a dataset in error, which galaxy-importd deletes, and the file settles and goes again. With method = paths it is not sent (Galaxy's upload_paths takes no hashes): where Galaxy runs Celery, the hash Galaxy computes of each dataset after the job is compared with it instead (a dataset of other bytes is deleted, and the file goes again if it changed); without Celery it is only recorded (galaxy-importd audit compares it), and check says so. none: no checksum." },
  { section: 'upload', key: 'file_type', type: { kind: 'string' }, default: 'auto',
    doc: "Galaxy datatype (ext) given to each dataset; auto lets Galaxy sniff it." },
  { section: 'upload', key: 'dbkey', type: { kind: 'string' }, default: '?',
    doc: 'Genome build (dbkey) given to each dataset; ? means unspecified.' },
  { section: 'upload', key: 'link_data_only', type: { kind: 'boolean' }, default: 'false',
    doc: 'Link datasets to the files in place instead of copying them into Galaxy; the files must then never move.' },
  { section: 'upload', key: 'job_timeout_minutes', type: num(0.01, 10080), default: '60',
    doc: "How long an upload job may stay unfinished (queued, running) before its files are marked failed with the job's state; galaxy-importd retry sends them again, after checking that no dataset appeared meanwhile." },
  { section: 'upload', key: 'max_attempts', type: int(1, 100), default: '8',
    doc: 'Attempts per file before it is marked failed. A try that met Galaxy down as a whole (a restart, an outage: no answer, or its proxy\'s 502-504, and /api/version gets none either) is not counted: files wait as long as an outage lasts.' },
  { section: 'upload', key: 'backoff_max_seconds', type: num(1, 86400), default: '600',
    doc: 'Longest wait between two attempts; waits grow exponentially with full jitter up to this.' },

  { section: 'state', key: 'dir', type: { kind: 'path' }, default: '/var/lib/galaxy-importd',
    doc: 'Where the ledger (SQLite, on a local disk) lives; created when missing.' },
  { section: 'state', key: 'ledger', type: { kind: 'enum', values: ['sqlite', 'postgresql'] }, default: 'sqlite',
    doc: 'sqlite: one embedded ledger file in [state] dir, for a single instance. postgresql: a ledger shared by several replicas watching the same import directory (see docs/operations.md, "Several replicas").' },
  { section: 'state', key: 'postgresql_url', type: { kind: 'postgresql_url' }, example: 'postgresql://galaxy_importd@db.example.org:5432/galaxy_importd',
    doc: 'The PostgreSQL database of the shared ledger (ledger = postgresql), without a password: the password comes from $PGPASSWORD, postgresql_password_file, or the systemd credential postgresql-password.' },
  { section: 'state', key: 'postgresql_password_file', type: { kind: 'path' }, example: '/etc/galaxy-importd/postgresql_password',
    doc: "A file holding the PostgreSQL user's password; used when $PGPASSWORD is not set." },
  { section: 'state', key: 'lease_seconds', type: int(10, 3600), default: '60',
    doc: "How long a replica's claim on a file lasts without renewal (ledger = postgresql): a replica renews its claims while it runs; when it dies, the others take its files over after this long." },
  { section: 'state', key: 'replica_name', type: { kind: 'string' }, example: 'galaxy-importd-1',
    doc: "This replica's name in the shared ledger (ledger = postgresql); the host name when absent. Each running replica needs its own: a second one with a name in use waits until the first stops." },

  { section: 'log', key: 'level', type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] }, default: 'info',
    doc: 'Least severe level logged; JSON lines on stdout.' },

  { section: 'http', key: 'listen', type: { kind: 'listen' }, default: '127.0.0.1:9187',
    doc: 'host:port for the status page at /, /healthz, /readyz and /metrics; empty turns the server off. The status page shows file names: keep it on loopback, or behind what guards the host.' },
] as const satisfies readonly OptionSpec[];

/** Keys of a [folder:NAME] section, NAME being the subdirectory as it is named on disk. */
export const FOLDER_OPTIONS = [
  { section: 'folder:NAME', key: 'library', type: { kind: 'string' }, example: 'API Test Library',
    doc: 'Library for this subdirectory; [library] name when absent.' },
  { section: 'folder:NAME', key: 'folder', type: { kind: 'string' }, example: '/api_test_folder1',
    doc: 'Folder path inside the library; /NAME when absent. Deeper directories become subfolders of it.' },
  { section: 'folder:NAME', key: 'file_type', type: { kind: 'string' }, example: 'bed', doc: '[upload] file_type for this subdirectory.' },
  { section: 'folder:NAME', key: 'dbkey', type: { kind: 'string' }, example: 'hg19', doc: '[upload] dbkey for this subdirectory.' },
  { section: 'folder:NAME', key: 'tags', type: { kind: 'list' }, example: 'run42, sequencer',
    doc: "Tags for the datasets. Galaxy's fetch API takes tags on library items but does not apply them, so galaxy-importd sets them on each dataset once it is ok (PATCH /api/libraries/datasets/{id}); a dataset whose tags cannot be set stays imported, with an upload.tags_failed warning." },
  { section: 'folder:NAME', key: 'link_data_only', type: { kind: 'boolean' }, example: 'false',
    doc: '[upload] link_data_only for this subdirectory.' },
  { section: 'folder:NAME', key: 'access', type: { kind: 'list' }, example: 'lab-a',
    doc: "[library] access for this subdirectory's datasets. When the section names its own library, that library is restricted too (every section naming one library must give it the same access). Galaxy has no access on folders: a folder's name stays visible to whoever sees its library." },
  { section: 'folder:NAME', key: 'notify', type: { kind: 'list' }, example: 'lab-a',
    doc: '[library] notify for this subdirectory.' },
] as const satisfies readonly OptionSpec[];

export const SECTIONS: readonly string[] = [...new Set(OPTIONS.map((o) => o.section))];

// ---- The Config type, derived from the tables ----

/** The value an option of this type has once converted (convert.ts). */
export type ValueOf<T extends OptionType> =
  T extends { kind: 'integer' | 'number' } ? number
    : T extends { kind: 'boolean' } ? boolean
      : T extends { kind: 'list' } ? readonly string[]
        : T extends { kind: 'enum'; values: readonly (infer V)[] } ? V
          : T extends { kind: 'listen' } ? { host: string; port: number } | null
            : T extends { kind: 'after_upload' } ? AfterUpload
              : string;

type Option = (typeof OPTIONS)[number];
/** With a default it always has a value; without one it is null when not set. */
type OptionValue<O extends OptionSpec> = O extends { default: string } ? ValueOf<O['type']> : ValueOf<O['type']> | null;

/** A [folder:NAME] section: the keys it sets. */
export type FolderRule = { [O in (typeof FOLDER_OPTIONS)[number] as O['key']]?: ValueOf<O['type']> };

export type Config = {
  readonly [S in Option['section']]: { readonly [O in Extract<Option, { section: S }> as O['key']]: OptionValue<O> };
} & {
  /** The file read, or null (all defaults). */
  readonly file: string | null;
  /** [folder:NAME] sections by subdirectory name, exactly as written (dots and spaces kept). */
  readonly folders: ReadonlyMap<string, FolderRule>;
};
