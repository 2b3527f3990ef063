/**
 * The sensor and sync repositories (src/runtime/store/repos/sensors.ts, sync.ts) on both
 * dialects: the same calls against a migrated SQLite file and a real PostgreSQL database
 * (test/helpers/postgres.ts) give the same answers — numbers as numbers, conflicts handled
 * by ON CONFLICT, a refused cursor rolling its whole batch back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/runtime/store/migrate.ts';
import { openDriver } from '../../src/runtime/store/open.ts';
import { SensorRepository } from '../../src/runtime/store/repos/sensors.ts';
import type { BreakerWrite } from '../../src/runtime/store/repos/sensors.ts';
import { SyncRepository } from '../../src/runtime/store/repos/sync.ts';
import type { SqlDriver } from '../../src/runtime/store/sql.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { freshDatabase } from '../helpers/postgres.ts';

const DIALECTS = {
  sqlite: async (): Promise<{ sql: SqlDriver; done: () => Promise<void> }> => {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-repos-'));
    const sql = openDriver(parseStoreTarget('.hangar/hangar.db', dir));
    return { sql, done: async () => { await sql.close(); rmSync(dir, { recursive: true, force: true }); } };
  },
  postgres: async (): Promise<{ sql: SqlDriver; done: () => Promise<void> }> => {
    const sql = openDriver(parseStoreTarget((await freshDatabase()).url, '/'));
    return { sql, done: () => sql.close() };
  },
};

const KEY = { dagId: 'd', runId: 'r1', taskId: 'wait', mapIndex: -1 };
const T0 = Date.parse('2024-05-01T00:00:00Z');

/** A run of DAG d and a sensor task instance in it (the store's own tables; the lead's repositories will write these). */
async function seedRun(sql: SqlDriver, runId: string, logicalDate: string, state = 'running'): Promise<void> {
  await sql.run(
    `INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, queued_at)
     VALUES ('d', ?, 'scheduled', ?, ?, ?, ?, '{}', ?)`,
    runId, logicalDate, logicalDate, logicalDate, state, logicalDate,
  );
  for (const [taskId, mapIndex, op, st] of [['wait', -1, 'sensor', 'up_for_reschedule'], ['load', 0, 'typescript', 'success'], ['load', 1, 'typescript', null]] as const)
    await sql.run(
      `INSERT INTO task_instances (dag_id, run_id, task_id, map_index, max_tries, operator, pool, state, updated_at)
       VALUES ('d', ?, ?, ?, 1, ?, 'default_pool', ?, ?)`,
      runId, taskId, mapIndex, op, st, logicalDate,
    );
}

for (const [dialect, open] of Object.entries(DIALECTS)) {
  describe(`repositories on ${dialect}`, () => {
    test('sensor instances, pokes, memo, waits, stats and the panel join', async () => {
      const { sql, done } = await open();
      try {
        await migrate(sql);
        const s = new SensorRepository(sql);
        await seedRun(sql, 'r1', '2024-05-01T00:00:00.000Z');
        const first = await s.startInstance(KEY, T0);
        assert.deepEqual(first, { first_poke_ms: T0, pokes: 0, last_interval_ms: null, outcome: null, ended_ms: null, wait_ms: null, fresh: true });
        assert.equal((await s.startInstance(KEY, T0 + 5)).fresh, false, 'a live instance keeps its first poke');
        await s.setMemo(KEY, '{"a":1}');
        assert.equal(await s.getMemo(KEY), '{"a":1}');
        const poke = { tryNumber: 1, mode: 'reschedule' as const, durationMs: 1.2345, error: null, strategy: 'fixed 1s' };
        await s.recordPoke(KEY, { ...poke, pokeNumber: 1, atMs: T0, result: 'not_yet', nextIntervalMs: 1000 }, { pokes: 1, lastIntervalMs: 1000 });
        await s.recordPoke(KEY, { ...poke, pokeNumber: 2, atMs: T0 + 1000, result: 'error', error: 'boom', nextIntervalMs: null }, { pokes: 2, lastIntervalMs: 1000 });
        const pokes = await s.listPokes({ dagId: 'd', runId: 'r1', taskId: 'wait' });
        assert.deepEqual(pokes.map((p) => [p.poke_number, p.result, p.poked_at_ms - T0, p.duration_ms, p.next_interval_ms, p.poked_at]), [
          [1, 'not_yet', 0, 1.235, 1000, '2024-05-01T00:00:00.000Z'],
          [2, 'error', 1000, 1.235, null, '2024-05-01T00:00:01.000Z'],
        ]);
        const since = await s.pokesSince(KEY, T0 + 1, 10);
        assert.deepEqual([since.total, since.latest.map((p) => p.poke_number)], [1, [2]]);

        const live = await s.sensorInstances({ dagId: 'd' }, 10);
        assert.deepEqual(live.map((r) => [r.task_id, r.map_index, r.state, r.run_state, r.pokes, r.first_poke_ms, r.last_result, r.last_poke_ms]), [
          ['wait', -1, 'up_for_reschedule', 'running', 2, T0, 'error', T0 + 1000],
        ]);
        assert.equal((await s.sensorInstance(KEY))!.last_strategy, 'fixed 1s');
        assert.equal(await s.sensorInstance({ ...KEY, taskId: 'load', mapIndex: 0 }), undefined, 'not a sensor');

        await s.recordPoke(KEY, { ...poke, pokeNumber: 3, atMs: T0 + 2000, result: 'done', nextIntervalMs: null }, { pokes: 3, lastIntervalMs: 1000, outcome: 'success', endedMs: T0 + 2500, waitMs: 2500 });
        assert.deepEqual(await s.getInstance(KEY), { first_poke_ms: T0, pokes: 3, last_interval_ms: 1000, outcome: 'success', ended_ms: T0 + 2500, wait_ms: 2500 });
        // An ended instance starts over: new timeout, no memo.
        const again = await s.startInstance(KEY, T0 + 9000);
        assert.equal(again.fresh, true);
        assert.equal(await s.getMemo(KEY), null);
        await s.recordPoke(KEY, { ...poke, pokeNumber: 1, atMs: T0 + 9000, result: 'done', nextIntervalMs: null }, { pokes: 1, lastIntervalMs: null, outcome: 'success', endedMs: T0 + 9100, waitMs: 100 });
        await s.startInstance({ ...KEY, runId: 'r2' }, T0);
        await s.recordPoke({ ...KEY, runId: 'r2' }, { ...poke, pokeNumber: 1, atMs: T0, result: 'done', nextIntervalMs: null }, { pokes: 1, lastIntervalMs: null, outcome: 'success', endedMs: T0 + 700, waitMs: 700 });
        assert.deepEqual(await s.recentWaits('d', 'wait', 5), [700, 100], 'oldest first, by end time (r2 ended at +0.7 s, r1 again at +9.1 s)');
        assert.deepEqual(await s.recentWaits('d', 'wait', 1), [100]);

        const st = await s.statsRows('d');
        assert.deepEqual(st.pokes.map((p) => [p.task_id, p.n, p.errors, Math.round(p.avg_ms! * 1000)]), [['wait', 5, 1, 1235]]);
        assert.deepEqual(st.instances.map((r) => [r.task_id, r.outcome, r.wait_ms]).sort(), [['wait', 'success', 100], ['wait', 'success', 700]]);
        assert.deepEqual((await s.statsRows('other')).pokes, []);
      } finally {
        await done();
      }
    });

    test('breaker transitions, SLA anchors and misses, external reads', async () => {
      const { sql, done } = await open();
      try {
        await migrate(sql);
        const s = new SensorRepository(sql);
        const open1: BreakerWrite = { state: 'open', consecutive_errors: 3, open_until_ms: T0 + 60_000, probe_started_ms: null, last_error: 'x'.repeat(10), opened_count: 1 };
        assert.equal(await s.breakerTransition('d', 'wait', (row) => ({ result: row === undefined })), true, 'no row: nothing created');
        assert.equal(await s.getBreaker('d', 'wait'), undefined);
        assert.equal(await s.breakerTransition('d', 'wait', (row) => ({ result: row?.state }), true), 'closed', 'ensureRow creates a closed row');
        await s.breakerTransition('d', 'wait', () => ({ result: undefined, write: open1 }));
        const b = (await s.getBreaker('d', 'wait'))!;
        assert.deepEqual([b.state, b.consecutive_errors, b.open_until_ms, b.opened_count, b.probe_started_ms], ['open', 3, T0 + 60_000, 1, null]);
        // A transition that throws writes nothing.
        await assert.rejects(s.breakerTransition('d', 'wait', () => { throw new Error('decide failed'); }), /decide failed/);
        assert.equal((await s.getBreaker('d', 'wait'))!.state, 'open');

        assert.equal(await s.slaAnchor('d', 'r1', T0), T0);
        assert.equal(await s.slaAnchor('d', 'r1', T0 + 99), T0, 'the first anchor stays');
        assert.equal(await s.getSlaAnchor('d', 'nope'), undefined);
        const miss = { dag_id: 'd', run_id: 'r1', task_id: 'wait', level: 'warn', deadline_ms: T0 + 10, deadline: new Date(T0 + 10).toISOString(), detected_ms: T0 + 11, task_state: 'running' };
        assert.equal(await s.insertSlaMiss(miss), true);
        assert.equal(await s.insertSlaMiss({ ...miss, detected_ms: T0 + 50 }), false, 'once per level');
        assert.equal(await s.hasSlaMiss('d', 'r1', 'wait', 'warn'), true);
        assert.equal(await s.hasSlaMiss('d', 'r1', 'wait', 'page'), false);
        assert.deepEqual(await s.listSlaMisses({ dagId: 'd', runId: 'r1', taskId: 'wait' }), [miss]);

        await seedRun(sql, 'old', '2024-05-01T00:00:00.000Z', 'failed');
        await seedRun(sql, 'new', '2024-05-01T00:00:00.000Z', 'success');
        assert.deepEqual(await s.runsAtLogicalDate('d', '2024-05-01T00:00:00.000Z'), [{ run_id: 'new', state: 'success' }, { run_id: 'old', state: 'failed' }]);
        assert.deepEqual(await s.taskInstanceStates('d', 'new', 'load'), ['success', null]);
        assert.deepEqual(await s.taskInstanceStates('d', 'new', 'missing'), []);
      } finally {
        await done();
      }
    });

    test('sync: cursor never backwards, a batch is all or none, results replace, runs listed', async () => {
      const { sql, done } = await open();
      try {
        await migrate(sql);
        const y = new SyncRepository(sql);
        await y.beginRun('run1', 'p', 'cursor');
        const result = { id: 'f', status: 'synced' as const, size: 3, mtimeMs: 5000, bytesRead: 3, bytesWritten: 3, durationMs: 1.4 };
        await y.recordCommittedBatch('run1', 'p', [{ point: { id: 'f', size: 3, mtimeMs: 5000 }, result }], { mtimeMs: 5000, id: 'f' });
        assert.deepEqual(await y.getCursor('p'), { mtimeMs: 5000, id: 'f' });
        await assert.rejects(
          y.recordCommittedBatch('run1', 'p', [{ point: { id: 'g', size: 1, mtimeMs: 4000 }, result: { ...result, id: 'g' } }], { mtimeMs: 4000, id: 'g' }),
          /refusing to move the cursor of pipeline "p" backwards/,
        );
        assert.deepEqual([...(await y.getManifest('p')).keys()], ['f'], 'the refused batch left nothing');
        await y.recordResult('run1', 'p', { ...result, status: 'failed', error: 'late' });
        assert.deepEqual(await y.fileResults('run1'), [{ ...result, durationMs: 1, status: 'failed', error: 'late' }]);
        await y.recordDeleted('run1', 'p', { ...result, status: 'deleted' });
        assert.equal((await y.getManifest('p')).size, 0);
        await y.finishRun('run1', 'partial', null, null);
        const [run] = await y.listRuns('p');
        assert.deepEqual([run!.runId, run!.status, run!.mode, run!.filesSynced, run!.error], ['run1', 'partial', 'cursor', 0, null]);
        await y.advanceCursor('p', { mtimeMs: 9000, id: 'a' });
        await y.reset('p');
        assert.equal(await y.getCursor('p'), null);
      } finally {
        await done();
      }
    });
  });
}
