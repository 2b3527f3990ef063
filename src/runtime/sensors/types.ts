/** Internal sensor types; the public ones live in the authoring API (dag/sensors.ts). */
import type { IntervalStrategy, SensorMode, SensorOptions } from '../dag/sensors.ts';

export type * from '../dag/sensors.ts';

/** What the engine keeps in `TaskDefinition.extra.sensor` (read by the SLA observer and tools). */
export interface SensorSettings {
  readonly mode: SensorMode;
  readonly strategy: IntervalStrategy;
  readonly timeoutMs: number;
  readonly softFail: boolean;
  readonly retryOnTimeout: boolean;
  readonly pokeTimeoutMs: number | undefined;
  readonly breaker:
    | { readonly threshold: number; readonly coolDownMs: number; readonly whenOpen: 'fail' | 'reschedule' }
    | undefined;
  readonly sla:
    | {
        readonly relativeTo: 'run_start' | 'logical_date' | 'data_interval_end';
        readonly levels: readonly { readonly afterMs: number; readonly level: string }[];
      }
    | undefined;
  readonly onSlaMiss: SensorOptions['onSlaMiss'];
  /** What kind of built-in sensor (file, s3, sftp, time, external) or `custom`. */
  readonly sensorType: string;
  /** A description for listings (path, key…), never a secret. */
  readonly target?: string;
}
