/**
 * `hangar sensors stats [DAG] [--json]`: per sensor, from the recorded pokes —
 * success rate, average and p95 wait, timeout frequency, pokes per success.
 */
import { sensorStats } from '../sensors/index.ts';
import type { SensorStats } from '../sensors/index.ts';
import { NotFoundError, UsageError, need, withRuntime } from './common.ts';
import { emit } from './output.ts';
import type { Ctx } from './common.ts';
import { table } from './format.ts';

export const SENSORS_HELP = `  sensors stats [DAG]              Per sensor: success rate, avg/p95 wait, timeouts, pokes per success`;

function pct(x: number | null): string {
  return x === null ? '' : `${(x * 100).toFixed(1)}%`;
}

function secs(ms: number | null): string {
  if (ms === null) return '';
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)}s` : s < 7200 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`;
}

export function formatSensorStats(stats: readonly SensorStats[], plain = false): string {
  return table(
    [
      'dag',
      'sensor',
      'runs',
      'success',
      'avg wait',
      'p95 wait',
      'timeouts',
      'pokes/success',
      'errors',
      'breaker',
      'sla misses',
    ],
    stats.map((s) => [
      s.dagId,
      s.taskId,
      `${s.instances}${s.waiting ? ` (${s.waiting} waiting)` : ''}`,
      pct(s.successRate),
      secs(s.avgWaitMs),
      secs(s.p95WaitMs),
      s.timeoutRate === null ? '' : `${s.timeouts} (${pct(s.timeoutRate)})`,
      s.pokesPerSuccess === null ? '' : s.pokesPerSuccess.toFixed(1),
      s.pokeErrors,
      s.breaker,
      s.slaMisses,
    ]),
    plain,
  );
}

export async function sensorsCommand(ctx: Ctx): Promise<number> {
  const sub = need(ctx, 0, 'a subcommand: hangar sensors stats [DAG]');
  if (sub !== 'stats') throw new UsageError(`unknown sensors subcommand "${sub}" (stats)`);
  const dagId = ctx.args[1] ?? (ctx.values.dag as string | undefined);
  if (dagId !== undefined) ctx.ids.dag_id = dagId;
  return withRuntime(
    ctx,
    async (rt) => {
      if (dagId !== undefined && !(await rt.store.dags.list()).some((d) => d.dag_id === dagId)) {
        throw new NotFoundError(`No DAG "${dagId}" in the store of ${rt.config.root}`);
      }
      const stats = await sensorStats(rt.store, { dagId });
      const sec = (ms: number | null) => (ms === null ? null : ms / 1000);
      const doc = stats.map((s) => ({
        dag_id: s.dagId,
        task_id: s.taskId,
        instances: s.instances,
        waiting: s.waiting,
        successes: s.successes,
        timeouts: s.timeouts,
        failures: s.failures,
        skipped: s.skipped,
        success_rate: s.successRate,
        timeout_rate: s.timeoutRate,
        avg_wait: sec(s.avgWaitMs),
        p95_wait: sec(s.p95WaitMs),
        pokes: s.pokes,
        poke_errors: s.pokeErrors,
        pokes_per_success: s.pokesPerSuccess,
        avg_poke: sec(s.avgPokeMs),
        breaker: s.breaker,
        sla_misses: s.slaMisses,
      }));
      emit(ctx, 'sensors-stats', doc, () => {
        if (stats.length === 0) ctx.out(`No sensor pokes recorded${dagId ? ` for DAG "${dagId}"` : ''} yet`);
        else ctx.out(formatSensorStats(stats, ctx.format === 'plain'));
      });
      return 0;
    },
    false,
  );
}
