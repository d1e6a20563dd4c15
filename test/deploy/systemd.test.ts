import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../../src/cli/cli.js';
import { DRAIN_MS } from '../../src/cli/io.js';
import { CLI, REPO, tempDir } from '../helpers.js';

const UNIT = path.join(REPO, 'systemd', 'galaxy-importd.service');
const unitText = readFileSync(UNIT, 'utf8');

/** Every value of a key in the unit, in order (systemd keys may repeat). */
function values(key: string): string[] {
  return unitText
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1).trim());
}

function seconds(span: string): number {
  const m = /^(\d+)(s|min)?$/.exec(span);
  assert.ok(m, `cannot read the time span ${span}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const noAnalyze = hasAnalyze ? false : "systemd-analyze is not installed (Debian package systemd; .ci/run installs it)";

/** The unit as shipped, except that ExecStart names this checkout's built CLI (verify checks it exists). */
function unitForVerify(dir: string): string {
  const file = path.join(dir, 'galaxy-importd.service');
  writeFileSync(file, unitText.replace('/usr/local/bin/galaxy-importd', CLI));
  return file;
}

describe('systemd/galaxy-importd.service', () => {
  it('passes systemd-analyze verify with no warning', { skip: noAnalyze }, (t) => {
    const file = unitForVerify(tempDir(t));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.equal(r.stderr.trim(), '', 'systemd-analyze verify complained');
    assert.equal(r.status, 0);
  });

  it("has the exposure score docs/operations.md states, and it is 'OK' or better", { skip: noAnalyze }, (t) => {
    const file = unitForVerify(tempDir(t));
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = /Overall exposure level for galaxy-importd\.service: ([\d.]+) (\S+)/.exec(r.stdout);
    assert.ok(m, `no exposure level in: ${r.stdout.slice(-300)}`);
    const score = Number(m[1]);
    assert.ok(score <= 2.0, `exposure ${score} ${m[2]}: the hardening has weakened`);
    const docs = readFileSync(path.join(REPO, 'docs', 'operations.md'), 'utf8');
    assert.match(docs, new RegExp(`exposure level \\*\\*${(m[1] ?? "").replace('.', '\\.')}\\*\\*`), 'docs/operations.md states another exposure level');
  });

  it('does not restart on a configuration error, and waits longer than the daemon drains', () => {
    assert.deepEqual(values('Restart'), ['on-failure']);
    assert.ok(values('RestartPreventExitStatus').join(' ').split(/\s+/).includes(String(EXIT.usage)));
    const stop = values('TimeoutStopSec');
    assert.equal(stop.length, 1);
    assert.ok(seconds(stop[0] ?? '') * 1000 > DRAIN_MS + 5000, `TimeoutStopSec=${stop[0]} leaves no margin over the ${DRAIN_MS} ms drain`);
  });

  it('runs as a non-root user with the key as a credential and never denies W^X memory', () => {
    const user = values('User');
    assert.equal(user.length, 1);
    assert.notEqual(user[0], 'root');
    assert.deepEqual(values('LoadCredential'), ['galaxy-api-key:/etc/galaxy-importd/api_key']);
    assert.deepEqual(values('StateDirectory'), ['galaxy-importd']);
    assert.deepEqual(values('ConfigurationDirectory'), ['galaxy-importd']);
    assert.deepEqual(values('MemoryDenyWriteExecute'), [], 'V8 needs writable and executable memory');
    for (const key of ['ProtectSystem', 'NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'RestrictAddressFamilies']) {
      assert.equal(values(key).length, 1, `${key}= is missing`);
    }
    assert.ok(values('SystemCallFilter').includes('@system-service'));
  });

  it('starts the command the CLI knows, with the config path systemd creates', () => {
    const exec = values('ExecStart')[0] ?? '';
    assert.match(exec, /^\/usr\/local\/bin\/galaxy-importd --config \/etc\/galaxy-importd\/galaxy-importd\.ini run$/);
  });
});

describe('systemd/galaxy-importd-audit.service and .timer', () => {
  const dir = path.join(REPO, 'systemd');
  const audit = readFileSync(path.join(dir, 'galaxy-importd-audit.service'), 'utf8');
  const timer = readFileSync(path.join(dir, 'galaxy-importd-audit.timer'), 'utf8');
  const keys = (text: string, key: string): string[] => text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1).trim());

  it('pass systemd-analyze verify with no warning', { skip: noAnalyze }, (t) => {
    const tmp = tempDir(t);
    writeFileSync(path.join(tmp, 'galaxy-importd-audit.service'), audit.replace('/usr/local/bin/galaxy-importd', CLI));
    writeFileSync(path.join(tmp, 'galaxy-importd-audit.timer'), timer);
    const r = spawnSync('systemd-analyze', ['verify', path.join(tmp, 'galaxy-importd-audit.service'), path.join(tmp, 'galaxy-importd-audit.timer')], { encoding: 'utf8' });
    assert.equal(r.stderr.trim(), '', 'systemd-analyze verify complained');
    assert.equal(r.status, 0);
  });

  it('runs audit once, as the daemon\'s user with the daemon\'s key and ledger, weekly and after a missed run', () => {
    assert.deepEqual(keys(audit, 'Type'), ['oneshot']);
    assert.match(keys(audit, 'ExecStart')[0] ?? '', /^\/usr\/local\/bin\/galaxy-importd --config \/etc\/galaxy-importd\/galaxy-importd\.ini audit( |$)/);
    for (const key of ['User', 'Group', 'LoadCredential', 'StateDirectory', 'ConfigurationDirectory', 'ProtectSystem', 'NoNewPrivileges', 'SystemCallFilter']) {
      assert.deepEqual(keys(audit, key), values(key), `${key}= as galaxy-importd.service has it`);
    }
    assert.deepEqual(keys(audit, 'Restart'), [], 'a failed audit is a finding, not a crash');
    assert.deepEqual(keys(timer, 'Persistent'), ['true']);
    assert.equal(keys(timer, 'OnCalendar').length, 1);
    assert.equal(keys(timer, 'RandomizedDelaySec').length, 1);
  });
});
