/**
 * The store's two drivers side by side (src/runtime/store/sql.ts, postgres.ts), on the
 * statements the store is made of. For each store, its floor measured in the same run:
 * one committed single-row write (autocommit INSERT); every other figure is also given
 * as a ratio to that floor.
 *
 * - write: autocommit single-row INSERT (the floor)
 * - tx100: 100 INSERTs in one transaction, per row
 * - read: a primary-key SELECT, per statement; PostgreSQL with named prepared statements
 *   (the default) and without (parse and plan each time)
 * - 8 flows: eight async flows each committing small transactions at once, per transaction
 *   (SQLite: one connection, the flows take turns; PostgreSQL: a pooled connection each)
 *
 * PostgreSQL is the test harness's server (Debian's, started locally with fsync=off, as in
 * CI): the figures show the driver's overhead and a local round trip, not a durable disk.
 *
 *   npm run bench:store       (HANGAR_BENCH_N=2000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDriver } from '../src/runtime/store/open.ts';
import { PostgresDriver } from '../src/runtime/store/postgres.ts';
import type { SqlDriver } from '../src/runtime/store/sql.ts';
import { parseStoreTarget } from '../src/runtime/store/target.ts';
import type { PostgresTarget } from '../src/runtime/store/target.ts';
import { freshDatabase } from '../test/helpers/postgres.ts';

const N = Number(process.env.HANGAR_BENCH_N ?? 2000);

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(-1 - i); // warm up (statements prepared, pool filled)
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

async function measure(name: string, sql: SqlDriver): Promise<Record<string, number>> {
  await sql.exec('CREATE TABLE w (k BIGINT PRIMARY KEY, v TEXT NOT NULL)');
  await sql.exec('CREATE TABLE r (k BIGINT PRIMARY KEY, v TEXT NOT NULL)');
  await sql.tx(async () => {
    for (let i = 0; i < 1000; i++) await sql.run('INSERT INTO r (k, v) VALUES (?, ?)', i, `value ${i}`);
  });
  let next = 1_000_000;
  const write = await time(N, () => sql.run('INSERT INTO w (k, v) VALUES (?, ?)', next++, 'x'));
  const tx100 =
    (await time(Math.max(10, N / 100), () =>
      sql.tx(async () => {
        for (let j = 0; j < 100; j++) await sql.run('INSERT INTO w (k, v) VALUES (?, ?)', next++, 'x');
      }),
    )) / 100;
  const read = await time(N, (i) => sql.get('SELECT v FROM r WHERE k = ?', Math.abs(i) % 1000));
  const flows = 8;
  const perFlow = Math.max(10, N / 40);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: flows }, async () => {
      for (let i = 0; i < perFlow; i++) {
        await sql.tx(async () => {
          const k = next++;
          await sql.run('INSERT INTO w (k, v) VALUES (?, ?)', k, 'x');
          await sql.run('UPDATE w SET v = ? WHERE k = ?', 'y', k);
        });
      }
    }),
  );
  const concurrent = ((performance.now() - t0) * 1000) / (flows * perFlow);
  console.log(`${name}: done`);
  return { write, tx100, read, concurrent };
}

const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-store-'));
try {
  const lite = openDriver(parseStoreTarget(join(dir, 'bench.db'), dir));
  const sqlite = await measure('sqlite', lite);
  await lite.close();

  const db = await freshDatabase();
  const target = parseStoreTarget(db.url, '/') as PostgresTarget;
  const pg = new PostgresDriver(target);
  const postgres = await measure('postgres', pg);
  await pg.close();
  const db2 = await freshDatabase();
  const unnamed = new PostgresDriver(parseStoreTarget(db2.url, '/') as PostgresTarget, {
    preparedStatements: false,
  });
  const postgresUnnamed = await measure('postgres (no named statements)', unnamed);
  await unnamed.close();

  const fmt = (us: number, floor: number) =>
    `${us.toFixed(1).padStart(8)} µs  ${(us / floor).toFixed(2).padStart(5)}×`;
  console.log(
    `\nper statement or transaction, N=${N}; × = ratio to the store's own floor (a committed single-row write)\n`,
  );
  console.log(
    'store                         write (floor)        tx100 per row        pk read              8 flows per tx',
  );
  for (const [name, r] of [
    ['sqlite', sqlite],
    ['postgres', postgres],
    ['postgres, unnamed statements', postgresUnnamed],
  ] as const) {
    console.log(
      `${name.padEnd(29)} ${fmt(r.write!, r.write!)}  ${fmt(r.tx100!, r.write!)}  ${fmt(r.read!, r.write!)}  ${fmt(r.concurrent!, r.write!)}`,
    );
  }
  console.log(
    `\npk read without named prepared statements: ${(postgresUnnamed.read! / postgres.read!).toFixed(2)}× the time with them`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
