/**
 * Rendered templates as read-only documents (`hangar-render:` scheme), without vscode so
 * they are unit-tested: the address (which task, for which date or run), the CodeLens
 * places (tasks with templated fields in a file), the date choices and the text shown.
 * The text comes from the runtime's `task/render`, whose values are already masked.
 */
import type { DagListResult, RunInfo, TaskRenderResult } from '../protocol/runtime.ts';

export const RENDER_SCHEME = 'hangar-render';

/** What a rendered-templates document shows: a task, for the next scheduled date, a date or a run. */
export interface RenderTarget {
  readonly dagId: string;
  readonly taskId: string;
  /** ISO date (absent with runId, or for the next scheduled date). */
  readonly logicalDate?: string;
  readonly runId?: string;
}

const segment = (s: string) => s.replace(/[/\\]/g, '_');

/** Path (the tab shows `<task> (<date or run>).rendered`) and query (the exact target) of a document. */
export function renderDocParts(t: RenderTarget): { path: string; query: string } {
  const q = new URLSearchParams({ dag: t.dagId, task: t.taskId });
  if (t.logicalDate) q.set('date', t.logicalDate);
  if (t.runId) q.set('run', t.runId);
  const when = t.runId ?? t.logicalDate ?? 'next';
  return {
    path: `/${segment(t.dagId)}/${segment(t.taskId)} (${segment(when)}).rendered`,
    query: q.toString(),
  };
}

/** The target of a document's query; throws for anything else. */
export function parseRenderDocQuery(query: string): RenderTarget {
  const q = new URLSearchParams(query);
  const dagId = q.get('dag');
  const taskId = q.get('task');
  if (!dagId || !taskId)
    throw new Error(`Not a Hangar rendered-templates address: ?${query} (needs dag and task)`);
  const date = q.get('date');
  const run = q.get('run');
  return { dagId, taskId, ...(date ? { logicalDate: date } : {}), ...(run ? { runId: run } : {}) };
}

/** Where to put "Render templates" CodeLenses in a file: each task with templated fields defined there (0-based line). */
export function renderLensesForFile(
  list: DagListResult | undefined,
  file: string,
): { dagId: string; taskId: string; line: number }[] {
  if (!list) return [];
  const out: { dagId: string; taskId: string; line: number }[] = [];
  for (const d of list.dags) {
    for (const t of d.tasks) {
      if (t.templated && t.position?.file === file)
        out.push({ dagId: d.dagId, taskId: t.taskId, line: Math.max(0, t.position.line - 1) });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

export type DateChoice =
  | { readonly kind: 'next'; readonly label: string; readonly description: string }
  | { readonly kind: 'run'; readonly label: string; readonly description: string; readonly runId: string }
  | { readonly kind: 'enter'; readonly label: string; readonly description: string };

/** The quick pick's choices: the next scheduled date first (the default), the DAG's last runs by logical date, then "Enter a date…". */
export function dateChoices(dagId: string, runs: readonly RunInfo[], limit = 10): DateChoice[] {
  const past = runs
    .filter((r) => r.dagId === dagId)
    .sort((a, b) => b.logicalDate.localeCompare(a.logicalDate))
    .slice(0, limit);
  return [
    {
      kind: 'next',
      label: 'Next scheduled run',
      description: 'the logical date the scheduler would run next (now, for an unscheduled DAG)',
    },
    ...past.map((r): DateChoice => ({
      kind: 'run',
      label: r.logicalDate,
      description: `${r.runType} run ${r.runId} · ${r.state}${Object.keys(r.conf).length ? ' · with conf' : ''}`,
      runId: r.runId,
    })),
    {
      kind: 'enter',
      label: 'Enter a date…',
      description: 'a logical date like 2024-01-31 or 2024-01-31T06:00:00Z',
    },
  ];
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
}

/** The document's text: where the date came from, then each field (Airflow's `# property:` blocks) with its rendered value. */
export function renderedText(r: TaskRenderResult): string {
  const from = {
    run: `run ${r.runId}`,
    date: 'the date chosen',
    next: 'the next scheduled run',
    now: 'now (the DAG has no next scheduled run)',
  }[r.source];
  const lines = [
    `# ${r.dagId}.${r.taskId}: rendered templates`,
    `# logical date ${r.logicalDate} (${from}); data interval ${r.dataIntervalStart} → ${r.dataIntervalEnd}`,
    `# run ${r.runId}${Object.keys(r.conf).length ? `, conf ${JSON.stringify(r.conf)}` : ''}`,
    '# secrets (connection passwords, secret-looking variables) are shown as ***',
    '',
  ];
  if (r.fields.length === 0)
    lines.push(`${r.taskId} has no templated fields${r.mapNote ? ' known yet' : ''}.`, '');
  for (const f of r.fields) {
    lines.push(`# ----------------------------------------------------------`);
    lines.push(`# ${f.field}${f.mapIndex >= 0 ? ` [map index ${f.mapIndex}]` : ''}`);
    lines.push(`#   template: ${show(f.template).split('\n').join('\n#   ')}`);
    lines.push(`# ----------------------------------------------------------`);
    lines.push(show(f.rendered), '');
  }
  if (r.mapNote) lines.push(`# note: ${r.mapNote}`, '');
  for (const x of r.xcomInputs)
    lines.push(`# input ${x.name}: the XCom "${x.key}" of task "${x.taskId}" (known when it runs)`);
  return lines.join('\n').trimEnd() + '\n';
}
