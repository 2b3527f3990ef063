/** Filters of the list verbs: `runs --dag --state --since --limit --run-type`, and the shared --limit check. */
import { durationMs } from '../dag/duration.ts';
import type { Store } from '../store/index.ts';
import type { DagRunRecord, RunState, RunType } from '../store/records.ts';
import { UsageError } from './output.ts';
import type { Ctx } from './common.ts';

export const RUNS_HELP = `  runs [--dag DAG] [--state S] [--since 7d] [--limit N] [--run-type T]
                                   Recent runs, newest first (default: the last 50)`;

const RUN_STATES: readonly RunState[] = ['queued', 'running', 'success', 'failed'];
const RUN_TYPES: readonly RunType[] = ['manual', 'scheduled', 'backfill', 'test', 'asset_triggered'];

/** --limit N: a whole number ≥ 1. */
export function limitOption(ctx: Ctx, fallback?: number): number | undefined {
  const v = ctx.values.limit;
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\s*-?\d+\s*$/.test(v) || !Number.isInteger(n) || n < 1)
    throw new UsageError(`--limit must be a whole number of at least 1, not "${String(v)}"`);
  return n;
}

function oneOf<T extends string>(ctx: Ctx, name: string, allowed: readonly T[]): T | undefined {
  const v = ctx.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${String(v)}"`);
  return v as T;
}

/** --since 7d|12h|30m|90s (or a number of seconds): runs whose logical date or start is that recent. */
export function sinceOption(ctx: Ctx, now = Date.now()): Date | undefined {
  const v = ctx.values.since;
  if (v === undefined) return undefined;
  let ms: number;
  try {
    if (typeof v !== 'string' || v.trim() === '') throw new Error('empty');
    ms = durationMs(/^\d+(\.\d+)?$/.test(v) ? Number(v) : v, '--since');
  } catch {
    throw new UsageError(`--since must be a duration such as 7d, 12h, 30m or 90s, not "${String(v)}"`);
  }
  return new Date(now - ms);
}

export function runFilters(ctx: Ctx) {
  const dagId = ctx.values.dag as string | undefined;
  if (dagId !== undefined) ctx.ids.dag_id = dagId;
  const state = oneOf(ctx, 'state', RUN_STATES);
  const runType = oneOf(ctx, 'run-type', RUN_TYPES);
  const since = sinceOption(ctx);
  const limit = limitOption(ctx, 50)!;
  return {
    async apply(store: Store): Promise<DagRunRecord[]> {
      // The store orders by creation, newest first; the other filters are applied here, then the limit.
      const filtered = since !== undefined || runType !== undefined;
      const rows = await store.runs.list({ dagId, state, limit: filtered ? 1_000_000 : limit });
      return rows
        .filter((r) => runType === undefined || r.run_type === runType)
        .filter(
          (r) =>
            since === undefined ||
            Date.parse(r.start_date ?? r.queued_at ?? r.logical_date) >= since.getTime(),
        )
        .slice(0, limit);
    },
  };
}
