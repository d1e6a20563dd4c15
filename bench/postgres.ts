/**
 * PostgreSQL for the shared-ledger benchmarks: the tests' server when
 * $GALAXY_IMPORTD_TEST_POSTGRESQL (+ $GALAXY_IMPORTD_TEST_PGPASSWORD) is set, else a
 * throwaway cluster started with scripts/test-postgres.sh (Debian's postgresql).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connectionFields } from '../src/ledger/postgres/connection.js';
import { dropDatabase } from '../test/postgres.js';

export interface BenchPostgres {
  password: string;
  /** A new empty database; its URL (no password in it). */
  createDatabase(prefix: string): Promise<{ name: string; url: string }>;
  dropDatabase(name: string): Promise<void>;
  /** One statement, on the server's own database or on `url`. */
  sql(text: string, url?: string): Promise<void>;
  /** Stops the throwaway cluster, if this started one. */
  stop(): void;
}

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'test-postgres.sh');

export function benchPostgres(): BenchPostgres {
  let server = process.env.GALAXY_IMPORTD_TEST_POSTGRESQL ?? null;
  let password = process.env.GALAXY_IMPORTD_TEST_PGPASSWORD ?? '';
  let ownCluster: string | null = null;
  if (server === null) {
    ownCluster = mkdtempSync(path.join(os.tmpdir(), 'importd-bench-pg-'));
    const out = execFileSync(script, ['start', ownCluster, String(20000 + Math.floor(Math.random() * 20000))], { encoding: 'utf8' });
    const vars = new Map(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
    server = vars.get('GALAXY_IMPORTD_TEST_POSTGRESQL') ?? '';
    password = vars.get('GALAXY_IMPORTD_TEST_PGPASSWORD') ?? '';
  }
  const base = server;
  const sql = async (text: string, url = base): Promise<void> => {
    const c = new pg.Client({ ...connectionFields(url), password });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  return {
    password,
    sql,
    async createDatabase(prefix) {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await sql(`CREATE DATABASE ${name}`);
      const u = new URL(base);
      u.pathname = `/${name}`;
      return { name, url: u.toString() };
    },
    dropDatabase: (name) => dropDatabase(name, base, password),
    stop() {
      if (ownCluster !== null) execFileSync(script, ['stop', ownCluster]);
    },
  };
}
