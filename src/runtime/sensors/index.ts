/**
 * Sensors: tasks whose body is a poke (see engine.ts), the built-in sensors,
 * the SLA observer and the statistics. Importing this module registers the
 * SLA observer with the run loop.
 */
import { SENSOR_IMPLEMENTATION } from '../dag/sensors.ts';
import type { SensorImplementation } from '../dag/sensors.ts';
import { registerRunObserver } from '../scheduler/observers.ts';
import { sensor } from './engine.ts';
import { externalTaskSensor } from './external.ts';
import { fileSensor } from './file.ts';
import { s3KeySensor } from './object-key.ts';
import { sftpSensor } from './sftp.ts';
import { slaObserver } from './sla.ts';
import { dateTimeSensor, timeDeltaSensor, timeSensor } from './time.ts';

registerRunObserver(slaObserver);

/** The authoring API's sensor functions (dag/sensors.ts) forward here. */
const implementation: SensorImplementation = {
  sensor: (dag, id, a, b) =>
    (sensor as (...args: unknown[]) => ReturnType<SensorImplementation['sensor']>)(dag, id, a, b),
  fileSensor: (dag, id, o) => fileSensor(dag as never, id, o),
  s3KeySensor: (dag, id, o) => s3KeySensor(dag as never, id, o),
  sftpSensor: (dag, id, o) => sftpSensor(dag as never, id, o),
  dateTimeSensor: (dag, id, o) => dateTimeSensor(dag as never, id, o),
  timeSensor: (dag, id, o) => timeSensor(dag as never, id, o),
  timeDeltaSensor: (dag, id, o) => timeDeltaSensor(dag as never, id, o),
  externalTaskSensor: (dag, id, o) => externalTaskSensor(dag as never, id, o),
};
(globalThis as Record<symbol, unknown>)[SENSOR_IMPLEMENTATION] = implementation;

export { fileSensor, findFiles } from './file.ts';
export { s3KeySensor, wildcardRegExp } from './object-key.ts';
export { sftpSensor } from './sftp.ts';
export { dateTimeSensor, timeSensor, timeDeltaSensor } from './time.ts';
export { externalTaskSensor } from './external.ts';
export { sensor, defineSensor, runSensor, SensorTimeoutError, DEFAULT_SENSOR_TIMEOUT_MS } from './engine.ts';
export { nextInterval, baseInterval, applyJitter, toStrategy, describeStrategy } from './intervals.ts';
export { breakerGate, breakerRecord } from './breaker.ts';
export type { BreakerRow, BreakerState, Gate } from './breaker.ts';
// The records themselves: `store.sensors` (src/runtime/store/repos/sensors.ts).
export type { InstanceRow, PokeRow, SlaMissRow } from '../store/repos/sensors.ts';
export { slaObserver, sensorSettingsOf } from './sla.ts';
export { sensorStats, percentile } from './stats.ts';
export type { SensorStats } from './stats.ts';
export { SENSORS_SCHEMA_SQL } from '../store/sensors-schema.ts';
export type * from './types.ts';
