/**
 * XCom store writes, as tasks make them: a push (read the previous row, write the row) and a
 * pull (read the row, decode, record the pull for lineage) of a small value through the task
 * API over a real store, against a floor measured in the same run on the same SQLite file: one
 * committed single-row INSERT through node:sqlite. Medians of rounds.
 *
 *   npm run bench:xcom-store     (npx node bench/xcom-store.bench.ts [opsPerRound=2000] [rounds=9])
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Store } from '../src/runtime/store/store.ts';
import { createXComBackend } from '../src/runtime/xcom/index.ts';
import { pullXCom, pushXCom } from '../src/runtime/executor/xcom-api.ts';
import type { XComScope } from '../src/runtime/executor/xcom-api.ts';

const OPS = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 9);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'hangar-xcom-store-bench-'));
try {
  const store = await Store.open(join(dir, 'hangar.db'));
  const backend = createXComBackend({}, { workspaceRoot: dir, xcomRoot: join(dir, 'xcom'), env: {} });
  const dag = { id: 'bench', tasks: new Map([['producer', { expand: undefined }], ['consumer', { expand: undefined }]]) };
  const producer: XComScope = { store, backend, dag, runId: 'r', taskId: 'producer', mapIndex: -1 };
  const consumer: XComScope = { ...producer, taskId: 'consumer' };
  const value = { rows: 3, table: 'orders', ok: true };
  // The floor: the same file, another connection, a committed single-row INSERT.
  const floorDb = new DatabaseSync(join(dir, 'hangar.db'));
  floorDb.exec('PRAGMA synchronous = NORMAL'); // as the store's connection
  floorDb.exec('CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL)');
  const ins = floorDb.prepare('INSERT INTO bench_floor (k, v) VALUES (?, ?)');
  const blob = new Uint8Array(64);
  const push: number[] = [];
  const pull: number[] = [];
  const floor: number[] = [];
  let n = 0;
  for (let round = 0; round < ROUNDS + 1; round++) {
    let t = performance.now();
    for (let i = 0; i < OPS; i++) ins.run(`k${n++}`, blob);
    const f = ((performance.now() - t) * 1000) / OPS;
    t = performance.now();
    for (let i = 0; i < OPS; i++) await pushXCom(producer, `key_${i}`, value);
    const p = ((performance.now() - t) * 1000) / OPS;
    t = performance.now();
    for (let i = 0; i < OPS; i++) await pullXCom(consumer, 'producer', `key_${i}`);
    const q = ((performance.now() - t) * 1000) / OPS;
    if (round === 0) continue; // warm-up
    floor.push(f);
    push.push(p);
    pull.push(q);
  }
  const fl = median(floor);
  const res = { opsPerRound: OPS, rounds: ROUNDS, floorUs: fl, pushUs: median(push), pullUs: median(pull), pushVsFloor: median(push) / fl, pullVsFloor: median(pull) / fl };
  console.log(`XCom store: ${OPS} ops × ${ROUNDS} rounds, medians (floor: committed single-row INSERT ${fl.toFixed(1)} µs)`);
  console.log(`  push  ${res.pushUs.toFixed(1).padStart(7)} µs  ${res.pushVsFloor.toFixed(2)}× floor`);
  console.log(`  pull  ${res.pullUs.toFixed(1).padStart(7)} µs  ${res.pullVsFloor.toFixed(2)}× floor`);
  if (process.argv.includes('--json')) console.log(JSON.stringify(res));
  floorDb.close();
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
