import type { OptionSpec, OptionType } from './options.js';
import { FOLDER_OPTIONS, OPTIONS, SECTIONS } from './options.js';

/**
 * docs/configuration.md and config/galaxy-importd.ini, rendered from the option
 * table. `npm run docs:config` writes them; a test fails when they drift.
 */

function typeText(t: OptionType): string {
  switch (t.kind) {
    case 'integer':
      return `whole number, ${t.min} to ${t.max}`;
    case 'number':
      return `number, ${t.min} to ${t.max}`;
    case 'enum':
      return `one of ${t.values.map((v) => `\`${v}\``).join(', ')}`;
    case 'list':
      return 'comma-separated list';
    case 'listen':
      return '`host:port`, or empty';
    case 'after_upload':
      return '`keep`, `delete` or `move:DIR`';
    case 'url':
      return 'http:// or https:// URL';
    default:
      return t.kind;
  }
}

function optionMd(o: OptionSpec): string {
  const lines = [`### \`${o.key}\``, '', o.doc, '', `* type: ${typeText(o.type)}`];
  if (o.default !== undefined) lines.push(`* default: \`${o.default === '' ? '(empty)' : o.default}\``);
  else if (o.required) lines.push('* required');
  else lines.push('* default: unset');
  if (o.example !== undefined && o.default === undefined) lines.push(`* example: \`${o.example}\``);
  return `${lines.join('\n')}\n`;
}

export function renderConfigDocs(): string {
  const parts = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/options.ts by `npm run docs:config`; edit the table, not this file. -->',
    '',
    'galaxy-importd reads one INI file: `--config PATH`, else `/etc/galaxy-importd/galaxy-importd.ini`,',
    'else `./galaxy-importd.ini`. Every key is checked at start: unknown keys, wrong types, values out of',
    'range and malformed lines are all reported together, each with its file, line, section and key, and',
    'every command exits 2. Values are converted strictly (`12abc` is not 12). Relative paths are taken',
    'relative to the config file.',
    '',
    'INI rules to mind: a value is cut at the first unquoted `;` or `#` (quote it: `name = "run #2"`);',
    'there are no continuation lines; each key may appear once per section.',
    '',
  ];
  for (const section of SECTIONS) {
    parts.push(`## [${section}]`, '');
    for (const o of OPTIONS.filter((x) => x.section === section)) parts.push(optionMd(o));
  }
  parts.push(
    '## [folder:NAME]',
    '',
    'One section per subdirectory of the import directory that differs from the defaults. NAME is the',
    'subdirectory exactly as it is named on disk, dots and spaces included: `[folder:seq.v2]`,',
    '`[folder:run 2]` (a dot does not nest sections here). Names containing `;`, `#` or `]` cannot be',
    'written as section names.',
    '',
  );
  for (const o of FOLDER_OPTIONS) parts.push(optionMd(o));
  return `${parts.join('\n').trimEnd()}\n`;
}

function iniLine(o: OptionSpec): string[] {
  const comment = o.doc.match(/.{1,92}(\s|$)/g)?.map((l) => `; ${l.trim()}`) ?? [];
  if (o.default !== undefined) return [...comment, `${o.key} = ${o.default}`];
  if (o.required) return [...comment, `${o.key} = ${o.example ?? ''}`];
  return [...comment, `; ${o.key} = ${o.example ?? ''}`];
}

export function renderExampleIni(): string {
  const out = [
    '; galaxy-importd configuration. Generated from src/config/options.ts by `npm run docs:config`;',
    '; every key is described in docs/configuration.md. Commented keys are unset by default.',
  ];
  for (const section of SECTIONS) {
    out.push('', `[${section}]`);
    for (const o of OPTIONS.filter((x) => x.section === section)) out.push(...iniLine(o), '');
    out.pop();
  }
  out.push('', '; One section per subdirectory that differs, named as on disk (dots and spaces kept):', ';[folder:bed]');
  for (const o of FOLDER_OPTIONS) out.push(`;${o.key} = ${o.example ?? ''}`);
  return `${out.join('\n')}\n`;
}
