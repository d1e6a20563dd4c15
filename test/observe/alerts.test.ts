import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Metrics } from '../../src/observe/metrics.js';
import { metricsSource } from '../fakes.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = path.join(root, 'docs', 'prometheus');
const RULES = 'galaxy-importd-alerts.yml';
const TESTS = 'galaxy-importd-alerts.test.yml';

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RuleTest { alertname: string; exp_alerts: unknown[] }

const rules = (parse(readFileSync(path.join(dir, RULES), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const ruleTests = (parse(readFileSync(path.join(dir, TESTS), 'utf8')) as { tests: { alert_rule_test: RuleTest[] }[] }).tests.flatMap((t) => t.alert_rule_test);

/** promtool in `dir`, or null when it is not installed. */
function promtool(...args: string[]): { status: number | null; output: string } | null {
  const res = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if ((res.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
  return { status: res.status, output: `${res.stdout}${res.stderr}${res.error ? String(res.error) : ''}` };
}

/** GitHub's anchor of a Markdown heading. */
const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

describe('docs/prometheus/galaxy-importd-alerts.yml', () => {
  it('passes promtool check rules and promtool test rules', (t) => {
    const checked = promtool('check', 'rules', RULES);
    if (checked === null) return t.skip('promtool is not installed: apt-get install prometheus');
    const tested = promtool('test', 'rules', TESTS);

    assert.equal(checked.status, 0, checked.output);
    assert.match(checked.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    assert.equal(tested?.status, 0, tested?.output);
  });

  it('names only metrics, and label values, that /metrics serves', async () => {
    const body = await new Metrics(metricsSource()).registry.metrics();
    // Each family with its type; each sample's labels as name="value".
    const families = new Map([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
    const labels = new Set([...body.matchAll(/^(\w+)\{([^}]*)\} /gm)].flatMap((m) => (m[2] ?? '').split(',').map((l) => `${m[1]}:${l}`)));
    const served = (name: string): boolean => families.has(name) || (families.get(name.replace(/_(bucket|sum|count)$/, '')) === 'histogram');
    const named = new Set<string>();
    const missing: string[] = [];
    for (const { expr } of rules) {
      for (const [, name = ''] of expr.matchAll(/\b(galaxy_importd_\w+)/g)) named.add(name);
      for (const [, name = '', matchers = ''] of expr.matchAll(/\b(galaxy_importd_\w+)\{([^}]*)\}/g)) {
        for (const [, label, op, value = ''] of matchers.matchAll(/(\w+)\s*(=~|=)\s*"([^"]*)"/g)) {
          for (const v of op === '=~' ? value.split('|') : [value]) if (!labels.has(`${name}:${label}="${v}"`)) missing.push(`${name}{${label}="${v}"}`);
        }
      }
    }

    assert.ok(named.size >= 6, `the rules name the daemon's metrics (${[...named].join(', ')})`);
    assert.deepEqual([...named].filter((n) => !served(n)), [], 'every metric the rules name is served');
    assert.deepEqual(missing, [], 'every label value the rules select is one the metric has');
  });

  it('gives each alert a severity, a summary, a description and a runbook section of docs/operations.md', () => {
    const operations = readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8');
    const anchors = new Set([...operations.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchor(m[1] ?? '')));

    assert.deepEqual(rules.map((r) => r.alert), [
      'GalaxyImportdDown', 'GalaxyImportdNotReady', 'GalaxyImportdKeyRefused', 'GalaxyImportdFilesFailing', 'GalaxyImportdStalled', 'GalaxyImportdLedgerUnavailable',
    ]);
    for (const r of rules) {
      assert.ok(['critical', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description`);
      assert.equal(r.annotations.runbook, `docs/operations.md#${anchor(r.alert)}`, `${r.alert}: runbook`);
      assert.ok(anchors.has(anchor(r.alert)), `docs/operations.md has a section ${r.alert}`);
    }
  });

  it('has promtool tests where each alert fires and where it stays quiet', () => {
    for (const { alert } of rules) {
      const cases = ruleTests.filter((c) => c.alertname === alert);

      assert.ok(cases.some((c) => c.exp_alerts.length > 0), `${alert} fires in a test`);
      assert.ok(cases.some((c) => c.exp_alerts.length === 0), `${alert} stays quiet in a test`);
    }
  });
});
