import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs, renderExampleIni } from '../../src/config/docs.js';
import { parseConfig } from '../../src/config/load.js';
import { FOLDER_OPTIONS, OPTIONS } from '../../src/config/options.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('configuration docs', () => {
  it('docs/configuration.md matches the option table (run npm run docs:config after changing it)', () => {
    assert.equal(readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8'), renderConfigDocs());
  });

  it('config/galaxy-importd.ini matches the option table (run npm run docs:config after changing it)', () => {
    assert.equal(readFileSync(path.join(root, 'config', 'galaxy-importd.ini'), 'utf8'), renderExampleIni());
  });

  it('documents every option with a heading of its own', () => {
    const md = renderConfigDocs();

    for (const o of [...OPTIONS, ...FOLDER_OPTIONS]) assert.match(md, new RegExp(`^### \`${o.key}\`$`, 'm'), o.key);
  });

  it('the example file parses with no problem other than its example import directory', () => {
    const text = renderExampleIni();

    let problems: readonly string[] = [];
    try {
      parseConfig(text, '/etc/galaxy-importd/galaxy-importd.ini');
    } catch (err) {
      problems = (err as { problems: readonly string[] }).problems;
    }

    assert.deepEqual(problems.filter((p) => !p.includes('[import] dir')), []);
  });
});
