import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FileState } from '../states.js';
import { FILE_STATES } from '../states.js';
import type { DaemonEvent } from './events.js';
import { eventName } from './telemetry.js';

/** What the gauges read when scraped. */
export interface MetricsSource {
  files(): Record<FileState, number>;
  queueDepth(): number;
  /** Why the daemon is not ready, without waiting for Galaxy (Daemon.readiness({wait: false})). */
  readiness(): Promise<string[]>;
  /** Why uploads are paused (the gate), or null. */
  paused(): PauseKind | null;
  /** Why the ledger cannot be used now (Coordinator.problem()), or null. */
  ledgerProblem(): string | null;
}

/** The gate's reasons to pause uploads (pipeline/gate.ts, PauseKind; observe/ does not import pipeline/). */
type PauseKind = 'key' | 'unusable' | 'failing';
const PAUSE_KINDS: readonly PauseKind[] = ['key', 'unusable', 'failing'];

/**
 * The daemon's Prometheus metrics, on a registry of its own (no global state).
 * Counters are fed from the daemon's typed events (observe/events.ts), the same
 * events its log lines are written from, so metrics and logs cannot disagree; gauges are read when scraped. No key,
 * path or file content goes into a label.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #uploads = new Counter({ name: 'galaxy_importd_uploads_total', help: 'Files whose upload ended, by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly #retries = new Counter({ name: 'galaxy_importd_retries_total', help: 'Upload attempts that will be retried', registers: [this.registry] });
  readonly #checksums = new Counter({
    name: 'galaxy_importd_checksums_total',
    help: "Files by their checksum's outcome: verified (Galaxy checked it in the job that made the dataset ok), unverified (ok with no checksum sent), mismatched (the bytes differed from the checksum list's or from those Galaxy read)",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly #skipped = new Counter({ name: 'galaxy_importd_skipped_total', help: 'Files skipped (symlink out, not a regular file, backlog)', registers: [this.registry] });
  readonly #watcherErrors = new Counter({ name: 'galaxy_importd_watcher_errors_total', help: 'Errors from the file watcher or the walk', registers: [this.registry] });
  readonly #rescans = new Counter({ name: 'galaxy_importd_rescans_total', help: 'Walks of the import directory after the first', registers: [this.registry] });
  readonly #ledgerOutages = new Counter({ name: 'galaxy_importd_ledger_outages_total', help: 'Times the shared PostgreSQL ledger became unreachable', registers: [this.registry] });
  /** Every event said, by its log line's `event`: each log line is counted. */
  readonly #events = new Counter({ name: 'galaxy_importd_events_total', help: 'Log lines of the daemon, by event', labelNames: ['event'] as const, registers: [this.registry] });
  readonly #adopted = new Counter({ name: 'galaxy_importd_files_adopted_total', help: 'Files this replica took over from replicas that stopped renewing their claims', registers: [this.registry] });
  readonly #latency = new Histogram({
    name: 'galaxy_importd_upload_latency_seconds',
    help: 'From a file being ready to its dataset being ok in Galaxy',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'galaxy_importd_galaxy_request_duration_seconds',
    help: 'Duration of requests to Galaxy, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({ name: 'galaxy_importd_galaxy_requests_in_flight', help: 'Requests to Galaxy in flight', registers: [this.registry] });

  constructor(read: MetricsSource) {
    // The event-loop delay is sampled once a second, not prom-client's every 10 ms: the sampling
    // is a timer, and each wakeup of the process costs (idle CPU 0.38 % of a core at 10 ms, 0.15 %
    // at 100 ms; at 10 new files a second the 100 ms timer was a wakeup per file). A stall of the
    // loop still shows: the sample it delays records it.
    collectDefaultMetrics({ register: this.registry, prefix: 'galaxy_importd_', eventLoopMonitoringPrecision: 1000 });
    // Every known result at 0 from the start: a dashboard's panel shows 0, not "No data", before the first upload ends.
    for (const result of ['ok', 'failed']) this.#uploads.inc({ result }, 0);
    for (const result of ['verified', 'unverified', 'mismatched']) this.#checksums.inc({ result }, 0);
    new Gauge({
      name: 'galaxy_importd_files',
      help: 'Files in the ledger, by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const counts = read.files();
        for (const s of FILE_STATES) this.set({ state: s }, counts[s]);
      },
    });
    new Gauge({
      name: 'galaxy_importd_queue_depth',
      help: 'Files settling, queued or being uploaded',
      registers: [this.registry],
      collect() {
        this.set(read.queueDepth());
      },
    });
    // Alerts (docs/prometheus/) need states, not only counters: "the key has been refused for 5 minutes".
    new Gauge({
      name: 'galaxy_importd_ready',
      help: '1 when /readyz answers 200 (start-up walk done, Galaxy answers and takes the key, uploads not paused, the ledger usable), else 0; Galaxy\'s last answer counts',
      registers: [this.registry],
      async collect() {
        this.set((await read.readiness()).length === 0 ? 1 : 0);
      },
    });
    new Gauge({
      name: 'galaxy_importd_paused',
      help: 'Uploads paused, by why (1 while so): key (Galaxy refuses the API key), unusable (Galaxy\'s answers cannot be used), failing (Galaxy\'s upload jobs keep ending in error)',
      labelNames: ['reason'] as const,
      registers: [this.registry],
      collect() {
        const kind = read.paused();
        for (const reason of PAUSE_KINDS) this.set({ reason }, kind === reason ? 1 : 0);
      },
    });
    new Gauge({
      name: 'galaxy_importd_ledger_available',
      help: '0 while the ledger cannot be used (the shared PostgreSQL ledger unreachable, or this replica\'s name not held), else 1',
      registers: [this.registry],
      collect() {
        this.set(read.ledgerProblem() === null ? 1 : 0);
      },
    });
  }

  /** Count one event (every event the daemon emits comes here, beside its log line). */
  observe(e: DaemonEvent): void {
    this.#events.inc({ event: eventName(e) });
    switch (e.type) {
      case 'upload.ok':
        this.#uploads.inc({ result: 'ok' });
        if (e.duration_ms !== undefined) this.#latency.observe(e.duration_ms / 1000);
        if (e.verified !== undefined) this.#checksums.inc({ result: e.verified ? 'verified' : 'unverified' });
        break;
      case 'checksum.mismatch':
        this.#checksums.inc({ result: 'mismatched' });
        break;
      case 'upload.failed':
        this.#uploads.inc({ result: 'failed' });
        break;
      // A file's upload that will be tried again; not a failed look at a job (job.check_failed).
      case 'upload.retry':
        this.#retries.inc();
        break;
      case 'file.skipped':
        this.#skipped.inc();
        break;
      case 'watch.error':
        this.#watcherErrors.inc();
        break;
      // Every walk after the first: the timer's rescans and SIGHUP's alike.
      case 'daemon.walk':
        if (!e.initial) this.#rescans.inc();
        break;
      // The database went away; not a stop with changes unwritten (ledger.unwritten).
      case 'ledger.unavailable':
        this.#ledgerOutages.inc();
        break;
      case 'ledger.adopted':
        this.#adopted.inc(e.files);
        break;
      default:
        break;
    }
  }
}
