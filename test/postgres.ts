import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { connectionFields } from '../src/ledger/postgres/connection.js';

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
 * A TCP proxy in front of the server: `down()` cuts every connection and refuses new ones
 * (the database is unreachable, as in an outage or a network cut), `up()` restores it.
 */
export interface Proxy {
  url(databaseUrl: string): string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = net.createServer((client) => {
      const upstream = net.connect(Number(t.port || 5432), t.hostname);
      sockets.add(client);
      sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const so of sockets) so.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    url(databaseUrl) {
      const u = new URL(databaseUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    down,
    up: listen,
    close: down,
  };
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
