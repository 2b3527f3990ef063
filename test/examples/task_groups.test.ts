/**
 * examples/dags/task_groups.ts runs end to end from the CLI (`hangar run`): task ids
 * prefixed with their groups, dependencies on whole groups (Airflow's TaskGroup roots and
 * leaves, airflow/utils/task_group.py), XComs across group borders, and `hangar list`
 * loading it without errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createXComBackend } from '../../src/runtime/xcom/index.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const DAG = 'task_groups';

test('task groups example: runs end to end from the CLI, groups as dependencies', async () => {
  const ws = tempWorkspace();
  ws.write('hangar.json', readFileSync(join(EXAMPLES, 'hangar.json'), 'utf8'));
  cpSync(join(EXAMPLES, 'dags', `${DAG}.ts`), join(ws.dags, `${DAG}.ts`));
  try {
    const list = hangar(['list', '--workspace', ws.root, '--json']);
    assert.equal(list.code, 0, list.stdout + list.stderr);
    const parsed = JSON.parse(list.stdout) as {
      dags: {
        dag_id: string;
        tasks: { task_id: string; upstream_task_ids: string[]; task_group: string | null }[];
      }[];
      import_errors: unknown[];
    };
    assert.deepEqual(parsed.import_errors, []);
    const tasks = Object.fromEntries(
      parsed.dags
        .find((d) => d.dag_id === DAG)!
        .tasks.map((t) => [t.task_id, [...t.upstream_task_ids].sort()]),
    );
    assert.deepEqual(tasks, {
      start: [],
      'extract.orders': ['start'],
      'extract.customers': ['start'],
      'transform.clean.dedupe': ['extract.customers', 'extract.orders'],
      'transform.join': ['extract.customers', 'transform.clean.dedupe'],
      publish: ['transform.join'],
    });
    const groupOf = Object.fromEntries(
      parsed.dags.find((d) => d.dag_id === DAG)!.tasks.map((t) => [t.task_id, t.task_group]),
    );
    assert.deepEqual(groupOf, {
      start: null,
      'extract.orders': 'extract',
      'extract.customers': 'extract',
      'transform.clean.dedupe': 'transform.clean',
      'transform.join': 'transform',
      publish: null,
    });

    const r = hangar(['run', DAG, '--workspace', ws.root, '--date', '2024-01-15']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /transform\.clean\.dedupe\s+success/);
    assert.match(r.stdout, new RegExp(`of ${DAG}: success`));
    const store = await openWorkspaceStore(ws.root);
    try {
      const runs = await store.runs.latest(DAG, 10);
      assert.equal(runs.length, 1);
      const runId = runs[0]!.run_id;
      const tis = await store.tasks.list(DAG, runId);
      assert.deepEqual(Object.fromEntries(tis.map((t) => [t.task_id, t.state])), {
        start: 'success',
        'extract.orders': 'success',
        'extract.customers': 'success',
        'transform.clean.dedupe': 'success',
        'transform.join': 'success',
        publish: 'success',
      });
      assert.equal(
        tis.find((t) => t.task_id === 'extract.orders')!.max_tries,
        3,
        "the extract group's retries: 2",
      );
      assert.equal(tis.find((t) => t.task_id === 'publish')!.max_tries, 1, "the DAG's retries: 0");
      const backend = createXComBackend(
        {},
        { workspaceRoot: ws.root, xcomRoot: join(ws.root, '.hangar', 'xcom') },
      );
      const row = (await store.xcoms.get(DAG, runId, 'publish', 'return_value'))!;
      assert.deepEqual(
        await backend.deserialize(
          { dagId: DAG, runId, taskId: 'publish', mapIndex: -1, key: 'return_value' },
          row.value,
        ),
        { rows: 2, total: 42 },
      );
    } finally {
      await store.close();
    }
  } finally {
    ws.remove();
  }
});
