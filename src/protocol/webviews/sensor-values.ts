/**
 * The values the sensor panel shows, as the runtime answers them
 * (`sensor/instances`, `sensor/detail` in src/protocol/runtime.ts) and the
 * panel's webview receives them. Plain JSON types only. Times are
 * milliseconds since the epoch on the runtime's clock; durations are milliseconds.
 */

export type SensorOutcome = 'success' | 'timeout' | 'failed' | 'skipped';
export type PokeResult = 'done' | 'not_yet' | 'error' | 'timeout' | 'breaker_open';
export type BreakerStateName = 'closed' | 'open' | 'half_open';

/** One sensor task instance (a sensor in one run, one map index), live or past. */
export interface SensorInstanceSummary {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  /** `poke` or `reschedule` (from the DAG, else from the last poke); null when unknown. */
  mode: string | null;
  /** `file`, `s3`, `custom`… null when the DAG is not loaded. */
  sensorType: string | null;
  /** The interval strategy's label (`exponential+equal-jitter`). */
  strategy: string | null;
  /** The task instance's state (null: not yet scheduled). */
  taskState: string | null;
  /** How the instance ended; null while it waits (or has not poked yet). */
  outcome: SensorOutcome | null;
  /** Still running or waiting: more pokes may come. */
  live: boolean;
  pokes: number;
  firstPokeMs: number | null;
  endedMs: number | null;
  waitMs: number | null;
  lastResult: PokeResult | null;
  lastPokeMs: number | null;
  /** The sensor's circuit breaker (shared by every run of the DAG). */
  breaker: BreakerStateName;
  /** The run's logical date (ISO). */
  logicalDate: string;
}

export interface SensorInstancesResult {
  instances: SensorInstanceSummary[];
  /** The runtime clock's time when answered. */
  nowMs: number;
}

export interface SensorPoke {
  pokeNumber: number;
  tryNumber: number;
  mode: string;
  /** When the poke started. */
  atMs: number;
  durationMs: number;
  result: PokeResult;
  error: string | null;
  /** The interval chosen after this poke (before the next one), already clamped to the timeout. */
  nextIntervalMs: number | null;
  strategy: string | null;
}

/** The strategy's curve at one poke number: its interval before jitter, and the band jitter may move it in. */
export interface CurvePoint {
  /** The poke after which this interval is waited (1 = between the first and the second poke). */
  poke: number;
  baseMs: number;
  minMs: number;
  maxMs: number;
}

export interface PlannedPoke {
  pokeNumber: number;
  atMs: number;
  /** The interval waited before it (the strategy's base interval, clamped to the timeout). */
  intervalMs: number;
}

export interface SlaDeadline {
  level: string;
  deadlineMs: number;
  /** The miss recorded by the runtime, if the sensor had not finished by then. */
  missedMs: number | null;
}

export interface BreakerInfo {
  state: BreakerStateName;
  consecutiveErrors: number;
  openUntilMs: number | null;
  lastError: string | null;
  openedCount: number;
  /** From the DAG (null when it has no breaker configured or is not loaded). */
  threshold: number | null;
  coolDownMs: number | null;
  whenOpen: string | null;
}

/** History of every instance of this sensor (same DAG, same task). */
export interface SensorHistoryStats {
  instances: number;
  waiting: number;
  successes: number;
  timeouts: number;
  failures: number;
  skipped: number;
  successRate: number | null;
  timeoutRate: number | null;
  avgWaitMs: number | null;
  p95WaitMs: number | null;
  pokes: number;
  pokeErrors: number;
  pokesPerSuccess: number | null;
  avgPokeMs: number | null;
  slaMisses: number;
}

export interface SensorDetail {
  instance: SensorInstanceSummary;
  /** The latest pokes, oldest first (at most 500; `totalPokes` says how many there are). */
  pokes: SensorPoke[];
  totalPokes: number;
  /** A sentence describing the strategy (`exponential from 1s ×2, at most 4s, equal jitter`). */
  strategyText: string | null;
  curve: CurvePoint[];
  planned: PlannedPoke[];
  timeoutMs: number | null;
  timeoutDeadlineMs: number | null;
  sla: SlaDeadline[];
  /** What the SLA deadlines are relative to (`run_start`, `logical_date`, `data_interval_end`). */
  slaRelativeTo: string | null;
  breaker: BreakerInfo;
  stats: SensorHistoryStats | null;
  /** Why the curve or plan is missing, if it is (the DAG is not loaded, a custom strategy threw…). */
  note: string | null;
  nowMs: number;
}
