/**
 * `hangar assets list|events` (Airflow's `airflow assets list`, and the asset events of its
 * REST API): the assets DAG files declare or events named, which tasks produce them and which
 * DAGs they schedule, and the events recorded.
 */
import { assetLinks } from '../asset-graph.ts';
import { normalizeAssetUri } from '../dag/assets.ts';
import type { AssetEventRecord } from '../store/repos/assets.ts';
import { UsageError, need, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { limitOption } from './filters.ts';
import { emit } from './output.ts';
import { table } from './format.ts';

export const ASSETS_HELP = `  assets list                      Assets: the tasks that update them, the DAGs they schedule, events, pending runs
  assets events [--uri U] [--limit N]  Asset events, newest first (default: the last 100)
  assets update URI [--extra JSON] Record an asset event by hand (as a task's success would): DAGs scheduled on it react`;

export const ASSETS_OPTIONS = {
  uri: { type: 'string' },
  extra: { type: 'string' },
} as const;

function eventJson(e: AssetEventRecord) {
  return {
    id: Number(e.id),
    uri: e.uri,
    source_dag_id: e.source_dag_id,
    source_run_id: e.source_run_id,
    source_task_id: e.source_task_id,
    source_map_index: e.source_map_index === null ? null : Number(e.source_map_index),
    timestamp: e.timestamp,
    extra: JSON.parse(e.extra) as Record<string, unknown>,
  };
}

function assetUri(value: unknown, what: string): string {
  try {
    return normalizeAssetUri(value);
  } catch (err) {
    throw new UsageError(`${what} ${JSON.stringify(value)} is not an asset URI: ${(err as Error).message}`);
  }
}

export async function assetsCommand(ctx: Ctx): Promise<number> {
  const verb = need(ctx, 0, 'an assets command: list, events or update');
  if (verb !== 'list' && verb !== 'events' && verb !== 'update')
    throw new UsageError(`unknown assets command "${verb}" (list, events or update)`);
  const uri = ctx.values.uri !== undefined ? assetUri(ctx.values.uri, '--uri') : undefined;
  const limit = limitOption(ctx, 100)!;
  if (verb === 'update') {
    const target = assetUri(
      need(ctx, 1, 'the asset URI: hangar assets update URI [--extra JSON]'),
      'the asset',
    );
    let extra: Record<string, unknown> = {};
    if (ctx.values.extra !== undefined) {
      try {
        extra = JSON.parse(String(ctx.values.extra)) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`--extra is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
        throw new UsageError('--extra must be a JSON object');
    }
    return withRuntime(
      ctx,
      async (rt) => {
        // The DAGs are loaded first, so that the store knows which DAGs are scheduled on the asset.
        const at = new Date(rt.clock.now()).toISOString();
        await rt.store.sql.tx(() => rt.store.assets.recordEvents([target], null, at, { [target]: extra }));
        const event = eventJson((await rt.store.assets.events({ uri: target, limit: 1 }))[0]!);
        const queued = [...(await rt.store.assets.queuedByDag())]
          .filter(([, uris]) => uris.includes(target))
          .map(([dagId]) => dagId);
        emit(ctx, 'assets-update', { event, queued_for: queued }, () =>
          ctx.out(
            `Recorded an event of ${target}${queued.length ? `: queued for ${queued.join(', ')} (the scheduler creates their runs)` : ' (no DAG is scheduled on it)'}`,
          ),
        );
        return 0;
      },
      true,
    );
  }
  return withRuntime(
    ctx,
    async (rt) => {
      if (verb === 'list') {
        const links = assetLinks(rt.dagBag?.dags.values() ?? []).byAsset;
        const [stored, queued] = await Promise.all([rt.store.assets.list(), rt.store.assets.queuedByDag()]);
        const assets = stored.map((a) => {
          const l = links.get(a.uri);
          return {
            uri: a.uri,
            first_seen: a.created_at,
            producers: (l?.producers ?? []).map((p) => ({ dag_id: p.dagId, task_id: p.taskId })),
            consumers: [...(l?.consumers ?? [])].sort(),
            events: Number(a.events),
            last_event_at: a.last_event_at,
            queued_for: [...queued].filter(([, uris]) => uris.includes(a.uri)).map(([dagId]) => dagId),
          };
        });
        emit(ctx, 'assets-list', { assets }, () => {
          if (assets.length === 0) ctx.out("No assets (a task declares one with outlets: [asset('s3://…')])");
          else
            ctx.out(
              table(
                ['asset', 'updated by', 'schedules', 'events', 'last event', 'pending for'],
                assets.map((a) => [
                  a.uri,
                  a.producers.map((p) => `${p.dag_id}.${p.task_id}`).join(', '),
                  a.consumers.join(', '),
                  a.events,
                  a.last_event_at ?? '',
                  a.queued_for.join(', '),
                ]),
              ),
            );
        });
        return 0;
      }
      const rows = await rt.store.assets.events({ uri, limit });
      const events = rows.map(eventJson);
      emit(ctx, 'assets-events', { events }, () => {
        if (events.length === 0) ctx.out(uri ? `No events of ${uri}` : 'No asset events yet');
        else
          ctx.out(
            table(
              ['time', 'asset', 'source'],
              events.map((e) => [
                e.timestamp,
                e.uri,
                e.source_dag_id
                  ? `${e.source_dag_id}.${e.source_task_id}${e.source_map_index !== null && e.source_map_index >= 0 ? `[${e.source_map_index}]` : ''} (${e.source_run_id})`
                  : 'by hand',
              ]),
            ),
          );
      });
      return 0;
    },
    verb === 'list',
  );
}
