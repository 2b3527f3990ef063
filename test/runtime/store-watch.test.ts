/**
 * The editor's store watcher (src/runtime/store-watch.ts) against a real store (SQLite, or
 * PostgreSQL under HANGAR_TEST_STORE=postgres): another connection stands for another process.
 * The runtime server's use of it, with a real `hangar run` beside it, is in
 * test/extension/runtime-server.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { StoreWatcher } from '../../src/runtime/store-watch.ts';
import type { WatchedTaskEvent } from '../../src/runtime/store-watch.ts';
import type { RunEvent } from '../../src/runtime/events.ts';
import { testStoreValue } from '../helpers/store.ts';

async function stores(): Promise<{ mine: Store; other: Store; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-watch-'));
  const value = testStoreValue(dir);
  const mine = await Store.open(parseStoreTarget(value, dir));
  const other = await Store.open(parseStoreTarget(value, dir));
  return {
    mine,
    other,
    close: async () => {
      await mine.close();
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const run = (runId: string) => ({
  dag_id: 'd',
  run_id: runId,
  run_type: 'manual' as const,
  logical_date: '2024-01-01T00:00:00.000Z',
  data_interval_start: '2024-01-01T00:00:00.000Z',
  data_interval_end: '2024-01-01T00:00:00.000Z',
  state: 'queued' as const,
  conf: '{}',
  queued_at: new Date().toISOString(),
});
const ti = (runId: string, taskId: string, mapIndex = -1) => ({
  dag_id: 'd',
  run_id: runId,
  task_id: taskId,
  map_index: mapIndex,
  max_tries: 1,
  operator: 'task',
  pool: 'default_pool',
  state: null,
});

function watcher(store: Store, opts: { limit?: number } = {}) {
  const runs: RunEvent[] = [];
  const tasks: WatchedTaskEvent[] = [];
  const errors: Error[] = [];
  const w = new StoreWatcher(store, {
    ...opts,
    onRun: (e) => runs.push(e),
    onTask: (e) => tasks.push(e),
    onError: (e) => errors.push(e),
  });
  return { w, runs, tasks, errors };
}

test("another connection's changes are reported once each, after a first read that only learns; what this process told it is not", async () => {
  const { mine, other, close } = await stores();
  try {
    await other.runs.insert(run('r1'));
    await other.tasks.insert([ti('r1', 'a'), ti('r1', 'b')]);
    const { w, runs, tasks } = watcher(mine);
    await w.read();
    assert.deepEqual([runs, tasks], [[], []], 'the first read reports nothing');

    await other.runs.update('d', 'r1', { state: 'running', start_date: new Date().toISOString() });
    await other.tasks.update(
      { dag_id: 'd', run_id: 'r1', task_id: 'a', map_index: -1 },
      { state: 'running', try_number: 1 },
    );
    await w.read();
    assert.deepEqual(runs, [{ dagId: 'd', runId: 'r1', state: 'running' }]);
    assert.deepEqual(
      tasks.map((t) => [t.taskId, t.state, t.tryNumber]),
      [['a', 'running', 1]],
    );
    // Nothing new: nothing reported (on SQLite nothing is even read: data_version did not move).
    await w.read();
    assert.equal(runs.length + tasks.length, 2);

    // What this process did itself and reported: told to the watcher, not reported again.
    await mine.tasks.update(
      { dag_id: 'd', run_id: 'r1', task_id: 'b', map_index: -1 },
      { state: 'success', try_number: 1, duration: 0.5 },
    );
    w.saw({
      kind: 'task',
      event: { dagId: 'd', runId: 'r1', taskId: 'b', mapIndex: -1, state: 'success', tryNumber: 1 },
    });
    await other.tasks.update(
      { dag_id: 'd', run_id: 'r1', task_id: 'a', map_index: -1 },
      { state: 'failed', error: 'boom', duration: 1.5 },
    );
    await other.runs.update('d', 'r1', { state: 'failed', end_date: new Date().toISOString() });
    await w.read();
    assert.deepEqual(
      tasks.slice(1).map((t) => [t.taskId, t.state, t.error, t.duration]),
      [['a', 'failed', 'boom', 1.5]],
    );
    assert.deepEqual(runs.slice(1), [{ dagId: 'd', runId: 'r1', state: 'failed' }]);

    // A clear (no state) and a run queued again are changes too.
    await other.tasks.update({ dag_id: 'd', run_id: 'r1', task_id: 'a', map_index: -1 }, { state: null });
    await other.runs.update('d', 'r1', { state: 'queued', end_date: null });
    await w.read();
    assert.deepEqual(tasks.at(-1)!.state, null);
    assert.deepEqual(runs.at(-1), { dagId: 'd', runId: 'r1', state: 'queued' });
  } finally {
    await close();
  }
});

test('more changes than a read takes: the next reads go on from there; rows written by one statement with one change time are passed', async () => {
  const { mine, other, close } = await stores();
  try {
    await other.runs.insert(run('r1'));
    const { w, tasks } = watcher(mine, { limit: 3 });
    await w.read();
    // Five instances in one statement: one change time for all of them.
    await other.tasks.insert([0, 1, 2, 3, 4].map((i) => ti('r1', 'm', i)));
    for (let i = 0; i < 3; i++) await w.read();
    // The first read takes three (the limit), the next goes past their shared time, not round and round.
    assert.equal(tasks.length, 3);
    // Then changes one by one, more than the limit: each is reported, across reads.
    for (const i of [0, 1, 2, 3, 4]) {
      await new Promise((r) => setTimeout(r, 2));
      await other.tasks.update(
        { dag_id: 'd', run_id: 'r1', task_id: 'm', map_index: i },
        { state: 'success', try_number: 1 },
      );
    }
    for (let i = 0; i < 4; i++) await w.read();
    assert.deepEqual(
      tasks
        .slice(3)
        .filter((t) => t.state === 'success')
        .map((t) => t.mapIndex)
        .sort(),
      [0, 1, 2, 3, 4],
    );
  } finally {
    await close();
  }
});

test('a store that cannot be read (closed under it) is said once, not at every read', async () => {
  const { mine, other, close } = await stores();
  try {
    const { w, errors } = watcher(other);
    await w.read();
    await other.close();
    for (let i = 0; i < 3; i++) await w.read();
    assert.equal(errors.length, 1, errors.map((e) => e.message).join('\n'));
  } finally {
    await mine.close();
    await close().catch(() => undefined);
  }
});
