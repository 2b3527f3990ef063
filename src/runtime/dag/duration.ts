/**
 * Durations in DAG definitions: a number of seconds (as Airflow's timedelta(seconds=…))
 * or a string such as '500ms', '30s', '5m', '1h30m', '2d'.
 */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${what}: ${value} is not a valid number of seconds`);
    return Math.round(value * 1000);
  }
  const text = value.trim();
  const re = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) {
    throw new Error(`${what}: "${value}" is not a duration (use seconds, or e.g. '30s', '5m', '1h30m')`);
  }
  return Math.round(total);
}
