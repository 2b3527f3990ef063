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
import { nowIso } from '../store/store.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerConfig {
  readonly threshold: number;
  readonly coolDownMs: number;
}

export interface BreakerRow {
  dag_id: string;
  task_id: string;
  state: BreakerState;
  consecutive_errors: number;
  open_until_ms: number | null;
  probe_started_ms: number | null;
  last_error: string | null;
  opened_count: number;
  updated_at: string;
}

export type Gate =
  | { readonly kind: 'closed' }
  | { readonly kind: 'probe' }
  | { readonly kind: 'open'; readonly untilMs: number; readonly lastError: string | null };

export function getBreaker(store: Store, dagId: string, taskId: string): BreakerRow | undefined {
  return store.stmt('SELECT * FROM sensor_breakers WHERE dag_id = ? AND task_id = ?').get(dagId, taskId) as
    BreakerRow | undefined;
}

/** May this poke go through? Moves open → half_open when the cool-down is over (this poke is the probe). */
export function breakerGate(
  store: Store,
  dagId: string,
  taskId: string,
  nowMs: number,
  cfg: BreakerConfig,
): Gate {
  return store.tx(() => {
    const row = getBreaker(store, dagId, taskId);
    if (!row || row.state === 'closed') return { kind: 'closed' };
    if (row.state === 'open' && nowMs < (row.open_until_ms ?? 0))
      return { kind: 'open', untilMs: row.open_until_ms ?? nowMs, lastError: row.last_error };
    if (
      row.state === 'half_open' &&
      row.probe_started_ms !== null &&
      nowMs - row.probe_started_ms < cfg.coolDownMs
    ) {
      // Another poke is the probe; wait for its verdict.
      return { kind: 'open', untilMs: row.probe_started_ms + cfg.coolDownMs, lastError: row.last_error };
    }
    store
      .stmt(
        "UPDATE sensor_breakers SET state = 'half_open', probe_started_ms = ?, updated_at = ? WHERE dag_id = ? AND task_id = ?",
      )
      .run(nowMs, nowIso(), dagId, taskId);
    return { kind: 'probe' };
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
): 'opened' | 'reopened' | 'closed' | undefined {
  return store.tx(() => {
    const row = getBreaker(store, dagId, taskId);
    if (error === null) {
      if (!row || (row.state === 'closed' && row.consecutive_errors === 0)) return undefined;
      store
        .stmt(
          "UPDATE sensor_breakers SET state = 'closed', consecutive_errors = 0, open_until_ms = NULL, probe_started_ms = NULL, updated_at = ? WHERE dag_id = ? AND task_id = ?",
        )
        .run(nowIso(), dagId, taskId);
      return row.state === 'closed' ? undefined : 'closed';
    }
    const errors = (row?.consecutive_errors ?? 0) + 1;
    const wasProbe = row?.state === 'half_open';
    const opens = wasProbe || (row?.state !== 'open' && errors >= cfg.threshold);
    const state: BreakerState = opens ? 'open' : (row?.state ?? 'closed');
    store
      .stmt(
        `INSERT INTO sensor_breakers (dag_id, task_id, state, consecutive_errors, open_until_ms, probe_started_ms, last_error, opened_count, updated_at)
         VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)
         ON CONFLICT (dag_id, task_id) DO UPDATE SET state = excluded.state, consecutive_errors = excluded.consecutive_errors,
           open_until_ms = excluded.open_until_ms, probe_started_ms = NULL, last_error = excluded.last_error,
           opened_count = excluded.opened_count, updated_at = excluded.updated_at`,
      )
      .run(
        dagId,
        taskId,
        state,
        errors,
        opens ? nowMs + cfg.coolDownMs : (row?.open_until_ms ?? null),
        error.slice(0, 2000),
        (row?.opened_count ?? 0) + (opens ? 1 : 0),
        nowIso(),
      );
    return opens ? (wasProbe ? 'reopened' : 'opened') : undefined;
  });
}
