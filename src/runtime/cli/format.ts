import type { TaskState, RunState } from '../store/records.ts';

let colorOff = false;
/** -o plain: no colours anywhere (tables, progress lines). */
export function disableColor(): void {
  colorOff = true;
}
const useColor = () => !colorOff && process.stdout.isTTY && !process.env.NO_COLOR;

const COLORS: Record<string, number> = {
  success: 32,
  running: 36,
  failed: 31,
  upstream_failed: 33,
  up_for_retry: 33,
  up_for_reschedule: 36,
  skipped: 90,
  scheduled: 37,
  queued: 37,
  removed: 90,
};

export function colorState(state: TaskState | RunState | string | null): string {
  const text = state ?? 'none';
  const c = COLORS[text];
  return useColor() && c ? `\u001b[${c}m${text}\u001b[0m` : text;
}

export function visibleLength(s: string): number {
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/**
 * Aligned columns. `plain` follows Airflow's `-o plain` (tabulate's "plain" format,
 * airflow/cli/simple_table.py): the header and the rows, no rule, no colours.
 */
export function table(
  headers: string[],
  rows: (string | number | null | undefined)[][],
  plain = false,
): string {
  const cells = rows.map((r) =>
    r.map((c) => {
      const text = c === null || c === undefined ? '' : String(c);
      return plain ? text.replace(/\u001b\[[0-9;]*m/g, '') : text;
    }),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => visibleLength(r[i] ?? ''))));
  const line = (r: string[]) =>
    r
      .map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - visibleLength(c))))
      .join('  ')
      .trimEnd();
  // No header at all for a key/value listing (headers all empty).
  const head = headers.every((h) => h === '')
    ? []
    : plain
      ? [line(headers)]
      : [line(headers), line(widths.map((w) => '-'.repeat(w)))];
  return [...head, ...cells.map(line)].join('\n');
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(2)}s`;
  return `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}
