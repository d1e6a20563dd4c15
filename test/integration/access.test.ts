import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { accessCommand } from '../../src/cli/access.js';
import { checkCommand } from '../../src/cli/check.js';
import { retryCommand } from '../../src/cli/status.js';
import type { GalaxyModel, RoleRec, User } from '../../emulator/model.js';
import { put, waitFor } from '../helpers.js';
import { harness } from './harness.js';

// [library] access and [folder:NAME] access (issue 14) on real files, a real SQLite ledger and
// the emulator, which keeps library and dataset permissions as Galaxy 26.1 does.

const admin = (m: GalaxyModel): User => [...m.users.values()].find((u) => u.admin) as User;
const roleName = (m: GalaxyModel, id: number | undefined): string | undefined => (id === undefined ? undefined : m.roles.get(id)?.name);
const libraryNamed = (m: GalaxyModel, name: string) => [...m.libraries.values()].find((l) => l.name === name);
const datasetNamed = (m: GalaxyModel, name: string) => [...m.datasets.values()].find((d) => d.name === name);
function privateRole(m: GalaxyModel, user: User): RoleRec {
  const own = [...m.roles.values()].find((r) => r.type === 'private' && r.name === user.email);
  assert.ok(own, `${user.email} has a private role`);
  return own;
}

describe('daemon: access', () => {
  it('restricts the library and each new dataset to its role (an email means that user\'s private role) before recording the file ok', async (t) => {
    const h = await harness(t, {
      ini: {
        library: { access: 'lab-a' },
        'folder:labB': { library: 'Lab B', access: 'user@example.org' },
        'folder:open': { access: '' },
      },
    });
    h.emu.model.createRole(admin(h.emu.model), { name: 'lab-a', user_ids: [] });
    put(h.importDir, 'run1/a.txt');
    put(h.importDir, 'labB/b.txt');
    put(h.importDir, 'open/c.txt');

    await h.start();
    await h.waitOk(['run1/a.txt', 'labB/b.txt', 'open/c.txt']);

    const m = h.emu.model;
    assert.deepEqual(libraryNamed(m, 'Imports')?.access?.map((id) => roleName(m, id)), ['lab-a']);
    assert.deepEqual(libraryNamed(m, 'Lab B')?.access?.map((id) => roleName(m, id)), ['user@example.org']);
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access?.map((id) => roleName(m, id)), ['lab-a']);
    assert.deepEqual(datasetNamed(m, 'b.txt')?.access?.map((id) => roleName(m, id)), ['user@example.org']);
    assert.deepEqual(datasetNamed(m, 'c.txt')?.access ?? [], [], 'access = (empty) leaves a folder\'s datasets readable by all who see the library');
    assert.deepEqual(datasetNamed(m, 'a.txt')?.manage?.map((id) => roleName(m, id)), ['admin@example.org'], 'the uploader keeps managing it');
    assert.equal(h.events('library.restricted').length, 2);
    const user = [...m.users.values()].find((u) => !u.admin) ?? null;
    assert.deepEqual((m.listLibraries(user, null) as { name: string }[]).map((l) => l.name), ['Lab B'], 'a user sees only the library of a role they are in');
  });

  it('a role Galaxy does not have fails the folder\'s files before anything is sent; once it exists, retry imports them restricted', async (t) => {
    const h = await harness(t, { ini: { 'folder:labC': { library: 'Lab C', access: 'lab-c' } } });
    put(h.importDir, 'labC/x.txt');
    put(h.importDir, 'other/y.txt');

    await h.start();
    await h.waitOk(['other/y.txt']);
    await waitFor(() => (h.events('upload.failed', 'labC/x.txt').length > 0 ? true : undefined), 15_000, 'labC/x.txt failed');

    assert.match(String(h.events('upload.failed', 'labC/x.txt')[0]?.reason), /access = lab-c: Galaxy has no role named "lab-c"; create it in Galaxy \(Admin → Roles, or the user\) or fix access in the config, then run galaxy-importd retry --all-failed/);
    assert.equal(datasetNamed(h.emu.model, 'x.txt'), undefined, 'nothing was uploaded for the folder');
    assert.equal(h.emu.requests.filter((r) => r.method === 'POST' && r.url === '/api/tools/fetch').length, 1, 'one fetch, for other/');

    const m = h.emu.model;
    m.createRole(admin(m), { name: 'lab-c', user_ids: [] });
    const io = { env: {}, stdout: { write: () => true }, stderr: { write: () => true }, onSignal: () => undefined };
    assert.equal(await retryCommand(h.config, io, [], true), 0);
    await h.daemon().rescan();
    await h.waitOk(['labC/x.txt']);

    assert.deepEqual(datasetNamed(m, 'x.txt')?.access?.map((id) => roleName(m, id)), ['lab-c']);
    assert.deepEqual(libraryNamed(m, 'Lab C')?.access?.map((id) => roleName(m, id)), ['lab-c']);
  });

  it('a dataset that could not be restricted keeps its file from ok; retry restricts it without uploading it again', async (t) => {
    const h = await harness(t, { ini: { library: { access: 'lab-a' } } });
    const m = h.emu.model;
    m.createRole(admin(m), { name: 'lab-a', user_ids: [] });
    h.emu.addFaults({ method: 'POST', path: '^/api/libraries/datasets/[^/]+/permissions$', times: 1, action: { type: 'status', status: 400, body: 'json' } });
    put(h.importDir, 'run1/a.txt');

    await h.start();
    await waitFor(() => (h.events('upload.failed', 'run1/a.txt').length > 0 ? true : undefined), 15_000, 'run1/a.txt failed');

    assert.match(String(h.events('upload.failed', 'run1/a.txt')[0]?.reason), /^dataset \S+ is in Galaxy but could not be restricted to the role "lab-a" \(access\): .*galaxy-importd retry restricts it without uploading again$/);
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access ?? [], []);
    const io = { env: {}, stdout: { write: () => true }, stderr: { write: () => true }, onSignal: () => undefined };
    assert.equal(await retryCommand(h.config, io, [], true), 0);
    await h.daemon().rescan();
    await h.waitOk(['run1/a.txt']);

    assert.equal([...m.datasets.values()].filter((d) => d.name === 'a.txt').length, 1, 'not uploaded again');
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access?.map((id) => roleName(m, id)), ['lab-a']);
  });

  it('a rebuilt ledger adopts a dataset readable by all that predates access, and leaves it as it is', async (t) => {
    const h = await harness(t, { ini: { library: { access: 'lab-a' } } });
    const m = h.emu.model;
    m.createRole(admin(m), { name: 'lab-a', user_ids: [] });
    put(h.importDir, 'run1/a.txt');

    await h.start();
    await h.waitOk(['run1/a.txt']);
    const first = datasetNamed(m, 'a.txt');
    await h.stop();
    // As if uploaded before access was set (readable by all), and the ledger lost.
    rmSync(path.join(h.stateDir, 'ledger.sqlite'));
    if (first) first.access = [];
    await h.start();
    await waitFor(() => (h.events('upload.ok', 'run1/a.txt').some((l) => l.reason === 'already in Galaxy') ? true : undefined), 15_000, 'adopted');

    assert.equal([...m.datasets.values()].filter((d) => d.name === 'a.txt').length, 1, 'found, not uploaded again');
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access ?? [], [], 'a dataset the ledger did not send is not changed');
  });

  it('leaves a library restricted to other roles as it is, and says so', async (t) => {
    const h = await harness(t, { ini: { library: { access: 'lab-a' } } });
    const m = h.emu.model;
    const other = m.createRole(admin(m), { name: 'other-lab', user_ids: [] }) as { id: string };
    m.createRole(admin(m), { name: 'lab-a', user_ids: [] });
    const lib = m.createLibrary(admin(m), { name: 'Imports' }) as { id: string };
    m.setLibraryPermissions(admin(m), lib.id, { action: 'set_permissions', 'access_ids[]': [other.id] });
    put(h.importDir, 'run1/a.txt');

    await h.start();
    await h.waitOk(['run1/a.txt']);

    assert.deepEqual(libraryNamed(m, 'Imports')?.access?.map((id) => roleName(m, id)), ['other-lab']);
    assert.deepEqual(h.events('library.access_differs').map((l) => [l.library, l.access, l.roles]), [['Imports', 'lab-a', ['other-lab']]]);
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access?.map((id) => roleName(m, id)), ['lab-a'], 'its datasets are still restricted to access');
  });

  it('check reports a missing role, a public library, and datasets readable by all in a restricted folder, changing nothing', async (t) => {
    const h = await harness(t, { ini: { library: { access: 'lab-a' }, 'folder:labZ': { access: 'no-such-lab' } } });
    const m = h.emu.model;
    m.createRole(admin(m), { name: 'lab-a', user_ids: [] });
    m.seedFolder('Imports', ['run1'], 4, 'before-');
    const out: string[] = [];
    const io = { env: { GALAXY_API_KEY: h.emu.adminKey }, stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => out.push(x) }, onSignal: () => undefined };

    const code = await checkCommand(h.config, io);

    const text = out.join('');
    assert.equal(code, 1, text);
    assert.match(text, /ok {4}role "lab-a" exists in Galaxy \(\[library\] access\)/);
    assert.match(text, /FAIL {2}\[folder:labZ\] access = no-such-lab: Galaxy has no role named "no-such-lab"; files of its folders fail until it exists\n {6}fix: create the role in Galaxy/);
    assert.match(text, /warn {2}library "Imports" is public: everyone sees it/);
    assert.match(text, /warn {2}library "Imports" folder \/run1: 4 datasets are readable by everyone who sees the library, though its access is lab-a \("before-0", "before-1", "before-2", …\): uploaded before access was set/);
    assert.deepEqual(libraryNamed(m, 'Imports')?.access ?? [], [], 'check changed no permission');
    assert.ok([...m.datasets.values()].every((d) => (d.access ?? []).length === 0));
  });

  it('a key\'s user with private default permissions: datasets of a public folder are readable by all, those of a restricted one by its role alone', async (t) => {
    const h = await harness(t, { ini: { 'folder:labA': { access: 'lab-a' } } });
    const m = h.emu.model;
    const me = admin(m);
    m.createRole(me, { name: 'lab-a', user_ids: [] });
    const own = privateRole(m, me);
    me.defaultAccess = [own.id];
    put(h.importDir, 'run1/a.txt');
    put(h.importDir, 'run1/b.txt');
    put(h.importDir, 'labA/c.txt');

    await h.start();
    await h.waitOk(['run1/a.txt', 'run1/b.txt', 'labA/c.txt']);

    assert.deepEqual(datasetNamed(m, 'a.txt')?.access ?? [], [], 'made public as its library says');
    assert.deepEqual(datasetNamed(m, 'b.txt')?.access ?? [], []);
    assert.deepEqual(datasetNamed(m, 'c.txt')?.access?.map((id) => roleName(m, id)), ['lab-a'], 'the lab\'s role, not the importer\'s private one');
    assert.equal(h.events('access.defaults_private').length, 1, 'said once');
    const user = [...m.users.values()].find((u) => !u.admin) ?? null;
    const run1 = [...m.folders.values()].find((f) => f.name === 'run1');
    const seen = (m.folderContents(user, `F${m.codec.encode(run1?.id ?? 0)}`, new URLSearchParams()) as { folder_contents: { name: string; is_unrestricted: boolean }[] }).folder_contents;
    assert.deepEqual(seen.map((i) => [i.name, i.is_unrestricted]).sort(), [['a.txt', true], ['b.txt', true]], 'another user reads them');
  });

  it('check shows the key\'s user\'s private defaults and the imported datasets whose access is wrong; access --fix sets it, once', async (t) => {
    const h = await harness(t, { ini: { 'folder:labA': { access: 'lab-a' } } });
    const m = h.emu.model;
    const me = admin(m);
    m.createRole(me, { name: 'lab-a', user_ids: [] });
    const own = privateRole(m, me);
    put(h.importDir, 'run1/a.txt');
    put(h.importDir, 'run1/b.txt');
    put(h.importDir, 'labA/c.txt');
    await h.start();
    await h.waitOk(['run1/a.txt', 'run1/b.txt', 'labA/c.txt']);
    await h.stop();
    // As an earlier release left them under private defaults: private to the importer.
    me.defaultAccess = [own.id];
    for (const name of ['a.txt', 'c.txt']) {
      const d = datasetNamed(m, name);
      if (d) d.access = [own.id];
    }
    const out: string[] = [];
    const io = { env: { GALAXY_API_KEY: h.emu.adminKey }, stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => out.push(x) }, onSignal: () => undefined };

    assert.equal(await checkCommand(h.config, io), 1);
    const text = out.join('');
    assert.match(text, /warn {2}the default dataset permissions of admin@example\.org restrict access to admin@example\.org: Galaxy gives every dataset a fetch job makes those permissions/);
    assert.match(text, /FAIL {2}2 of 3 datasets galaxy-importd imported do not have the access their folders say: (run1\/a\.txt|labA\/c\.txt) \(private to admin@example\.org\), (run1\/a\.txt|labA\/c\.txt) \(private to admin@example\.org\)\n {6}fix: galaxy-importd access lists them all; galaxy-importd access --fix/);

    out.length = 0;
    assert.equal(await accessCommand(h.config, io, { fix: false, json: false }), 1);
    assert.match(out.join(''), /^wrong {2}run1\/a\.txt: dataset \S+ in Imports \/run1 is private to the key's user; its access is empty: readable by everybody$/m);
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access, [own.id], 'listing changes nothing');

    out.length = 0;
    assert.equal(await accessCommand(h.config, io, { fix: true, json: false }), 0, out.join(''));
    assert.match(out.join(''), /access: 2 of 2 datasets set to the access their folders say/);
    assert.deepEqual(datasetNamed(m, 'a.txt')?.access ?? [], []);
    assert.deepEqual(datasetNamed(m, 'c.txt')?.access?.map((id) => roleName(m, id)), ['lab-a']);
    assert.deepEqual(datasetNamed(m, 'b.txt')?.access ?? [], []);

    out.length = 0;
    assert.equal(await accessCommand(h.config, io, { fix: false, json: true }), 0);
    assert.deepEqual(JSON.parse(out.join('')), { checked: 3, wrong: [], fixed: [], failed: [] });
  });

  it('check lists the datasets of an imported file\'s name that are not its own (a failed attempt\'s, from before they were deleted)', async (t) => {
    const h = await harness(t);
    const m = h.emu.model;
    m.seedFolder('Imports', ['run1'], 2, 'r');
    put(h.importDir, 'run1/r0');
    put(h.importDir, 'run1/new.txt');
    await h.start();
    await h.waitOk(['run1/r0', 'run1/new.txt']);
    await h.stop();
    const out: string[] = [];
    const io = { env: { GALAXY_API_KEY: h.emu.adminKey }, stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => out.push(x) }, onSignal: () => undefined };

    assert.equal(await checkCommand(h.config, io), 0, out.join(''));
    assert.match(out.join(''), /warn {2}1 dataset in the folders galaxy-importd imports into has the name of an imported file but is not its dataset: Imports \/run1: \S+ \(ok, \d+ bytes\) beside run1\/r0\n {6}note: left by failed uploads/);
  });

  it('notify: tells the folder\'s role once its files are ok, in one notification, sent at the latest when the daemon stops', async (t) => {
    const h = await harness(t, { ini: { 'folder:run1': { notify: 'lab-a' } } });
    const m = h.emu.model;
    const user = [...m.users.values()].find((u) => !u.admin);
    assert.ok(user);
    m.createRole(admin(m), { name: 'lab-a', user_ids: [m.codec.encode(user.id)] });
    for (const n of ['a.txt', 'b.txt', 'c.txt']) put(h.importDir, `run1/${n}`);
    put(h.importDir, 'other/d.txt');

    await h.start();
    await h.waitOk(['run1/a.txt', 'run1/b.txt', 'run1/c.txt', 'other/d.txt']);
    await h.stop();

    assert.equal(m.notifications.length, 1, JSON.stringify(m.notifications));
    assert.deepEqual(m.notifications[0]?.userIds, [user.id]);
    assert.equal(m.notifications[0]?.subject, '3 new files in Imports /run1');
    assert.match(m.notifications[0]?.message ?? '', /^3 files were imported into the data library \*\*Imports\*\*, folder \*\*\/run1\*\*: (a|b|c)\.txt, (a|b|c)\.txt, (a|b|c)\.txt\.$/);
    assert.deepEqual(m.listNotifications(user).length, 1, 'the recipient reads it with their own key');
  });

  it('check says when notify is set but Galaxy\'s notifications are off', async (t) => {
    const h = await harness(t, { ini: { 'folder:run1': { notify: 'user@example.org' } }, emu: { notifications: false } });
    const out: string[] = [];
    const io = { env: { GALAXY_API_KEY: h.emu.adminKey }, stdout: { write: (x: string) => out.push(x) }, stderr: { write: (x: string) => out.push(x) }, onSignal: () => undefined };

    assert.equal(await checkCommand(h.config, io), 1);
    assert.match(out.join(''), /FAIL {2}notify: Galaxy's notifications are off\n {6}fix: set enable_notification_system: true in galaxy\.yml/);
    assert.match(out.join(''), /ok {4}role "user@example\.org" exists in Galaxy \(that user's private role\) \(\[folder:run1\] notify\)/);
  });
});
