/**
 * The seed's "Custom XCom Backends" test DAG in TypeScript: every XCom backend on
 * the seed's six test data types, chosen per task with the `xcomBackend` option.
 *
 *   store_database ─┐
 *   store_file ─────┤
 *   store_compressed┤
 *   store_encrypted ┼─→ compare_backends (all_done: reports whatever succeeded)
 *   store_hybrid ───┤
 *   store_s3 ───────┤
 *   push_file_reference ┘
 *
 * Each store_* task pushes the same six values (small config, medium structured,
 * large dataset, repetitive, sensitive, random bytes) through its backend and
 * times every push; compare_backends pulls them all back, checks each equals the
 * data regenerated from the run's seed, and times the pulls. push_file_reference
 * streams a large dataset into a backend-managed file (ctx.xcom.pushRecords) and
 * compare_backends reads it back record by record (ctx.xcom.readRecords).
 *
 * Configuration it needs (and what happens without it):
 * - store_encrypted needs an XCom key: `HANGAR_XCOM_KEYS=demo:$(hangar xcom gen-key)`
 *   (or xcom.encryption.keyFile / HANGAR_XCOM_PASSPHRASE). Without one its sensitive
 *   value is refused with an error saying so, the task fails, and the report says why.
 * - store_s3 needs `xcom.objectStore` in hangar.json (`s3://bucket/prefix` with an
 *   endpoint, or `file:///abs/dir`). Without it the task fails, saying what to add.
 * Every other task succeeds with the example workspace as it is.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { dag } from 'hangar';
import type { TaskContext } from 'hangar';

export const BACKENDS = ['database', 'file', 'compressed', 'encrypted', 'hybrid', 's3'] as const;
export const DATA_KEYS = ['small_config', 'medium_structured', 'large_dataset', 'repetitive', 'sensitive', 'random_bytes'] as const;
type DataKey = (typeof DATA_KEYS)[number];

export const testCustomBackends = dag({
  id: 'test_custom_backends',
  description: 'Every XCom backend on the seed’s test data types: chains, sizes, timings, file references',
  schedule: null,
  startDate: '2024-01-01',
  tags: ['xcom', 'seed-000'],
  params: {
    /** Records of the large dataset (8 000 records ≈ 1.3 MB of JSON, over the seed's 1 MB). */
    large_records: 8_000,
    /** Records streamed into the file reference. */
    file_records: 20_000,
    /** Bytes of the random (incompressible) value. */
    random_bytes: 256 * 1024,
  },
});

// ---- the seed's test data, deterministic per run ------------------------------------

/** A small deterministic PRNG (mulberry32). */
function rng(seedText: string): () => number {
  let a = createHash('sha256').update(seedText).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function record(i: number, random: () => number, day: Date) {
  return {
    symbol: `STOCK_${String(i % 10_000).padStart(4, '0')}`,
    price: Math.round((10 + random() * 990) * 100) / 100,
    volume: 1000 + Math.floor(random() * 99_000),
    timestamp: new Date(day.getTime() + i * 1000),
    metadata: { exchange: i % 2 ? 'NYSE' : 'NASDAQ', sector: ['tech', 'energy', 'health', 'finance'][i % 4]! },
  };
}

/** The six values of the seed's test, regenerated identically from the run (so a reader can check them). */
export function testData(ctx: Pick<TaskContext, 'dagId' | 'ds' | 'logicalDate' | 'params'>): Record<DataKey, unknown> {
  const random = rng(`${ctx.dagId}:${ctx.ds}`);
  const day = ctx.logicalDate;
  const medium = Array.from({ length: 200 }, (_, i) => record(i, random, day));
  const large = Array.from({ length: Number(ctx.params.large_records) }, (_, i) => record(i, random, day));
  const bytes = Buffer.alloc(Number(ctx.params.random_bytes));
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return {
    // < 100 bytes of configuration.
    small_config: { env: 'dev', retries: 3, debug: false },
    // 1 KB - 100 KB of structured data, with the types a task returns in practice.
    medium_structured: { records: medium, count: medium.length, symbols: new Set(medium.map((r) => r.symbol)), generated: day },
    // > 1 MB: a list of records.
    large_dataset: large,
    // Compresses well.
    repetitive: { data: 'the quick brown fox jumps over the lazy dog. '.repeat(4000), status: Array.from({ length: 2000 }, () => 'ok') },
    // Sensitive by its object keys (password, api_key, token), detected as words.
    sensitive: { username: 'svc_etl', password: 'hunter2-correct-horse', api_key: 'AKIA' + Math.floor(random() * 1e12).toString(16), token: 'tok_' + Math.floor(random() * 1e15).toString(36) },
    // Binary-like: random bytes (incompressible).
    random_bytes: bytes,
  };
}

// ---- one task per backend -------------------------------------------------------------

async function storeAll(ctx: TaskContext, backend: string) {
  const data = testData(ctx);
  const timings: Record<string, number> = {};
  for (const key of DATA_KEYS) {
    const t0 = performance.now();
    await ctx.xcom.push(key, data[key]);
    timings[key] = Math.round((performance.now() - t0) * 100) / 100;
    ctx.log.info(`${backend}: pushed ${key} in ${timings[key]} ms`);
  }
  return { backend, push_ms: timings };
}

const stores = BACKENDS.map((backend) =>
  testCustomBackends.task(`store_${backend}`, { xcomBackend: backend, doc: `The seed's test data through the ${backend} backend` }, (ctx) => storeAll(ctx, backend)),
);

// ---- a large dataset as a backend-managed file (seed 001's file references) ------------

const fileRef = testCustomBackends.task('push_file_reference', async (ctx) => {
  const random = rng(`${ctx.dagId}:${ctx.ds}:file`);
  const n = Number(ctx.params.file_records);
  // A generator: the records are produced as the file is written, never held as a whole.
  function* records() {
    for (let i = 0; i < n; i++) yield record(i, random, ctx.logicalDate);
  }
  const ref = await ctx.xcom.pushRecords('market_data_file', records());
  ctx.log.info(`market_data_file: ${ref.record_count} records, ${ref.size_bytes} bytes in ${ref.filepath} (${ref.checksum})`);
  const blob = await ctx.xcom.pushFile('raw_feed_file', (async function* () {
    for (let i = 0; i < 64; i++) yield `feed line ${i}\n`;
  })(), { recordCount: 64 });
  return { records: ref.record_count, bytes: ref.size_bytes, raw_feed_bytes: blob.size_bytes };
});

// ---- comparison -------------------------------------------------------------------------

testCustomBackends
  .task('compare_backends', { triggerRule: 'all_done', doc: 'Pulls every value back, checks it, times it, and reports' }, async (ctx) => {
    const expected = testData(ctx);
    const report: Record<string, { ok: boolean; pull_ms?: Record<string, number>; push_ms?: Record<string, number>; error?: string }> = {};
    for (const backend of BACKENDS) {
      const task = `store_${backend}`;
      const summary = await ctx.xcom.pull<{ push_ms: Record<string, number> }>(task);
      if (!summary) {
        report[backend] = { ok: false, error: `${task} did not finish; see: hangar logs ${ctx.runId} ${task} --dag ${ctx.dagId}` };
        continue;
      }
      const pull: Record<string, number> = {};
      for (const key of DATA_KEYS) {
        const t0 = performance.now();
        const value = await ctx.xcom.pull(task, key);
        pull[key] = Math.round((performance.now() - t0) * 100) / 100;
        if (!isDeepStrictEqual(value, expected[key])) throw new Error(`${backend}: ${key} did not come back equal to what was pushed`);
      }
      report[backend] = { ok: true, push_ms: summary.push_ms, pull_ms: pull };
    }

    // The file reference, streamed back and checked record by record.
    let count = 0;
    const random = rng(`${ctx.dagId}:${ctx.ds}:file`);
    for await (const r of ctx.xcom.readRecords(fileRef, 'market_data_file')) {
      if (!isDeepStrictEqual(r, record(count, random, ctx.logicalDate))) throw new Error(`market_data_file: record ${count} differs`);
      count++;
    }
    let rawBytes = 0;
    for await (const chunk of await ctx.xcom.openFile(fileRef, 'raw_feed_file')) rawBytes += chunk.byteLength;

    // Error handling: what cannot be stored is refused at push time, naming the key and the path.
    const refused: string[] = [];
    for (const [key, bad] of [
      ['bad_function', { transform: () => 1 }],
      ['bad_class', { when: new (class Clock { tick() {} })() }],
    ] as const) {
      try {
        await ctx.xcom.push(key, bad);
        refused.push(`${key}: accepted (unexpected)`);
      } catch (err) {
        refused.push((err as Error).message.split('. ')[0]!);
      }
    }
    for (const [b, r] of Object.entries(report)) ctx.log.info(`${b.padEnd(11)} ${r.ok ? 'ok' : `FAILED: ${r.error}`}`);
    const failed = Object.entries(report).filter(([, r]) => !r.ok).map(([b]) => b);
    return { backends: report, failed, file_reference: { records: count, raw_feed_bytes: rawBytes }, refused };
  })
  .after(...stores, fileRef);
