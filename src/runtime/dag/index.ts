/**
 * Hangar's authoring API: what DAG files import as `hangar`.
 *
 * ```ts
 * import { dag } from 'hangar';
 * export const etl = dag({ id: 'etl', schedule: '@daily', startDate: '2024-01-01' });
 * const extract = etl.task('extract', async () => [1, 2, 3]);
 * etl.task('load', { inputs: { rows: extract } }, async (ctx, { rows }) => ctx.log.info(`${rows.length} rows`));
 * ```
 */
export { dag, Dag, DagDefinitionError } from './dag.ts';
export type { DagOptions, TaskDefinition, TaskGroup, TaskGroupDefinition } from './dag.ts';
export { TRIGGER_RULES } from './types.ts';
export { param } from './params.ts';
export { asset, allOf, anyOf } from './assets.ts';
export type { Asset, AssetConditionInput, AssetEvent } from './assets.ts';
export type { ParamFormat, ParamSchema, ParamType } from './params.ts';
export type {
  ConnectionInfo,
  DagCallback,
  DagCallbackContext,
  Input,
  Logger,
  Params,
  TaskCallback,
  TaskCallbackContext,
  TaskContext,
  TaskDefaults,
  TaskGroupOptions,
  TaskGroupRef,
  TaskOptions,
  TaskRef,
  TeardownOptions,
  TriggerRule,
  XComApi,
  XComArg,
  XComPullOptions,
  XComPushOptions,
} from './types.ts';
export type { Duration } from './duration.ts';
export { sensor, fileSensor, s3KeySensor, sftpSensor, dateTimeSensor, timeSensor, timeDeltaSensor, externalTaskSensor } from './sensors.ts';
export type * from './sensors.ts';
export { sftpSyncTasks } from './sync.ts';
export type { SftpSyncOptions, SftpSyncTasks, SyncCursor, SyncDag, SyncHealthReport, SyncSummary, SyncTransformerSpec } from './sync.ts';
