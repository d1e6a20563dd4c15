#!/usr/bin/env node
// Writes docs/configuration.md and config/galaxy-importd.ini from the option table.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs, renderExampleIni } from '../src/config/docs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
writeFileSync(path.join(root, 'docs', 'configuration.md'), renderConfigDocs());
writeFileSync(path.join(root, 'config', 'galaxy-importd.ini'), renderExampleIni());
console.log('wrote docs/configuration.md and config/galaxy-importd.ini');
