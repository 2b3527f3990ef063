/**
 * The seed's "Complex XCom Patterns" exercise (financial analytics) in TypeScript:
 *
 *   ingest_data → assess_quality → analyze_risk → generate_reports → cleanup_resources
 *
 * - large datasets travel as file references, not as XCom values;
 * - every source is pushed under a dynamic key `data_source_{name}`, and read back by prefix;
 * - quality assessment pushes conditional outputs (high/medium/low_quality_data, quality_issues);
 * - risk analysis adapts to the quality tiers and survives a failing calculation;
 * - cleanup removes the files and the temporary XComs, and reports what it freed.
 *
 * Data is generated from a seed derived from the logical date, so a run is reproducible.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dag } from 'hangar';
import type { TaskContext } from 'hangar';

/** Values above this serialized size go to a file and only a reference goes to XCom (the seed's 1 MB). */
const FILE_THRESHOLD_BYTES = 1024 * 1024;
const KEY_PREFIX = 'data_source_';

interface FileReference {
  data_type: 'file_reference';
  file_path: string;
  record_count: number;
  file_size_bytes: number;
  size_mb: number;
  sha256: string;
  created_at: string;
  cleanup_required: true;
}
interface DirectData<T = unknown> {
  data_type: 'direct';
  data: T[];
  record_count: number;
  size_mb: number;
  created_at: string;
}
type SourcePayload = FileReference | DirectData;

interface QualityEntry {
  score: number;
  issues: string[];
  record_count: number;
}
interface QualityAssessment {
  quality_assessment: Record<string, QualityEntry>;
  overall_quality_score: number;
  assessment_completed_at: string;
}
interface RiskResults {
  risk_analysis_results: Record<string, unknown>;
  analyses_run: string[];
  analyses_failed: string[];
}

export const financialAnalytics = dag({
  id: 'financial_analytics_pipeline',
  description: 'Multi-stage financial analytics with file references, dynamic XCom keys, conditional outputs and cleanup',
  schedule: '@daily',
  startDate: '2024-01-01',
  tags: ['xcom', 'seed-001'],
  params: {
    /** Records of market data (10,000 serialize to well over 1 MB). */
    market_records: 10_000,
    /** 'auto' picks the size of external feeds at random (seeded by the logical date). */
    external_feeds_size: 'auto' as 'auto' | 'small' | 'large',
    /** Makes one risk calculation throw, to show partial failure handling. */
    fail_var_calculation: false,
    /**
     * Where file references are written (default: the workspace's .hangar/data). With the
     * distributed executor, tasks run on different machines: give a folder they all mount.
     */
    data_dir: '',
  },
  defaultArgs: { retries: 1, retryDelay: '2s' },
});

// ---- helpers ---------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32), seeded per run so data is reproducible. */
function rng(seedText: string): () => number {
  let a = createHash('sha256').update(seedText).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function dataDir(ctx: TaskContext): string {
  const base = String(ctx.params.data_dir || join(ctx.workspace, '.hangar', 'data'));
  const dir = join(base, ctx.dagId, ctx.runId.replace(/[^A-Za-z0-9_.-]/g, '_'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The seed's handle_large_dataset: a file reference above the threshold, the data itself below. */
function handleDataset(ctx: TaskContext, name: string, records: unknown[]): SourcePayload {
  const json = JSON.stringify(records);
  const bytes = Buffer.byteLength(json);
  const sizeMb = Math.round((bytes / (1024 * 1024)) * 100) / 100;
  const createdAt = new Date().toISOString();
  if (bytes <= FILE_THRESHOLD_BYTES) {
    return { data_type: 'direct', data: records, record_count: records.length, size_mb: sizeMb, created_at: createdAt };
  }
  const filePath = join(dataDir(ctx), `${name}_${ctx.templateContext.ds_nodash as string}.json`);
  writeFileSync(filePath, json);
  ctx.log.info(`${name}: ${bytes} bytes > ${FILE_THRESHOLD_BYTES}; stored as a file reference at ${filePath}`);
  return {
    data_type: 'file_reference',
    file_path: filePath,
    record_count: records.length,
    file_size_bytes: bytes,
    size_mb: sizeMb,
    sha256: createHash('sha256').update(json).digest('hex'),
    created_at: createdAt,
    cleanup_required: true,
  };
}

/** The seed's load_from_file_reference, with an integrity check. */
function loadPayload(payload: SourcePayload): unknown[] {
  if (payload.data_type === 'direct') return payload.data;
  if (!existsSync(payload.file_path)) throw new Error(`Referenced file not found: ${payload.file_path}`);
  const text = readFileSync(payload.file_path, 'utf8');
  const digest = createHash('sha256').update(text).digest('hex');
  if (digest !== payload.sha256) throw new Error(`Referenced file ${payload.file_path} is corrupt (checksum mismatch)`);
  return JSON.parse(text) as unknown[];
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

// ---- 1. ingest_data --------------------------------------------------------------

const ingest = financialAnalytics.task('ingest_data', async (ctx) => {
  const random = rng(`${ctx.dagId}:${ctx.ds}`);
  const ts = ctx.logicalDate.toISOString();
  const sectors = ['tech', 'finance', 'energy', 'health'];
  const marketRecords = Number(ctx.params.market_records);

  const sources: Record<string, unknown[]> = {
    market_data: Array.from({ length: marketRecords }, (_, i) => ({
      symbol: `STOCK_${String(i).padStart(4, '0')}`,
      price: round(10 + random() * 990),
      volume: 1000 + Math.floor(random() * 99_000),
      timestamp: ts,
      metadata: { exchange: 'NYSE', sector: sectors[i % sectors.length] },
    })),
    // A quarter of the trades lack a timestamp: the seed's "missing timestamps" (score 0.75).
    trading_data: Array.from({ length: 500 }, (_, i) => ({
      trade_id: `T${i}`,
      symbol: `STOCK_${String(i % 100).padStart(4, '0')}`,
      quantity: 1 + Math.floor(random() * 1000),
      side: random() < 0.5 ? 'buy' : 'sell',
      ...(i % 4 === 0 ? {} : { timestamp: ts }),
    })),
    risk_parameters: Array.from({ length: 50 }, (_, i) => ({ name: `param_${i}`, value: round(random(), 4), confidence: 0.95 })),
  };
  const feedsSize = ctx.params.external_feeds_size === 'auto' ? (random() < 0.5 ? 'small' : 'large') : ctx.params.external_feeds_size;
  const feedCount = feedsSize === 'large' ? 20_000 : 200;
  // External feeds are unreliable: some records are corrupt and some incomplete (score < 0.5).
  sources.external_feeds = Array.from({ length: feedCount }, (_, i) =>
    i % 5 < 2 ? { feed: `F${i}`, payload: null, corrupt: true } : i % 5 === 2 ? { feed: `F${i}` } : { feed: `F${i}`, payload: { value: round(random() * 100) }, received_at: ts },
  );

  const pushed: string[] = [];
  const summary: Record<string, { data_type: string; record_count: number; size_mb: number }> = {};
  for (const [name, records] of Object.entries(sources)) {
    const payload = handleDataset(ctx, name, records);
    const key = `${KEY_PREFIX}${name}`;
    await ctx.xcom.push(key, payload);
    pushed.push(key);
    summary[name] = { data_type: payload.data_type, record_count: payload.record_count, size_mb: payload.size_mb };
  }
  await ctx.xcom.push('ingestion_metadata', {
    keys_pushed: pushed,
    total_items: pushed.length,
    external_feeds_size: feedsSize,
    push_timestamp: new Date().toISOString(),
  });
  await ctx.xcom.push('data_lineage', [{ source_task: ctx.taskId, transformation: 'ingest', dag_run_id: ctx.runId, timestamp: new Date().toISOString() }]);
  return { sources: summary, keys_pushed: pushed };
});

// ---- 2. assess_quality -----------------------------------------------------------

const REQUIRED_FIELDS: Record<string, string[]> = {
  market_data: ['symbol', 'price', 'volume', 'timestamp'],
  trading_data: ['trade_id', 'symbol', 'quantity', 'timestamp'],
  risk_parameters: ['name', 'value'],
  external_feeds: ['feed', 'payload', 'received_at'],
};

function scoreRecords(name: string, records: unknown[]): QualityEntry {
  if (records.length === 0) return { score: 0, issues: ['No data available'], record_count: 0 };
  const required = REQUIRED_FIELDS[name] ?? [];
  let complete = 0;
  let missingTimestamps = 0;
  let corrupt = 0;
  let incomplete = 0;
  for (const r of records as Record<string, unknown>[]) {
    const missing = required.filter((f) => r[f] === undefined || r[f] === null);
    if (missing.length === 0) complete++;
    else if (r.corrupt === true) corrupt++;
    else if (missing.length === 1 && (missing[0] === 'timestamp' || missing[0] === 'received_at')) missingTimestamps++;
    else incomplete++;
  }
  const issues: string[] = [];
  if (missingTimestamps) issues.push('missing timestamps');
  if (corrupt) issues.push('data corruption');
  if (incomplete) issues.push('incomplete');
  // Records without a timestamp are usable but penalised; corrupt and incomplete ones are not usable.
  const score = round((complete + 0 * missingTimestamps) / records.length);
  return { score, issues, record_count: records.length };
}

const assess = financialAnalytics.task('assess_quality', { inputs: { ingestion: ingest } }, async (ctx, { ingestion }) => {
  const payloads = (await ctx.xcom.pullPrefix(ingest, KEY_PREFIX)) as Record<string, SourcePayload>;
  const assessment: Record<string, QualityEntry> = {};
  for (const key of ingestion.keys_pushed) {
    const name = key.slice(KEY_PREFIX.length);
    const payload = payloads[key];
    if (!payload) {
      assessment[name] = { score: 0, issues: ['missing XCom'], record_count: 0 };
      continue;
    }
    try {
      assessment[name] = scoreRecords(name, loadPayload(payload));
    } catch (err) {
      assessment[name] = { score: 0, issues: [`unreadable: ${(err as Error).message}`], record_count: 0 };
    }
  }
  const scores = Object.values(assessment).map((a) => a.score);
  const overall = round(scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length));
  const tiers = { high: [] as string[], medium: [] as string[], low: [] as string[] };
  for (const [name, a] of Object.entries(assessment)) {
    if (a.score >= 0.8) tiers.high.push(name);
    else if (a.score >= 0.5) tiers.medium.push(name);
    else tiers.low.push(name);
  }
  // Conditional outputs: only the tiers that have data get a key.
  if (tiers.high.length) await ctx.xcom.push('high_quality_data', { sources: tiers.high, payload_keys: tiers.high.map((n) => KEY_PREFIX + n) });
  if (tiers.medium.length) await ctx.xcom.push('medium_quality_data', { sources: tiers.medium, payload_keys: tiers.medium.map((n) => KEY_PREFIX + n) });
  if (tiers.low.length) {
    await ctx.xcom.push('low_quality_data', { sources: tiers.low });
    await ctx.xcom.push('quality_issues', Object.fromEntries(tiers.low.map((n) => [n, assessment[n]!.issues])));
  }
  ctx.log.info(`Quality: high=${tiers.high.join(',') || '-'} medium=${tiers.medium.join(',') || '-'} low=${tiers.low.join(',') || '-'}`);
  const result: QualityAssessment = { quality_assessment: assessment, overall_quality_score: overall, assessment_completed_at: new Date().toISOString() };
  return result;
});

// ---- 3. analyze_risk -------------------------------------------------------------

function valueAtRisk(prices: number[], confidence: number): number {
  if (prices.length < 2) throw new Error('not enough prices for VaR');
  const returns = prices.slice(1).map((p, i) => (p - prices[i]!) / prices[i]!);
  returns.sort((a, b) => a - b);
  return round(-returns[Math.floor((1 - confidence) * returns.length)]!, 4);
}

const analyze = financialAnalytics.task('analyze_risk', { inputs: { quality: assess } }, async (ctx, { quality }) => {
  const started = Date.now();
  const high = await ctx.xcom.pull<{ sources: string[] }>(assess, 'high_quality_data');
  const medium = await ctx.xcom.pull<{ sources: string[] }>(assess, 'medium_quality_data');
  const low = await ctx.xcom.pull<{ sources: string[] }>(assess, 'low_quality_data');
  const payloads = (await ctx.xcom.pullPrefix(ingest, KEY_PREFIX)) as Record<string, SourcePayload>;
  const results: Record<string, unknown> = {};
  const warnings: string[] = [];
  const failed: { analysis: string; error: string }[] = [];
  const run: string[] = [];

  const attempt = (name: string, fn: () => unknown) => {
    try {
      results[name] = fn();
      run.push(name);
    } catch (err) {
      failed.push({ analysis: name, error: (err as Error).message });
      ctx.log.warn(`Analysis ${name} failed, continuing: ${(err as Error).message}`);
    }
  };

  for (const source of high?.sources ?? []) {
    const records = loadPayload(payloads[KEY_PREFIX + source]!) as Record<string, number>[];
    if (source === 'market_data') {
      const prices = records.map((r) => r.price!);
      attempt('market_var_95', () => {
        if (ctx.params.fail_var_calculation) throw new Error('simulated numerical failure in VaR');
        return valueAtRisk(prices, 0.95);
      });
      attempt('market_volatility', () => {
        const mean = prices.reduce((a, b) => a + b, 0) / prices.length;
        return round(Math.sqrt(prices.reduce((a, p) => a + (p - mean) ** 2, 0) / prices.length) / mean, 4);
      });
    } else {
      attempt(`${source}_summary`, () => ({ records: records.length, full_analysis: true }));
    }
  }
  for (const source of medium?.sources ?? []) {
    warnings.push(`${source}: basic analysis only (quality ${quality.quality_assessment[source]!.score})`);
    const records = loadPayload(payloads[KEY_PREFIX + source]!) as Record<string, unknown>[];
    attempt(`${source}_basic`, () => ({ records: records.length, usable: records.filter((r) => r.timestamp !== undefined).length }));
  }
  for (const source of low?.sources ?? []) {
    ctx.log.warn(`Skipping analysis of ${source}: quality too low (${quality.quality_assessment[source]!.issues.join(', ')})`);
    warnings.push(`${source}: skipped, quality too low`);
  }

  await ctx.xcom.push('risk_analysis_results', results);
  await ctx.xcom.push('risk_warnings', warnings);
  await ctx.xcom.push('analysis_metadata', { analyses_run: run.length, analyses_failed: failed.length, duration_ms: Date.now() - started });
  await ctx.xcom.push('failed_analyses', failed);
  const out: RiskResults = { risk_analysis_results: results, analyses_run: run, analyses_failed: failed.map((f) => f.analysis) };
  return out;
});

// ---- 4. generate_reports ---------------------------------------------------------

const reports = financialAnalytics.task(
  'generate_reports',
  { inputs: { quality: assess, risk: analyze, reportDate: '{{ ds }}' } },
  async (ctx, { quality, risk, reportDate }) => {
    const warnings = (await ctx.xcom.pull<string[]>(analyze, 'risk_warnings')) ?? [];
    const failed = (await ctx.xcom.pull<{ analysis: string; error: string }[]>(analyze, 'failed_analyses')) ?? [];
    const hasHigh = (await ctx.xcom.pull(assess, 'high_quality_data')) !== undefined;
    const hasMedium = (await ctx.xcom.pull(assess, 'medium_quality_data')) !== undefined;
    const kind = hasHigh ? 'full' : hasMedium ? 'summary' : 'error';
    const outputs: Record<string, unknown> = {
      executive_summary: {
        report_type: kind,
        date: reportDate,
        overall_quality_score: quality.overall_quality_score,
        analyses_completed: risk.analyses_run.length,
        analyses_failed: risk.analyses_failed.length,
      },
      quality_report: quality.quality_assessment,
      recommendations: [
        ...Object.entries(quality.quality_assessment)
          .filter(([, q]) => q.score < 0.8)
          .map(([name, q]) => `Improve ${name}: ${q.issues.join(', ') || 'low score'}`),
        ...failed.map((f) => `Investigate failed analysis ${f.analysis}: ${f.error}`),
      ],
    };
    if (kind === 'full') outputs.detailed_analysis = { results: risk.risk_analysis_results, warnings };
    for (const [key, value] of Object.entries(outputs)) await ctx.xcom.push(key, value);
    return { report_type: kind, outputs: Object.keys(outputs) };
  },
);

// ---- 5. cleanup_resources --------------------------------------------------------

financialAnalytics.task('cleanup_resources', { inputs: { report: reports }, triggerRule: 'all_done' }, async (ctx) => {
  const payloads = (await ctx.xcom.pullPrefix(ingest, KEY_PREFIX)) as Record<string, SourcePayload>;
  const cleaned: string[] = [];
  const failures: { file: string; error: string }[] = [];
  let bytesFreed = 0;
  for (const payload of Object.values(payloads)) {
    if (payload.data_type !== 'file_reference' || !payload.cleanup_required) continue;
    try {
      if (existsSync(payload.file_path)) {
        bytesFreed += statSync(payload.file_path).size;
        unlinkSync(payload.file_path);
        cleaned.push(payload.file_path);
      }
    } catch (err) {
      failures.push({ file: payload.file_path, error: (err as Error).message });
    }
  }
  // The per-source payloads were only needed inside this run: drop them, keep the reports.
  const xcomsCleared = await ctx.xcom.clear(ingest, { prefix: KEY_PREFIX });
  for (const f of cleaned) ctx.log.info(`audit: removed ${f}`);
  ctx.log.info(`audit: cleared ${xcomsCleared} temporary XComs (${KEY_PREFIX}*) of ingest_data`);
  return { files_removed: cleaned, files_failed: failures, bytes_freed: bytesFreed, xcoms_cleared: xcomsCleared };
});
