/**
 * Per-sensor statistics from the recorded pokes and instances
 * (`hangar sensors stats`, the extension's sensor panel).
 *
 * - success rate: successful instances / finished instances
 * - wait: first poke → done, of successful instances (average and p95, nearest rank)
 * - timeout frequency: timed-out instances / finished instances
 * - pokes per success: every poke of the sensor (errors and not-yet included) / successful instances
 */
import type { Store } from '../store/store.ts';

export interface SensorStats {
  readonly dagId: string;
  readonly taskId: string;
  /** Sensor instances (one per run, per map index). */
  readonly instances: number;
  readonly waiting: number;
  readonly successes: number;
  readonly timeouts: number;
  readonly failures: number;
  readonly skipped: number;
  readonly successRate: number | null;
  readonly timeoutRate: number | null;
  readonly avgWaitMs: number | null;
  readonly p95WaitMs: number | null;
  readonly pokes: number;
  readonly pokeErrors: number;
  readonly pokesPerSuccess: number | null;
  readonly avgPokeMs: number | null;
  readonly breaker: string;
  readonly slaMisses: number;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export async function sensorStats(store: Store, filter: { dagId?: string } = {}): Promise<SensorStats[]> {
  const { instances, pokes, misses, breakers } = await store.sensors.statsRows(filter.dagId);
  const keyOf = (d: string, t: string) => `${d}\u0000${t}`;
  const groups = new Map<string, { dagId: string; taskId: string; rows: typeof instances }>();
  for (const r of instances) {
    const k = keyOf(r.dag_id, r.task_id);
    if (!groups.has(k)) groups.set(k, { dagId: r.dag_id, taskId: r.task_id, rows: [] });
    groups.get(k)!.rows.push(r);
  }
  for (const p of pokes) {
    const k = keyOf(p.dag_id, p.task_id);
    if (!groups.has(k)) groups.set(k, { dagId: p.dag_id, taskId: p.task_id, rows: [] });
  }
  const pokesBy = new Map(pokes.map((p) => [keyOf(p.dag_id, p.task_id), p]));
  const missesBy = new Map(misses.map((m) => [keyOf(m.dag_id, m.task_id), m.n]));
  const breakersBy = new Map(breakers.map((b) => [keyOf(b.dag_id, b.task_id), b]));
  const out: SensorStats[] = [];
  for (const [k, g] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const count = (o: string) => g.rows.filter((r) => r.outcome === o).length;
    const successes = count('success');
    const timeouts = count('timeout');
    const failures = count('failed');
    const skipped = count('skipped');
    const finished = successes + timeouts + failures + skipped;
    const waits = g.rows
      .filter((r) => r.outcome === 'success' && r.wait_ms !== null)
      .map((r) => r.wait_ms!)
      .sort((a, b) => a - b);
    const p = pokesBy.get(k);
    const b = breakersBy.get(k);
    out.push({
      dagId: g.dagId,
      taskId: g.taskId,
      instances: g.rows.length,
      waiting: g.rows.length - finished,
      successes,
      timeouts,
      failures,
      skipped,
      successRate: finished ? successes / finished : null,
      timeoutRate: finished ? timeouts / finished : null,
      avgWaitMs: waits.length ? waits.reduce((a, c) => a + c, 0) / waits.length : null,
      p95WaitMs: percentile(waits, 95),
      pokes: p?.n ?? 0,
      pokeErrors: Number(p?.errors ?? 0),
      pokesPerSuccess: successes ? (p?.n ?? 0) / successes : null,
      avgPokeMs: p?.avg_ms ?? null,
      breaker: b ? `${b.state}${b.consecutive_errors ? ` (${b.consecutive_errors} errors)` : ''}` : 'closed',
      slaMisses: missesBy.get(k) ?? 0,
    });
  }
  return out;
}
