/**
 * The hover of a task id in a DAG file, as markdown, without VS Code: the task's
 * settings from the runtime's last `dag/list` (kind, retries, pool, queue,
 * trigger rule, execution timeout), its last runs' states and durations (from
 * `grid/data`), and command links to the DAG's grid and graph.
 *
 * Everything that comes from a DAG file or the store (ids, kinds, states,
 * errors) is escaped: a task id such as `<img src=x>` or `**x**` shows as
 * text, never as markup. The extension trusts only the commands in
 * HOVER_COMMANDS (MarkdownString.isTrusted's enabledCommands).
 */
import type { TaskInfo } from '../../protocol/runtime.ts';
import { GRID_STATES, NO_TI } from '../../protocol/webviews/grid-values.ts';
import type { GridResult } from '../../protocol/webviews/grid-values.ts';

/** The only commands a hover's links may run. */
export const HOVER_COMMANDS = ['hangar.showGrid', 'hangar.showDagGraph'] as const;

/** How many of the newest runs a hover shows. */
export const HOVER_RUNS = 5;

export interface TaskRunCell {
  readonly runId: string;
  readonly logicalDate: string;
  /** The task instance's state; `none` before it has one; null when the run has no instance of it. */
  readonly state: string | null;
  /** Seconds (of the latest try), or null. */
  readonly duration: number | null;
  readonly tryNumber: number;
}

export interface TaskHoverInput {
  readonly dagId: string;
  readonly taskId: string;
  /** The task as last parsed; null: defined in the buffer, not parsed yet. */
  readonly task: TaskInfo | null;
  /** Newest first; null: not known (the runtime is not running, or the request failed: `runsError`). */
  readonly runs: readonly TaskRunCell[] | null;
  readonly runsError?: string;
}

/** Backslash-escapes every ASCII punctuation character (CommonMark) and flattens line breaks: text, never markup. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\r?\n|\r/g, ' ').replace(/[!-/:-@[-`{-~]/g, (c) => `\\${c}`);
}

/** A duration for people: `0.42 s`, `12 s`, `3 min 5 s`, `2 h 4 min`. */
export function formatSeconds(s: number): string {
  if (s < 10) return `${Math.round(s * 100) / 100} s`;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${Math.round(s % 60) ? ` ${Math.round(s % 60)} s` : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
}

/** A command link whose arguments are the DAG id (encoded: the id cannot break out of the link). */
function commandLink(
  label: string,
  command: (typeof HOVER_COMMANDS)[number],
  dagId: string,
  title: string,
): string {
  // encodeURIComponent leaves ( ) ' ! * alone: a `)` would end the link's target.
  const args = encodeURIComponent(JSON.stringify([dagId])).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `[${label}](command:${command}?${args} "${title.replace(/[^\w .-]/g, '')}")`;
}

/** The hover's markdown. */
export function taskHoverMarkdown(i: TaskHoverInput): string {
  const id = escapeMarkdown(i.taskId);
  const dag = escapeMarkdown(i.dagId);
  const lines: string[] = [];
  const t = i.task;
  lines.push(
    `**${id}** · ${t ? `${escapeMarkdown(t.kind)}${t.mapped ? ' \\(mapped\\)' : ''}${t.role ? ` · ${t.role}` : ''} task` : 'task \\(not parsed yet: save the file\\)'} of DAG **${dag}**`,
  );
  if (t) {
    const rows: [string, string][] = [
      ['retries', String(t.retries)],
      [
        'pool',
        t.pool === undefined
          ? ''
          : `${escapeMarkdown(t.pool)}${t.poolSlots !== undefined && t.poolSlots !== 1 ? ` \\(${t.poolSlots} slots\\)` : ''}`,
      ],
      ['queue', t.queue === undefined ? '' : escapeMarkdown(t.queue)],
      ['trigger rule', t.triggerRule === undefined ? '' : escapeMarkdown(t.triggerRule)],
      [
        'execution timeout',
        t.executionTimeout === undefined
          ? ''
          : t.executionTimeout === null
            ? 'none'
            : formatSeconds(t.executionTimeout),
      ],
    ];
    lines.push(
      '',
      rows
        .filter(([, v]) => v !== '')
        .map(([k, v]) => `${k}: ${v}`)
        .join(' · '),
    );
    if (t.upstream.length) lines.push('', `after: ${t.upstream.map(escapeMarkdown).join(', ')}`);
  }
  lines.push('');
  if (i.runs === null)
    lines.push(
      i.runsError
        ? `Last runs: not available \\(${escapeMarkdown(i.runsError)}\\)`
        : 'Last runs: not known until the runtime has started',
    );
  else if (i.runs.length === 0) lines.push('Last runs: none yet');
  else {
    lines.push(`Last ${i.runs.length} run${i.runs.length === 1 ? '' : 's'} \\(newest first\\):`, '');
    for (const r of i.runs) {
      const state = r.state === null ? 'not in this run' : r.state;
      const extra = [
        r.duration !== null ? formatSeconds(r.duration) : '',
        r.tryNumber > 1 ? `try ${r.tryNumber}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      lines.push(
        `- ${escapeMarkdown(r.logicalDate.replace(/\.000Z$/, 'Z'))}: **${escapeMarkdown(state)}**${extra ? ` \\(${escapeMarkdown(extra)}\\)` : ''}`,
      );
    }
  }
  lines.push(
    '',
    `${commandLink('$(table) Open in grid', 'hangar.showGrid', i.dagId, `Show DAG ${i.dagId} as a grid`)} · ${commandLink('$(type-hierarchy) Open graph', 'hangar.showDagGraph', i.dagId, `Show DAG ${i.dagId} as a graph`)}`,
  );
  return lines.join('\n');
}

/** A task's cells of a grid page (runs oldest → newest), newest first: the hover's last runs. */
export function taskRunsFromGrid(grid: GridResult, taskId: string): TaskRunCell[] {
  const row = grid.rows.findIndex((r) => r.taskId === taskId && r.mapIndex === null);
  const n = grid.runs.length;
  const out: TaskRunCell[] = [];
  for (let c = n - 1; c >= 0; c--) {
    const run = grid.runs[c]!;
    const cell = row < 0 ? -1 : row * n + c;
    const code = cell < 0 ? NO_TI : grid.states[cell]!;
    out.push({
      runId: run.runId,
      logicalDate: run.logicalDate,
      state: code === NO_TI ? null : (GRID_STATES[code] ?? 'none'),
      duration: cell < 0 ? null : (grid.durations[cell] ?? null),
      tryNumber: cell < 0 ? 0 : (grid.tries[cell] ?? 0),
    });
  }
  return out;
}
