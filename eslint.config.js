import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** One no-restricted-imports rule per layer: `above` are the folders (or daemon.ts) it may not import. */
function layers(rules) {
  return rules.map(([files, above, ignores = []]) => ({
    files: [files],
    ignores,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: `^(\\./|(\\.\\./)+)(${above.filter((a) => a !== 'daemon').join('|')})/|^(\\./|(\\.\\./)+)daemon\\.js$`,
          message: `${files} may not import from a layer above it (${above.join(', ')}): docs/architecture.md, "Rules between modules"`,
        }],
      }],
    },
  }));
}

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      // Lines of code up to 200 characters; strings, templates and regular expressions (messages) may run on.
      'max-len': ['error', { code: 200, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
    },
  },
  // The layers of src/ (docs/architecture.md, "Rules between modules"), lowest first: the ground
  // floor (src/*.ts but daemon.ts: clock, errors, group, retry, states, version); config and
  // galaxy; observe; ledger; watch; pipeline; daemon.ts, the composition root; cli. A module
  // imports from its own folder and from below, never from above.
  ...layers([
    ['src/*.ts', ['config', 'galaxy', 'observe', 'ledger', 'watch', 'pipeline', 'cli', 'daemon'], ['src/daemon.ts']],
    ['src/config/**/*.ts', ['galaxy', 'observe', 'ledger', 'watch', 'pipeline', 'cli', 'daemon']],
    ['src/galaxy/**/*.ts', ['config', 'observe', 'ledger', 'watch', 'pipeline', 'cli', 'daemon']],
    ['src/observe/**/*.ts', ['ledger', 'watch', 'pipeline', 'cli', 'daemon']],
    ['src/ledger/**/*.ts', ['watch', 'pipeline', 'cli', 'daemon']],
    ['src/watch/**/*.ts', ['pipeline', 'cli', 'daemon']],
    ['src/pipeline/**/*.ts', ['cli', 'daemon']],
    ['src/daemon.ts', ['cli']],
  ]),
  {
    // A module of the product does one thing: no file of src/ over 300 lines (split by responsibility).
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 300 }] },
  },
  {
    // node:test's describe()/it() return promises the runner itself awaits.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
