import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { connectionFields } from '../src/ledger/postgres/connection.js';

export { startProxy } from './helpers.js';
export type { Proxy } from './helpers.js';

/**
 * The tests of the shared ledger need a real PostgreSQL server: .ci/run starts a throwaway
 * one with scripts/test-postgres.sh and exports the two variables it prints.
 */
export const POSTGRES = process.env.GALAXY_IMPORTD_TEST_POSTGRESQL ?? null;
export const PGPASSWORD = process.env.GALAXY_IMPORTD_TEST_PGPASSWORD ?? '';
export const NO_POSTGRES = POSTGRES === null
  ? 'needs a PostgreSQL server: run scripts/test-postgres.sh start DIR and export the two variables it prints (.ci/run does)'
  : false;

/** A new empty database for one test, dropped after it. Returns its URL (no password in it). */
export async function freshDatabase(t: TestContext): Promise<string> {
  if (POSTGRES === null) throw new Error(String(NO_POSTGRES));
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ ...connectionFields(POSTGRES), password: PGPASSWORD });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  t.after(() => dropDatabase(name));
  const u = new URL(POSTGRES);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One SQL statement on a database, from the test's side. */
export async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ ...connectionFields(url), password: PGPASSWORD });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/**
 * Drop a test's database. A daemon's connections may still be closing, and terminating them
 * can fail for a moment: try a few times, then leave it (the test cluster is thrown away).
 */
export async function dropDatabase(name: string, server = POSTGRES ?? '', password = PGPASSWORD): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const c = new pg.Client({ ...connectionFields(server), password });
    try {
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 500 * attempt));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}
