/** What every CLI command shares: its context, errors and argument helpers. */
import { Runtime } from '../runtime.ts';
import { CliError, EXIT_CODES, UsageError } from './output.ts';
import type { ErrorCode, ErrorIds, Format } from './output.ts';
import { table } from './format.ts';

export { CliError, NotFoundError, UsageError } from './output.ts';

export interface Ctx {
  readonly args: string[];
  readonly values: Record<string, string | boolean | undefined>;
  /** -o table|json|yaml|plain (--json = -o json). */
  readonly format: Format;
  /** json or yaml: print data only (no progress, no prose). */
  readonly structured: boolean;
  readonly workspace: string;
  readonly out: (s: string) => void;
  /** The ids the command is about, added to its error in JSON mode. */
  readonly ids: ErrorIds;
  /** Set when the work failed (exit code ≠ 0 without an exception): reported on stderr in JSON mode. */
  failure?: CliError;
}

/** Records that the work failed (a run, an integrity check…) and returns its exit code. */
export function fail(
  ctx: Ctx,
  code: Exclude<ErrorCode, 'usage' | 'not_found'>,
  message: string,
  ids: ErrorIds = {},
): number {
  ctx.failure = new CliError(code, message, { ...ctx.ids, ...ids });
  return EXIT_CODES[code];
}

export function need(ctx: Ctx, index: number, what: string): string {
  const v = ctx.args[index];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

export function parseDate(text: string | undefined, what: string): Date | undefined {
  if (text === undefined) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text)
    ? `${text}T00:00:00Z`
    : /[zZ]|[+-]\d\d:?\d\d$/.test(text)
      ? text
      : `${text}Z`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()))
    throw new UsageError(`${what} "${text}" is not a date (use YYYY-MM-DD or an ISO 8601 time)`);
  return d;
}

export function intOption(ctx: Ctx, name: string): number | undefined {
  const v = ctx.values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, not "${String(v)}"`);
  return n;
}

export async function withRuntime<T>(ctx: Ctx, fn: (rt: Runtime) => Promise<T>, load = true): Promise<T> {
  const executor = ctx.values.executor as string | undefined;
  if (executor !== undefined && executor !== 'in-process' && executor !== 'isolated' && executor !== 'distributed') {
    throw new UsageError(`--executor must be "in-process", "isolated" or "distributed", not "${executor}"`);
  }
  const rt = await Runtime.open(ctx.workspace, { config: executor ? { executor } : {} });
  try {
    if (load) await rt.loadDags();
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/** A table as -o table (aligned, a rule under the header, state colours) or -o plain (no rule, no colours). */
export function printTable(
  ctx: Ctx,
  headers: string[],
  rows: (string | number | null | undefined)[][],
): void {
  ctx.out(table(headers, rows, ctx.format === 'plain'));
}
