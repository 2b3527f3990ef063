/**
 * The runtime side of the sensor panel: the sensor task instances (live and
 * past) and, for one of them, its pokes, the intervals chosen against the
 * strategy's curve, the planned next pokes, the timeout and SLA deadlines, the
 * circuit breaker and the sensor's history statistics. Reads the store
 * (sensor_* tables, task_instances, dag_runs) and the loaded DAG's sensor
 * settings; computes the curve with the engine's own interval functions.
 * Params are validated like every other request.
 */
import type { DagSpec } from '../processor/serialized.ts';
import type { Duration } from '../dag/duration.ts';
import type { Runtime } from '../runtime.ts';
import { applyJitter, baseInterval, describeStrategy } from '../sensors/intervals.ts';
import { sensorSettingsOf } from '../sensors/sla.ts';
import { sensorStats } from '../sensors/stats.ts';
import type { IntervalInfo, IntervalStrategy, SensorSettings } from '../sensors/types.ts';
import { durationMs } from '../dag/duration.ts';
import { FINISHED_STATES } from '../store/records.ts';
import type { BreakerRow, SensorInstanceJoinRow } from '../store/repos/sensors.ts';
import type * as P from '../../protocol/runtime.ts';
import type { BreakerStateName, CurvePoint, PlannedPoke, SensorDetail, SensorInstanceSummary, SensorPoke, SlaDeadline } from '../../protocol/webviews/sensor-values.ts';
import { InvalidParamsError, optBool, optInt, optStr, str } from './validate.ts';
import type { Params } from './validate.ts';

/** Most pokes a detail answers (the latest ones). */
export const MAX_POKES = 500;
/** Planned pokes shown ahead of a live sensor. */
export const PLANNED_POKES = 5;
/** Points of the strategy's curve at least (more when the sensor poked more). */
const MIN_CURVE = 12;
const MAX_CURVE = 200;

type InstanceJoinRow = SensorInstanceJoinRow;

/** A duration as people write them: 500ms, 30s, 1.5s, 5m, 1h30m, 2d. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '∞';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))}s`;
  const parts: string[] = [];
  let s = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join('');
}

/** A sentence describing an interval strategy. */
export function strategySentence(s: IntervalStrategy): string {
  const d = (v: Duration) => formatMs(durationMs(v, 'pokeInterval'));
  let text: string;
  switch (s.kind) {
    case 'fixed':
      text = `fixed: every ${d(s.interval)}`;
      break;
    case 'linear':
      text = `linear: from ${d(s.initial)}, +${d(s.step ?? s.initial)} per poke${s.maxWait === undefined ? '' : `, at most ${d(s.maxWait)}`}`;
      break;
    case 'exponential':
      text = `exponential: from ${d(s.initial)}, ×${s.multiplier ?? 2} per poke, at most ${d(s.maxWait)}`;
      break;
    case 'adaptive':
      text = `adaptive: average of the last ${s.window ?? 10} waits ÷ ${s.divisor ?? 4}, between ${d(s.base)} and ${d(s.max)}`;
      break;
    case 'custom':
      text = 'custom: a function of the poke count and history';
      break;
  }
  const j = s.jitter;
  if (j !== undefined) text += typeof j === 'string' ? `; ${j} jitter` : `; ±${Math.round(j.ratio * 100)}% jitter`;
  return text;
}

function live(row: InstanceJoinRow): boolean {
  if (row.outcome !== null) return false;
  if (row.run_state !== 'queued' && row.run_state !== 'running') return false;
  return row.state === null || !FINISHED_STATES.has(row.state);
}

export class SensorService {
  private readonly rt: () => Runtime;
  private readonly dag: (dagId: string) => Promise<DagSpec | undefined>;
  private readonly notFound: (message: string) => Error;

  /**
   * `dag` answers the loaded DAG (loading DAG files first if needed), or undefined if it is not loaded;
   * `notFound` makes the error for a sensor instance that does not exist (the server's NotFoundError).
   */
  constructor(rt: () => Runtime, dag: (dagId: string) => Promise<DagSpec | undefined>, notFound: (message: string) => Error) {
    this.rt = rt;
    this.dag = dag;
    this.notFound = notFound;
  }

  private async settings(dagId: string, taskId: string): Promise<SensorSettings | undefined> {
    try {
      const task = (await this.dag(dagId))?.tasks.get(taskId);
      return task ? sensorSettingsOf(task) : undefined;
    } catch {
      return undefined; // the DAG failed to load: the panel still shows what the store has
    }
  }

  private summary(row: InstanceJoinRow, s: SensorSettings | undefined, b: BreakerRow | undefined): SensorInstanceSummary {
    return {
      dagId: row.dag_id,
      runId: row.run_id,
      taskId: row.task_id,
      mapIndex: row.map_index,
      mode: s?.mode ?? row.last_mode,
      sensorType: s?.sensorType ?? null,
      strategy: row.last_strategy ?? (s ? describeStrategy(s.strategy) : null),
      taskState: row.state,
      outcome: row.outcome,
      live: live(row),
      pokes: row.pokes ?? 0,
      firstPokeMs: row.first_poke_ms,
      endedMs: row.ended_ms,
      waitMs: row.wait_ms,
      lastResult: row.last_result,
      lastPokeMs: row.last_poke_ms,
      breaker: (b?.state ?? 'closed') as BreakerStateName,
      logicalDate: row.logical_date,
    };
  }

  /** `sensor/instances`: sensor task instances, newest run first. */
  async instances(method: string, p: Params): Promise<P.SensorInstancesResult> {
    const rt = this.rt();
    const filter = { dagId: optStr(method, p, 'dagId'), runId: optStr(method, p, 'runId'), taskId: optStr(method, p, 'taskId') };
    const liveOnly = optBool(method, p, 'liveOnly') ?? false;
    const limit = optInt(method, p, 'limit', 1, 1000) ?? 200;
    const rows = await rt.store.sensors.sensorInstances(filter, liveOnly ? 1000 : limit);
    const settings = new Map<string, SensorSettings | undefined>();
    const breakers = new Map<string, BreakerRow | undefined>();
    const out: SensorInstanceSummary[] = [];
    for (const row of rows) {
      if (liveOnly && !live(row)) continue;
      const k = `${row.dag_id}\u0000${row.task_id}`;
      if (!settings.has(k)) settings.set(k, await this.settings(row.dag_id, row.task_id));
      if (!breakers.has(k)) breakers.set(k, await rt.store.sensors.getBreaker(row.dag_id, row.task_id));
      out.push(this.summary(row, settings.get(k), breakers.get(k)));
      if (out.length >= limit) break;
    }
    return { instances: out, nowMs: rt.clock.now() };
  }

  /** `sensor/detail`: everything the panel draws for one sensor instance. */
  async detail(method: string, p: Params): Promise<SensorDetail> {
    const rt = this.rt();
    const store = rt.store;
    const dagId = str(method, p, 'dagId');
    const runId = str(method, p, 'runId');
    const taskId = str(method, p, 'taskId');
    const mapIndex = optInt(method, p, 'mapIndex', -1) ?? -1;
    const key = { dagId, runId, taskId, mapIndex };
    const row = await store.sensors.sensorInstance(key);
    if (!row) {
      const ti = await store.tasks.get(dagId, runId, taskId, mapIndex);
      if (ti) throw new InvalidParamsError(`${method}: task "${taskId}" of DAG "${dagId}" is not a sensor (it is a ${ti.operator ?? 'task'})`);
      throw this.notFound(`Run "${runId}" of DAG "${dagId}" has no sensor "${taskId}"${mapIndex >= 0 ? ` [${mapIndex}]` : ''}`);
    }
    const s = await this.settings(dagId, taskId);
    const b = await store.sensors.getBreaker(dagId, taskId);
    const instance = this.summary(row, s, b);
    const nowMs = rt.clock.now();
    const notes: string[] = [];
    if (!s) notes.push(`DAG "${dagId}" is not loaded (or has no sensor "${taskId}" any more): no curve, plan or deadlines, only what was recorded.`);

    // The pokes of the instance's current life (a cleared sensor starts over).
    const first = row.first_poke_ms;
    const { total: totalPokes, latest: rows } = first === null ? { total: 0, latest: [] } : await store.sensors.pokesSince(key, first, MAX_POKES);
    const pokes: SensorPoke[] = rows.map((r) => ({
      pokeNumber: r.poke_number,
      tryNumber: r.try_number,
      mode: r.mode,
      atMs: r.poked_at_ms,
      durationMs: r.duration_ms,
      result: r.result,
      error: r.error,
      nextIntervalMs: r.next_interval_ms,
      strategy: r.strategy,
    }));

    const timeoutDeadlineMs = s && first !== null ? first + s.timeoutMs : null;
    const history = s?.strategy.kind === 'adaptive' ? await store.sensors.recentWaits(dagId, taskId, s.strategy.window ?? 10) : [];
    const last = pokes.at(-1);

    // The planned next pokes: the next one as the runtime scheduled it, then the strategy's base intervals up to the timeout.
    const planned: PlannedPoke[] = [];
    let plannedError: string | null = null;
    if (s && instance.live && last && (last.result === 'not_yet' || last.result === 'breaker_open' || last.result === 'error')) {
      const retryAt = row.next_try_at ? Date.parse(row.next_try_at) : NaN;
      let at =
        (row.state === 'up_for_reschedule' || row.state === 'up_for_retry') && Number.isFinite(retryAt)
          ? retryAt
          : last.result === 'error'
            ? NaN
            : last.atMs + Math.round(last.durationMs) + (last.nextIntervalMs ?? 0);
      if (Number.isFinite(at)) {
        let n = instance.pokes + 1;
        planned.push({ pokeNumber: n, atMs: at, intervalMs: Math.max(0, at - last.atMs - Math.round(last.durationMs)) });
        let previous = last.nextIntervalMs ?? undefined;
        try {
          while (planned.length < PLANNED_POKES && timeoutDeadlineMs !== null && at < timeoutDeadlineMs) {
            const base = baseInterval(s.strategy, { pokes: n, elapsedMs: at - first!, previousMs: previous, history: { recentWaitsMs: history } });
            const interval = Math.max(1, Math.min(base, timeoutDeadlineMs - at));
            at += interval;
            n += 1;
            previous = interval;
            planned.push({ pokeNumber: n, atMs: at, intervalMs: interval });
          }
        } catch (err) {
          plannedError = (err as Error).message;
        }
      }
    }

    // The strategy's curve: its interval before jitter after each poke, and the jitter band.
    const curve: CurvePoint[] = [];
    if (s) {
      const count = Math.min(MAX_CURVE, Math.max(MIN_CURVE, instance.pokes + planned.length));
      const chosen = new Map(pokes.map((x) => [x.pokeNumber, x]));
      let previous: number | undefined;
      try {
        for (let n = 1; n <= count; n++) {
          const actual = chosen.get(n);
          const elapsedMs = actual && first !== null ? actual.atMs - first : curve.reduce((a, c) => a + c.baseMs, 0);
          const info: IntervalInfo = { pokes: n, elapsedMs, previousMs: previous, history: { recentWaitsMs: history } };
          const base = baseInterval(s.strategy, info);
          const lo = applyJitter(s.strategy.jitter, base, s.strategy, previous, () => 0);
          const hi = applyJitter(s.strategy.jitter, base, s.strategy, previous, () => 1);
          curve.push({ poke: n, baseMs: Math.round(base), minMs: Math.max(1, Math.round(Math.min(lo, hi))), maxMs: Math.max(1, Math.round(Math.max(lo, hi))) });
          previous = actual?.nextIntervalMs ?? base;
        }
      } catch (err) {
        plannedError ??= (err as Error).message;
      }
    }
    if (plannedError) notes.push(`The strategy could not be evaluated here: ${plannedError}`);

    // SLA deadlines: each level from its anchor, with the misses the runtime recorded.
    const sla: SlaDeadline[] = [];
    const misses = await store.sensors.listSlaMisses({ dagId, runId, taskId });
    if (s?.sla) {
      const anchor =
        s.sla.relativeTo === 'logical_date'
          ? Date.parse(row.logical_date)
          : s.sla.relativeTo === 'data_interval_end'
            ? Date.parse(row.data_interval_end)
            : ((await store.sensors.getSlaAnchor(dagId, runId)) ?? null);
      if (anchor !== null && Number.isFinite(anchor)) {
        for (const l of s.sla.levels) {
          const miss = misses.find((m) => m.level === l.level);
          sla.push({ level: l.level, deadlineMs: miss?.deadline_ms ?? anchor + l.afterMs, missedMs: miss?.detected_ms ?? null });
        }
      }
    }
    for (const m of misses) if (!sla.some((x) => x.level === m.level)) sla.push({ level: m.level, deadlineMs: m.deadline_ms, missedMs: m.detected_ms });
    sla.sort((a, b) => a.deadlineMs - b.deadlineMs);

    const st = (await sensorStats(store, { dagId })).find((x) => x.taskId === taskId);
    return {
      instance,
      pokes,
      totalPokes,
      strategyText: s ? strategySentence(s.strategy) : null,
      curve,
      planned,
      timeoutMs: s?.timeoutMs ?? null,
      timeoutDeadlineMs,
      sla,
      slaRelativeTo: s?.sla?.relativeTo ?? null,
      breaker: {
        state: (b?.state ?? 'closed') as BreakerStateName,
        consecutiveErrors: b?.consecutive_errors ?? 0,
        openUntilMs: b?.open_until_ms ?? null,
        lastError: b?.last_error ?? null,
        openedCount: b?.opened_count ?? 0,
        threshold: s?.breaker?.threshold ?? null,
        coolDownMs: s?.breaker?.coolDownMs ?? null,
        whenOpen: s?.breaker?.whenOpen ?? null,
      },
      stats: st
        ? {
            instances: st.instances,
            waiting: st.waiting,
            successes: st.successes,
            timeouts: st.timeouts,
            failures: st.failures,
            skipped: st.skipped,
            successRate: st.successRate,
            timeoutRate: st.timeoutRate,
            avgWaitMs: st.avgWaitMs,
            p95WaitMs: st.p95WaitMs,
            pokes: st.pokes,
            pokeErrors: st.pokeErrors,
            pokesPerSuccess: st.pokesPerSuccess,
            avgPokeMs: st.avgPokeMs,
            slaMisses: st.slaMisses,
          }
        : null,
      note: notes.length ? notes.join(' ') : null,
      nowMs,
    };
  }
}

