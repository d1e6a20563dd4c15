import type { FileState } from '../states.js';
import { FILE_STATES } from '../states.js';

/**
 * The status page at `/` on [http] listen: plain server-rendered HTML that reloads itself,
 * with nothing from outside the machine (no script, font or stylesheet is fetched). What an
 * admin asks first: is it working (Galaxy and ledger health), how many files are where, what is
 * in flight, and why the latest failures failed. Never the API key: nothing here comes from it.
 */

export interface StatusData {
  version: string;
  galaxy: string;
  importDir: string;
  ledger: string;
  /** When the page was made (ms since the epoch). */
  now: number;
  /** Why the daemon is not ready (/readyz); empty when it is. */
  reasons: string[];
  states: Record<FileState, number>;
  settling: number;
  waitingForMarker: number;
  inFlight: number;
  folders: { library: string; folder: string; counts: Record<FileState, number>; verified: number }[];
  /** The latest failures, newest first, with Galaxy's reason. */
  failures: { file: string; reason: string | null; attempts: number; at: number }[];
  /** Files queued, submitted or retrying, newest first. */
  active: { file: string; state: FileState; attempts: number; at: number }[];
}

/** How often the page reloads itself. */
export const STATUS_REFRESH_SECONDS = 10;

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function ago(now: number, at: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#555}.meta code{color:#222}
.health{padding:.6em .9em;border-radius:6px;display:inline-block;margin:.6em 0}
.ok{background:#e3f5e1;border:1px solid #8c8}.bad{background:#fde8e6;border:1px solid #d88}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.state-failed{color:#b00}.state-ok{color:#070}.reason{max-width:60em;white-space:pre-wrap;word-break:break-word}
.none{color:#777;font-style:italic}footer{margin-top:2em;color:#777;font-size:.9em}`;

export function renderStatusPage(d: StatusData): string {
  const shown = FILE_STATES.filter((s) => d.states[s] > 0 || s === 'ok' || s === 'failed');
  const health = d.reasons.length === 0
    ? '<div class="health ok" id="health">Ready: Galaxy answers, the key works, the ledger is open.</div>'
    : `<div class="health bad" id="health"><strong>Not ready:</strong><ul>${d.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul></div>`;
  const states = `<table id="states"><tr>${shown.map((s) => `<th>${s}</th>`).join('')}</tr><tr>${shown.map((s) => `<td class="n state-${s}">${d.states[s]}</td>`).join('')}</tr></table>
<p>In memory now: ${d.settling} settling${d.waitingForMarker > 0 ? ` (${d.waitingForMarker} waiting for their ready marker)` : ''}, ${d.inFlight} queued or on their way to Galaxy.</p>`;
  const folderStates = FILE_STATES.filter((s) => d.folders.some((f) => f.counts[s] > 0));
  const folders = d.folders.length === 0
    ? '<p class="none">No files yet.</p>'
    : `<table id="folders"><tr><th>library</th><th>folder</th>${folderStates.map((s) => `<th>${s}</th>`).join('')}<th title="ok files whose checksum Galaxy verified in the job that imported them">verified</th></tr>${d.folders.map((f) => `<tr><td>${esc(f.library)}</td><td>${esc(f.folder)}</td>${folderStates.map((s) => `<td class="n state-${s}">${f.counts[s] || ''}</td>`).join('')}<td class="n">${f.verified} of ${f.counts.ok}</td></tr>`).join('')}</table>`;
  const active = d.active.length === 0
    ? '<p class="none">Nothing in flight.</p>'
    : `<table id="active"><tr><th>file</th><th>state</th><th>attempts</th><th>since</th></tr>${d.active.map((a) => `<tr><td>${esc(a.file)}</td><td>${a.state}</td><td class="n">${a.attempts}</td><td>${ago(d.now, a.at)}</td></tr>`).join('')}</table>`;
  const failures = d.failures.length === 0
    ? '<p class="none">No failed files.</p>'
    : `<table id="failures"><tr><th>file</th><th>why (Galaxy's words where it gave them)</th><th>attempts</th><th>when</th></tr>${d.failures.map((f) => `<tr><td>${esc(f.file)}</td><td class="reason">${esc(f.reason ?? 'no reason recorded')}</td><td class="n">${f.attempts}</td><td>${ago(d.now, f.at)}</td></tr>`).join('')}</table>
<p>Fix the cause, then <code>galaxy-importd retry --all-failed</code> (or <code>retry PATH…</code>).</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>galaxy-importd${d.reasons.length ? ' (not ready)' : ''}</title><style>${STYLE}</style></head>
<body>
<h1>galaxy-importd</h1>
<div class="meta">Galaxy <code>${esc(d.galaxy)}</code> · import directory <code>${esc(d.importDir)}</code> · ledger <code>${esc(d.ledger)}</code></div>
${health}
<h2>Files by state</h2>
${states}
<h2>By library and folder</h2>
${folders}
<h2>In flight</h2>
${active}
<h2>Latest failures</h2>
${failures}
<footer>galaxy-importd ${esc(d.version)} · ${new Date(d.now).toISOString()} · reloads every ${STATUS_REFRESH_SECONDS} s · also <a href="/metrics">/metrics</a>, <a href="/readyz">/readyz</a>, <a href="/healthz">/healthz</a></footer>
</body></html>
`;
}
