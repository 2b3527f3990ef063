/**
 * The circuit breaker of a sensor, persisted per (DAG, task) and so shared by
 * every run of the DAG (and by every runtime on the same store).
 *
 *   closed ──N consecutive poke errors──► open ──cool-down over──► half_open (one probe)
 *     ▲                                    ▲                          │
 *     └────────── probe succeeds ──────────┼──────────────────────────┤
 *                                          └────── probe errors ──────┘
 *
 * "Not yet" results are not errors: they keep the breaker closed. Transitions
 * are guarded updates in one transaction, so two runs cannot both take the
 * half-open probe. A probe whose process died is presumed lost after one
 * more cool-down and another is let through.
 */
import type { Store } from '../store/store.ts';
import type { BreakerRow, BreakerState } from '../store/repos/sensors.ts';

export type { BreakerRow, BreakerState } from '../store/repos/sensors.ts';

export interface BreakerConfig {
  readonly threshold: number;
  readonly coolDownMs: number;
}

export type Gate =
  | { readonly kind: 'closed' }
  | { readonly kind: 'probe' }
  | { readonly kind: 'open'; readonly untilMs: number; readonly lastError: string | null };

/** May this poke go through? Moves open → half_open when the cool-down is over (this poke is the probe). */
export function breakerGate(
  store: Store,
  dagId: string,
  taskId: string,
  nowMs: number,
  cfg: BreakerConfig,
): Promise<Gate> {
  return store.sensors.breakerTransition<Gate>(dagId, taskId, (row) => {
    if (!row || row.state === 'closed') return { result: { kind: 'closed' } };
    if (row.state === 'open' && nowMs < (row.open_until_ms ?? 0))
      return { result: { kind: 'open', untilMs: row.open_until_ms ?? nowMs, lastError: row.last_error } };
    if (
      row.state === 'half_open' &&
      row.probe_started_ms !== null &&
      nowMs - row.probe_started_ms < cfg.coolDownMs
    ) {
      // Another poke is the probe; wait for its verdict.
      return { result: { kind: 'open', untilMs: row.probe_started_ms + cfg.coolDownMs, lastError: row.last_error } };
    }
    return { result: { kind: 'probe' }, write: { ...fields(row), state: 'half_open', probe_started_ms: nowMs } };
  });
}

/** Records a poke's verdict; returns the transition it caused, if any. */
export function breakerRecord(
  store: Store,
  dagId: string,
  taskId: string,
  nowMs: number,
  cfg: BreakerConfig,
  error: string | null,
): Promise<'opened' | 'reopened' | 'closed' | undefined> {
  return store.sensors.breakerTransition<'opened' | 'reopened' | 'closed' | undefined>(
    dagId,
    taskId,
    (row) => {
      if (error === null) {
        if (!row || (row.state === 'closed' && row.consecutive_errors === 0)) return { result: undefined };
        return {
          result: row.state === 'closed' ? undefined : 'closed',
          write: { ...fields(row), state: 'closed', consecutive_errors: 0, open_until_ms: null, probe_started_ms: null },
        };
      }
      const errors = (row?.consecutive_errors ?? 0) + 1;
      const wasProbe = row?.state === 'half_open';
      const opens = wasProbe || (row?.state !== 'open' && errors >= cfg.threshold);
      const state: BreakerState = opens ? 'open' : (row?.state ?? 'closed');
      return {
        result: opens ? (wasProbe ? 'reopened' : 'opened') : undefined,
        write: {
          state,
          consecutive_errors: errors,
          open_until_ms: opens ? nowMs + cfg.coolDownMs : (row?.open_until_ms ?? null),
          probe_started_ms: null,
          last_error: error.slice(0, 2000),
          opened_count: (row?.opened_count ?? 0) + (opens ? 1 : 0),
        },
      };
    },
    error !== null,
  );
}

function fields(row: BreakerRow) {
  const { dag_id: _d, task_id: _t, updated_at: _u, ...rest } = row;
  return rest;
}
