/**
 * The sensor panel's runtime requests (`sensor/instances`, `sensor/detail`) on
 * a real store, with real sensor runs of examples/dags/sensor_demo.ts: on a fake
 * clock (the pokes, intervals, curve, plan and deadlines to the millisecond,
 * mid-run and after), and once through the runtime server's dispatch on the
 * real clock over JSON-RPC (the server process the extension starts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import * as P from '../../src/protocol/runtime.ts';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { SensorService, formatMs, strategySentence } from '../../src/runtime/server/sensors.ts';
import { InvalidParamsError } from '../../src/runtime/server/validate.ts';
import type { SensorDetail, SensorInstancesResult } from '../../src/protocol/webviews/sensor-values.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { testStoreConfig } from '../helpers/store.ts';
import { drive } from './helpers.ts';

const SERVER = join(import.meta.dirname, '..', '..', 'src', 'runtime', 'server', 'main.ts');
const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'dags', 'sensor_demo.ts');
const T0 = Date.UTC(2024, 0, 15, 6, 0, 0);

class NotFound extends Error {}

function service(rt: Runtime): SensorService {
  return new SensorService(
    () => rt,
    async (dagId) => rt.dagBag?.dags.get(dagId),
    (m) => new NotFound(m),
  );
}

describe('sensor panel queries', () => {
  test('sensor_demo on a fake clock: live instance with its plan, then pokes, intervals, curve, deadlines, breaker and stats', async () => {
    const clock = new FakeClock(T0);
    const t = await testRuntime({ 'dags/sensor_demo.ts': readFileSync(EXAMPLE, 'utf8') }, { clock });
    try {
      const s = service(t.rt);
      const work = t.rt.runDag('sensor_demo', { logicalDate: new Date(T0) });
      // Stop half-way: wait_for_flag has poked twice (T0, T0+1s) and sleeps 2 s until its third poke.
      await drive(clock, work, { settleMs: 5, until: T0 + 1500 });
      const runId = (await t.rt.store.runs.list({ dagId: 'sensor_demo', limit: 1 }))[0]!.run_id;

      const liveList = (await s.instances('sensor/instances', { liveOnly: true })) as SensorInstancesResult;
      // Both sensors are live: wait_for_partner_api waits in up_for_reschedule for its third poke.
      assert.deepEqual(
        liveList.instances.map((i) => i.taskId),
        ['wait_for_flag', 'wait_for_partner_api'],
      );
      const partnerMid = (await s.detail('sensor/detail', {
        dagId: 'sensor_demo',
        runId: liveList.instances[1]!.runId,
        taskId: 'wait_for_partner_api',
      })) as SensorDetail;
      assert.equal(partnerMid.instance.taskState, 'up_for_reschedule');
      assert.equal(partnerMid.planned[0]!.pokeNumber, 3);
      const rescheduledAt = (await t.rt.store.tasks.get(
        'sensor_demo',
        liveList.instances[1]!.runId,
        'wait_for_partner_api',
        -1,
      ))!.next_try_at!;
      assert.equal(
        partnerMid.planned[0]!.atMs,
        Date.parse(rescheduledAt),
        'the next poke is when the runtime rescheduled it',
      );
      assert.equal(liveList.nowMs, T0 + 1500);
      const mid = (await s.detail('sensor/detail', {
        dagId: 'sensor_demo',
        runId,
        taskId: 'wait_for_flag',
      })) as SensorDetail;
      assert.equal(mid.instance.live, true);
      assert.equal(mid.instance.outcome, null);
      assert.equal(mid.instance.mode, 'poke');
      assert.equal(mid.instance.taskState, 'running');
      assert.deepEqual(
        mid.pokes.map((p) => [p.pokeNumber, p.result, p.atMs - T0, p.nextIntervalMs]),
        [
          [1, 'not_yet', 0, 1000],
          [2, 'not_yet', 1000, 2000],
        ],
      );
      // The plan: the next poke 2 s after the second, then the base intervals (4 s, the cap) until the 10 s timeout.
      assert.deepEqual(
        mid.planned.map((p) => p.pokeNumber),
        [3, 4, 5],
      );
      assert.ok(
        Math.abs(mid.planned[0]!.atMs - (T0 + 3000)) <= 5,
        `next poke at ${mid.planned[0]!.atMs - T0}`,
      );
      const [p3, p4, p5] = mid.planned as [
        (typeof mid.planned)[0],
        (typeof mid.planned)[0],
        (typeof mid.planned)[0],
      ];
      assert.deepEqual([p4.atMs - p3.atMs, p4.intervalMs], [4000, 4000]);
      assert.deepEqual([p5.atMs, p5.intervalMs], [T0 + 10_000, T0 + 10_000 - p4.atMs]);
      assert.equal(mid.planned.at(-1)!.atMs, T0 + 10_000, 'the last planned poke is at the timeout');
      assert.equal(mid.timeoutDeadlineMs, T0 + 10_000);

      await drive(clock, work, { settleMs: 5 });
      const all = (await s.instances('sensor/instances', { dagId: 'sensor_demo' })) as SensorInstancesResult;
      assert.deepEqual(all.instances.map((i) => [i.taskId, i.outcome, i.live, i.pokes]).sort(), [
        ['wait_for_flag', 'success', false, 3],
        ['wait_for_partner_api', 'success', false, 3],
      ]);
      assert.deepEqual(
        ((await s.instances('sensor/instances', { liveOnly: true })) as SensorInstancesResult).instances,
        [],
      );
      assert.deepEqual(
        (
          (await s.instances('sensor/instances', { taskId: 'wait_for_partner_api' })) as SensorInstancesResult
        ).instances.map((i) => i.mode),
        ['reschedule'],
      );

      const flag = (await s.detail('sensor/detail', {
        dagId: 'sensor_demo',
        runId,
        taskId: 'wait_for_flag',
        mapIndex: -1,
      })) as SensorDetail;
      assert.deepEqual(
        flag.pokes.map((p) => [p.result, p.atMs - T0, p.nextIntervalMs]),
        [
          ['not_yet', 0, 1000],
          ['not_yet', 1000, 2000],
          ['done', 3000, null],
        ],
      );
      assert.equal(flag.totalPokes, 3);
      assert.deepEqual(flag.planned, [], 'nothing planned once done');
      assert.equal(flag.instance.waitMs, 3000);
      assert.equal(flag.strategyText, 'exponential: from 1s, ×2 per poke, at most 4s');
      assert.deepEqual(
        flag.curve.slice(0, 4).map((c) => [c.poke, c.baseMs, c.minMs, c.maxMs]),
        [
          [1, 1000, 1000, 1000],
          [2, 2000, 2000, 2000],
          [3, 4000, 4000, 4000],
          [4, 4000, 4000, 4000],
        ],
      );
      assert.equal(flag.curve.length, 12);
      // SLA levels from the run's start (the runtime's anchor), neither missed.
      assert.equal(flag.slaRelativeTo, 'run_start');
      assert.deepEqual(
        flag.sla.map((l) => [l.level, l.deadlineMs - T0, l.missedMs]),
        [
          ['warn', 6000, null],
          ['page', 8000, null],
        ],
      );
      assert.equal(flag.stats?.successRate, 1);
      assert.equal(flag.stats?.avgWaitMs, 3000);
      assert.equal(flag.stats?.p95WaitMs, 3000);
      assert.equal(flag.breaker.threshold, null, 'wait_for_flag has no breaker');
      assert.equal(flag.note, null);

      const partner = (await s.detail('sensor/detail', {
        dagId: 'sensor_demo',
        runId,
        taskId: 'wait_for_partner_api',
      })) as SensorDetail;
      assert.deepEqual(
        partner.pokes.map((p) => [p.pokeNumber, p.tryNumber, p.result]),
        [
          [1, 1, 'error'],
          [2, 2, 'not_yet'],
          [3, 2, 'done'],
        ],
      );
      assert.match(partner.pokes[0]!.error ?? '', /503 Service Unavailable/);
      const jittered = partner.pokes[1]!.nextIntervalMs!;
      assert.ok(jittered >= 800 && jittered <= 1200, `±20 % of 1 s: ${jittered}`);
      assert.deepEqual(
        [partner.curve[0]!.baseMs, partner.curve[0]!.minMs, partner.curve[0]!.maxMs],
        [1000, 800, 1200],
      );
      assert.equal(partner.breaker.state, 'closed');
      assert.equal(partner.breaker.consecutiveErrors, 0, 'the good pokes reset the error count');
      assert.match(partner.breaker.lastError ?? '', /503/);
      assert.deepEqual(
        [partner.breaker.threshold, partner.breaker.coolDownMs, partner.breaker.whenOpen],
        [3, 5000, 'reschedule'],
      );
      assert.equal(partner.stats?.pokeErrors, 1);
      assert.deepEqual(partner.sla, []);
      assert.equal(partner.timeoutDeadlineMs, T0 + 20_000);

      // Malformed or wrong requests say why.
      await assert.rejects(
        s.detail('sensor/detail', { dagId: 'sensor_demo', runId, taskId: 'process' }),
        (e: Error) => e instanceof InvalidParamsError && /not a sensor/.test(e.message),
      );
      await assert.rejects(
        s.detail('sensor/detail', { dagId: 'sensor_demo', runId, taskId: 'nope' }),
        (e: Error) => e instanceof NotFound && /no sensor "nope"/.test(e.message),
      );
      await assert.rejects(
        s.detail('sensor/detail', { dagId: 'sensor_demo', taskId: 'wait_for_flag' }),
        /"runId" must be a non-empty string/,
      );
      await assert.rejects(s.instances('sensor/instances', { limit: 0 }), /"limit" must be a whole number/);
      await assert.rejects(
        s.instances('sensor/instances', { liveOnly: 'yes' }),
        /"liveOnly" must be true or false/,
      );
    } finally {
      await t.close();
    }
  });

  test('a DAG that is no longer loaded: the recorded pokes, and a note instead of a curve', async () => {
    const clock = new FakeClock(T0);
    const t = await testRuntime({ 'dags/sensor_demo.ts': readFileSync(EXAMPLE, 'utf8') }, { clock });
    try {
      const run = await drive(clock, t.rt.runDag('sensor_demo', { logicalDate: new Date(T0) }), {
        settleMs: 5,
      });
      assert.equal(run.state, 'success');
      const s = new SensorService(
        () => t.rt,
        async () => undefined,
        (m) => new NotFound(m),
      );
      const d = await s.detail('sensor/detail', {
        dagId: 'sensor_demo',
        runId: run.run_id,
        taskId: 'wait_for_flag',
      });
      assert.equal(d.pokes.length, 3);
      assert.deepEqual([d.curve, d.planned, d.timeoutDeadlineMs, d.strategyText], [[], [], null, null]);
      assert.equal(d.instance.mode, 'poke', 'the mode comes from the recorded pokes');
      assert.equal(d.instance.strategy, 'exponential');
      assert.match(d.note ?? '', /not loaded/);
    } finally {
      await t.close();
    }
  });

  test('formatting of durations and strategies', () => {
    assert.deepEqual(
      [
        formatMs(250),
        formatMs(1500),
        formatMs(30_000),
        formatMs(90_000),
        formatMs(5_400_000),
        formatMs(7 * 86_400_000),
      ],
      ['250ms', '1.5s', '30s', '1m30s', '1h30m', '7d'],
    );
    assert.equal(
      strategySentence({ kind: 'fixed', interval: '1s', jitter: { ratio: 0.2 } }),
      'fixed: every 1s; ±20% jitter',
    );
    assert.equal(
      strategySentence({ kind: 'linear', initial: '30s', step: '15s', maxWait: '60s' }),
      'linear: from 30s, +15s per poke, at most 1m',
    );
    assert.equal(
      strategySentence({ kind: 'adaptive', base: '5m', max: '30m', jitter: 'decorrelated' }),
      'adaptive: average of the last 10 waits ÷ 4, between 5m and 30m; decorrelated jitter',
    );
  });
});

describe('sensor panel requests through the runtime server', () => {
  test(
    'sensor/instances and sensor/detail over JSON-RPC (src/runtime/server/main.ts) for a real run of sensor_demo; bad params are rejected',
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hangar-sensor-panel-'));
      mkdirSync(join(dir, 'dags'));
      writeFileSync(join(dir, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags', ...testStoreConfig() }));
      cpSync(EXAMPLE, join(dir, 'dags', 'sensor_demo.ts'));
      const child = spawn(process.execPath, [SERVER], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
      const rpc = createMessageConnection(
        new StreamMessageReader(child.stdout!),
        new StreamMessageWriter(child.stdin!),
      );
      const ended = new Set<string>();
      rpc.onNotification(P.RunDidChange, (e) => {
        if (e.state === 'success' || e.state === 'failed') ended.add(e.runId);
      });
      rpc.listen();
      try {
        await rpc.sendRequest(P.Initialize, { workspace: dir, config: { executor: 'isolated' } });
        const run = await rpc.sendRequest(P.DagRun, { dagId: 'sensor_demo' });
        const deadline = Date.now() + 45_000;
        let sawLive = false;
        while (!ended.has(run.runId)) {
          assert.ok(Date.now() < deadline, 'the run did not end');
          const live = await rpc.sendRequest(P.SensorInstances, { liveOnly: true });
          sawLive ||= live.instances.some((i) => i.taskId === 'wait_for_flag' && i.pokes >= 1);
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(sawLive, 'wait_for_flag was listed as live while it poked (in a worker process)');
        const list = await rpc.sendRequest(P.SensorInstances, { runId: run.runId, dagId: 'sensor_demo' });
        assert.deepEqual(list.instances.map((i) => `${i.taskId}:${i.outcome}:${i.pokes}`).sort(), [
          'wait_for_flag:success:3',
          'wait_for_partner_api:success:3',
        ]);
        const d = await rpc.sendRequest(P.SensorDetailRequest, {
          dagId: 'sensor_demo',
          runId: run.runId,
          taskId: 'wait_for_flag',
        });
        assert.deepEqual(
          d.pokes.map((p) => p.result),
          ['not_yet', 'not_yet', 'done'],
        );
        assert.ok(d.pokes[2]!.atMs - d.pokes[0]!.atMs >= 2900, 'pokes 1 s then 2 s apart on the real clock');
        await assert.rejects(
          rpc.sendRequest(P.SensorDetailRequest, {
            dagId: 'sensor_demo',
            runId: run.runId,
            taskId: 'process',
          }),
          (e: { code: number; message: string }) =>
            e.code === P.INVALID_PARAMS && /not a sensor/.test(e.message),
        );
        await assert.rejects(
          rpc.sendRequest(P.SensorDetailRequest, {
            dagId: 'sensor_demo',
            runId: 'nope',
            taskId: 'wait_for_flag',
          }),
          (e: { code: number }) => e.code === P.NOT_FOUND,
        );
        await assert.rejects(
          rpc.sendRequest(P.SensorInstances, { dagId: 7 } as never),
          (e: { code: number; message: string }) =>
            e.code === P.INVALID_PARAMS && /"dagId" must be a non-empty string/.test(e.message),
        );
      } finally {
        // A server that does not stop when asked is killed: a failing test must end, not hang.
        const exited = new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
        const wait = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
        await Promise.race([rpc.sendRequest(P.Shutdown).catch(() => undefined), wait(10_000)]);
        if (!(await Promise.race([exited.then(() => true), wait(10_000).then(() => false)])))
          child.kill('SIGKILL');
        rpc.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
