/**
 * Which DAGs produce and consume which assets, from the DAGs' plain data (a live Dag or a
 * serialized DagSpec): what the store records at each load, what `hangar assets list` and the
 * editor's DAG tree show (Airflow's DAG dependencies view).
 */
import { conditionUris } from './dag/assets.ts';
import type { ScheduleSpec } from './dag/schedule.ts';

export interface AssetDagData {
  readonly id: string;
  readonly scheduleSpec: ScheduleSpec;
  readonly tasks: ReadonlyMap<string, { readonly id: string; readonly outlets: readonly string[] }>;
}

/** The URIs a DAG is scheduled on (empty unless its schedule is assets). */
export function scheduledAssets(dag: Pick<AssetDagData, 'scheduleSpec'>): string[] {
  return dag.scheduleSpec.kind === 'assets' ? conditionUris(dag.scheduleSpec.condition) : [];
}

/** The URIs a DAG's tasks update. */
export function producedAssets(dag: AssetDagData): string[] {
  const out: string[] = [];
  for (const t of dag.tasks.values()) for (const u of t.outlets) if (!out.includes(u)) out.push(u);
  return out;
}

/** Every asset the DAGs name, and DAG id → the assets it is scheduled on (for AssetRepository.syncDeclared). */
export function declaredAssets(dags: Iterable<AssetDagData>): [string[], Map<string, string[]>] {
  const all: string[] = [];
  const scheduled = new Map<string, string[]>();
  for (const d of dags) {
    const consumed = scheduledAssets(d);
    scheduled.set(d.id, consumed);
    for (const u of [...producedAssets(d), ...consumed]) if (!all.includes(u)) all.push(u);
  }
  return [all, scheduled];
}

export interface AssetLinks {
  /** Asset URI → the producing tasks (`dag.task`) and the consuming DAGs. */
  readonly byAsset: Map<string, { producers: { dagId: string; taskId: string }[]; consumers: string[] }>;
}

/** Producers and consumers per asset. */
export function assetLinks(dags: Iterable<AssetDagData>): AssetLinks {
  const byAsset: AssetLinks['byAsset'] = new Map();
  const entry = (uri: string) => {
    let e = byAsset.get(uri);
    if (!e) byAsset.set(uri, (e = { producers: [], consumers: [] }));
    return e;
  };
  for (const d of dags) {
    for (const t of d.tasks.values())
      for (const u of t.outlets) entry(u).producers.push({ dagId: d.id, taskId: t.id });
    for (const u of scheduledAssets(d)) entry(u).consumers.push(d.id);
  }
  return { byAsset };
}

/** The DAGs whose tasks update an asset this DAG is scheduled on (which DAGs feed it). */
export function feedingDags(dag: Pick<AssetDagData, 'scheduleSpec'>, links: AssetLinks): string[] {
  const out: string[] = [];
  for (const u of scheduledAssets(dag))
    for (const p of links.byAsset.get(u)?.producers ?? []) if (!out.includes(p.dagId)) out.push(p.dagId);
  return out;
}
