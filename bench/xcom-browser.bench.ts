/**
 * The XCom browser's runtime requests with 100,000 stored XComs: time to the
 * first page of rows (no filter, a DAG + key-prefix filter, the last page),
 * the filter choices, and decoding a 10 MiB value (compressed, then encrypted).
 *
 *   npx node bench/xcom-browser.bench.ts [count]
 */
import { rmSync } from 'node:fs';
import { RuntimeService } from '../src/runtime/server/service.ts';
import type { XComPage, XComReadResult } from '../src/protocol/webviews/xcom-values.ts';
import { KEY, KEY_ID, loc, seed, workspace } from '../test/webviews/seed.ts';

const count = Number(process.argv[2] ?? 100_000);
const dir = workspace('hangar-xcom-browser-bench-');
const t0 = performance.now();
function* items() {
  for (let i = 0; i < count; i++) {
    const run = `run_${String(i % 100).padStart(3, '0')}`;
    yield { loc: loc(`source_payload_${i}`, { dagId: `dag_${i % 10}`, runId: run, taskId: `task_${i % 7}` }), value: { i, name: `row ${i}`, at: new Date(0) } };
  }
  // 10 MiB of JSON rows.
  const rows = Array.from({ length: 160_000 }, (_, i) => ({ id: i, name: `customer ${i}`, amount: (i * 37) % 1000, tags: ['a', 'b'] }));
  yield { loc: loc('big_compressed', { dagId: 'dag_0', runId: 'run_000', taskId: 'big' }), value: rows, backend: 'compressed' };
  yield { loc: loc('big_encrypted', { dagId: 'dag_0', runId: 'run_000', taskId: 'big' }), value: rows, backend: 'encrypted', sensitive: true };
}
await seed(dir, items());
const seedMs = performance.now() - t0;

const s = new RuntimeService(() => {});
await s.handle('runtime/initialize', { workspace: dir, config: {} });
await s.handle('secrets/set', { xcomKeys: [{ id: KEY_ID, key: KEY }] });

async function time<T>(what: string, f: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  const ms = Math.round((performance.now() - t) * 10) / 10;
  return [r, ms];
}
const figures: Record<string, number | string> = { xcoms: count + 2, seedSeconds: Math.round(seedMs / 100) / 10 };
const [first, firstMs] = await time('first', () => s.handle('xcom/query', { limit: 100 }) as Promise<XComPage>);
figures.firstPageMs = firstMs;
figures.total = first.total;
const [, filteredMs] = await time('filtered', () => s.handle('xcom/query', { dagId: 'dag_3', keyPrefix: 'source_payload_9', limit: 100 }));
figures.filteredPageMs = filteredMs;
const [, lastMs] = await time('last', () => s.handle('xcom/query', { offset: Math.floor((count - 1) / 100) * 100, limit: 100 }));
figures.lastPageMs = lastMs;
const [, facetsMs] = await time('facets', () => s.handle('xcom/facets', { dagId: 'dag_0', runId: 'run_000' }));
figures.facetsMs = facetsMs;
const big = (await s.handle('xcom/query', { taskId: 'big' })) as XComPage;
for (const r of big.rows) figures[`${r.key}Bytes`] = `${r.sizeOriginal} original, ${r.sizeStored} stored, chain ${r.chain.join('+')}`;
for (const key of ['big_compressed', 'big_encrypted']) {
  const [r, ms] = await time(key, () => s.handle('xcom/read', { loc: loc(key, { dagId: 'dag_0', runId: 'run_000', taskId: 'big' }), reveal: true }) as Promise<XComReadResult>);
  if (!r.ok || r.masked) throw new Error(`${key}: ${JSON.stringify(r)}`);
  figures[`${key}DecodeMs`] = ms;
  const [, again] = await time(`${key} page`, () => s.handle('xcom/read', { loc: loc(key, { dagId: 'dag_0', runId: 'run_000', taskId: 'big' }), offset: 45_000, reveal: true }));
  figures[`${key}NextPageMs`] = again;
}
await s.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(figures, null, 2));
