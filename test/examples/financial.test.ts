import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../src/runtime/store/index.ts';
import { createXComBackend } from '../../src/runtime/xcom/index.ts';
import type { XComBackend } from '../../src/runtime/xcom/index.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const RUN_ID = 'manual__2024-01-15T00:00:00+00:00';
const DAG = 'financial_analytics_pipeline';

function workspace() {
  const ws = tempWorkspace();
  // Written through the workspace, which keeps the suite's store in it.
  ws.write('hangar.json', readFileSync(join(EXAMPLES, 'hangar.json'), 'utf8'));
  cpSync(join(EXAMPLES, 'dags', `${DAG}.ts`), join(ws.dags, `${DAG}.ts`));
  return ws;
}

let backend: XComBackend;
async function decode(store: Store, task: string, key: string, runId = RUN_ID): Promise<unknown> {
  const row = await store.xcoms.get(DAG, runId, task, key);
  return row
    ? backend.deserialize({ dagId: DAG, runId, taskId: task, mapIndex: -1, key }, row.value)
    : undefined;
}

test('financial analytics pipeline: runs end to end from the CLI', async () => {
  const ws = workspace();
  try {
    const r = hangar([
      'run',
      DAG,
      '--workspace',
      ws.root,
      '--date',
      '2024-01-15',
      '--conf',
      '{"external_feeds_size": "small"}',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const t of [
      'ingest_data',
      'assess_quality',
      'analyze_risk',
      'generate_reports',
      'cleanup_resources',
    ]) {
      assert.match(r.stdout, new RegExp(`${t}\\s+running\\s+try 1`), `${t} is reported running`);
      assert.match(r.stdout, new RegExp(`${t}\\s+success`), `${t} is reported successful`);
    }
    assert.match(r.stdout, new RegExp(`Run ${RUN_ID.replace(/[+]/g, '\\+')} of ${DAG}: success`));

    const store = await openWorkspaceStore(ws.root);
    backend = createXComBackend({}, { workspaceRoot: ws.root, xcomRoot: join(ws.root, '.hangar', 'xcom') });
    try {
      assert.equal((await store.runs.get(DAG, RUN_ID))!.state, 'success');

      // Ingestion: the large dataset went to a file, the others inline; dynamic keys were used.
      const ingested = (await decode(store, 'ingest_data', 'return_value')) as {
        sources: Record<string, { data_type: string; record_count: number; size_mb: number }>;
        keys_pushed: string[];
      };
      assert.deepEqual(ingested.keys_pushed, [
        'data_source_market_data',
        'data_source_trading_data',
        'data_source_risk_parameters',
        'data_source_external_feeds',
      ]);
      assert.equal(ingested.sources.market_data!.data_type, 'file_reference');
      assert.equal(ingested.sources.market_data!.record_count, 10_000);
      assert.ok(ingested.sources.market_data!.size_mb > 1);
      assert.equal(ingested.sources.trading_data!.data_type, 'direct');
      assert.equal(ingested.sources.risk_parameters!.data_type, 'direct');
      const meta = (await decode(store, 'ingest_data', 'ingestion_metadata')) as {
        keys_pushed: string[];
        external_feeds_size: string;
      };
      assert.equal(meta.external_feeds_size, 'small');
      const ingestLog = readFileSync(
        (await store.tasks.listTries(DAG, RUN_ID, 'ingest_data'))[0]!.log_path!,
        'utf8',
      );
      assert.match(ingestLog, /market_data: \d+ bytes > 1048576; stored as a file reference at /);

      // Quality: the seed's expected structure and conditional outputs.
      const quality = (await decode(store, 'assess_quality', 'return_value')) as {
        quality_assessment: Record<string, { score: number; issues: string[]; record_count: number }>;
        overall_quality_score: number;
      };
      assert.deepEqual(quality.quality_assessment.market_data, {
        score: 1,
        issues: [],
        record_count: 10_000,
      });
      assert.deepEqual(quality.quality_assessment.trading_data, {
        score: 0.75,
        issues: ['missing timestamps'],
        record_count: 500,
      });
      assert.deepEqual(quality.quality_assessment.risk_parameters, {
        score: 1,
        issues: [],
        record_count: 50,
      });
      assert.deepEqual(quality.quality_assessment.external_feeds, {
        score: 0.4,
        issues: ['data corruption', 'incomplete'],
        record_count: 200,
      });
      assert.equal(quality.overall_quality_score, 0.79);
      assert.deepEqual(await decode(store, 'assess_quality', 'high_quality_data'), {
        sources: ['market_data', 'risk_parameters'],
        payload_keys: ['data_source_market_data', 'data_source_risk_parameters'],
      });
      assert.deepEqual(
        ((await decode(store, 'assess_quality', 'medium_quality_data')) as { sources: string[] }).sources,
        ['trading_data'],
      );
      assert.deepEqual(await decode(store, 'assess_quality', 'low_quality_data'), {
        sources: ['external_feeds'],
      });
      assert.deepEqual(await decode(store, 'assess_quality', 'quality_issues'), {
        external_feeds: ['data corruption', 'incomplete'],
      });

      // Risk analysis adapted to the tiers.
      const risk = (await decode(store, 'analyze_risk', 'risk_analysis_results')) as Record<string, unknown>;
      assert.ok(typeof risk.market_var_95 === 'number');
      assert.ok(typeof risk.market_volatility === 'number');
      assert.deepEqual(risk.trading_data_basic, { records: 500, usable: 375 });
      assert.deepEqual(await decode(store, 'analyze_risk', 'failed_analyses'), []);
      assert.deepEqual(await decode(store, 'analyze_risk', 'risk_warnings'), [
        'trading_data: basic analysis only (quality 0.75)',
        'external_feeds: skipped, quality too low',
      ]);

      // Reports: a full report, with every output format.
      assert.deepEqual(await decode(store, 'generate_reports', 'return_value'), {
        report_type: 'full',
        outputs: ['executive_summary', 'quality_report', 'recommendations', 'detailed_analysis'],
      });
      assert.equal(
        ((await decode(store, 'generate_reports', 'executive_summary')) as { date: string }).date,
        '2024-01-15',
        'templated input rendered',
      );

      // Cleanup removed the file and the temporary XComs, and said so.
      const cleanup = (await decode(store, 'cleanup_resources', 'return_value')) as {
        files_removed: string[];
        bytes_freed: number;
        xcoms_cleared: number;
      };
      assert.equal(cleanup.files_removed.length, 1);
      assert.match(cleanup.files_removed[0]!, /market_data_20240115\.json$/);
      assert.ok(cleanup.files_removed[0]!.startsWith(join(ws.root, '.hangar', 'data')));
      assert.equal(existsSync(cleanup.files_removed[0]!), false, 'the file reference was removed');
      assert.ok(cleanup.bytes_freed > 1024 * 1024);
      assert.equal(cleanup.xcoms_cleared, 4);
      assert.deepEqual(await store.xcoms.list({ dagId: DAG, runId: RUN_ID, keyPrefix: 'data_source_' }), []);
      assert.ok(await decode(store, 'ingest_data', 'ingestion_metadata'), 'non-temporary XComs are kept');

      // Lineage: who pulled what.
      const pulls = await store.sql.all<{ t: string }>(
        "SELECT DISTINCT pulled_by_task_id AS t FROM xcom_pulls WHERE task_id = 'assess_quality' AND key = 'high_quality_data' ORDER BY t",
      );
      assert.deepEqual(
        pulls.map((p) => p.t),
        ['analyze_risk', 'generate_reports'],
      );
    } finally {
      await store.close();
    }

    // The XCom commands read what the run stored.
    const list = hangar([
      'xcom',
      'list',
      '--dag',
      DAG,
      '--run',
      RUN_ID,
      '--task',
      'assess_quality',
      '--json',
      '--workspace',
      ws.root,
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { key: string }[]).map((x) => x.key).sort(), [
      'high_quality_data',
      'low_quality_data',
      'medium_quality_data',
      'quality_issues',
      'return_value',
    ]);
  } finally {
    ws.remove();
  }
});

test('financial analytics pipeline: a failing calculation is handled and large external feeds also go to a file', async () => {
  const ws = workspace();
  try {
    const r = hangar([
      'run',
      DAG,
      '--workspace',
      ws.root,
      '--date',
      '2024-01-15',
      '--json',
      '--conf',
      '{"external_feeds_size": "large", "fail_var_calculation": true}',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as {
      run: { state: string };
      task_instances: { task_id: string; state: string }[];
    };
    assert.equal(out.run.state, 'success');
    const store = await openWorkspaceStore(ws.root);
    backend = createXComBackend({}, { workspaceRoot: ws.root, xcomRoot: join(ws.root, '.hangar', 'xcom') });
    try {
      const ingested = (await decode(store, 'ingest_data', 'return_value')) as {
        sources: Record<string, { data_type: string }>;
      };
      assert.equal(ingested.sources.external_feeds!.data_type, 'file_reference');
      assert.deepEqual(await decode(store, 'analyze_risk', 'failed_analyses'), [
        { analysis: 'market_var_95', error: 'simulated numerical failure in VaR' },
      ]);
      const recs = (await decode(store, 'generate_reports', 'recommendations')) as string[];
      assert.ok(
        recs.includes('Investigate failed analysis market_var_95: simulated numerical failure in VaR'),
      );
      const cleanup = (await decode(store, 'cleanup_resources', 'return_value')) as {
        files_removed: string[];
      };
      assert.equal(cleanup.files_removed.length, 2);
    } finally {
      await store.close();
    }
  } finally {
    ws.remove();
  }
});
