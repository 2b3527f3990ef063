/**
 * FileSensor: a path or glob (templated), a minimum size, and an optional
 * "stable for N seconds" check so that a file still being written is not taken.
 * Stability is judged on size + mtime seen at successive pokes (kept in the
 * instance's memo, so it works in reschedule mode and across restarts).
 */
import { glob, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { callerPosition } from '../dag/position.ts';
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import { durationMs } from '../dag/duration.ts';
import type { TaskRef } from '../dag/types.ts';
import { defineSensor } from './engine.ts';
import type { FileSensorOptions, PokeContext, PokeReturnValue } from './types.ts';

export interface FileMatch {
  path: string;
  size: number;
  mtime: string;
}

export const hasGlob = (p: string): boolean => /[*?[]/.test(p);

/** Matching regular files, sorted by path. */
export async function findFiles(pattern: string): Promise<FileMatch[]> {
  const paths: string[] = [];
  if (hasGlob(pattern)) {
    for await (const p of glob(pattern)) paths.push(p);
  } else paths.push(pattern);
  const out: FileMatch[] = [];
  for (const p of paths.sort()) {
    try {
      const s = await stat(p);
      if (s.isFile()) out.push({ path: p, size: s.size, mtime: s.mtime.toISOString() });
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code !== 'ENOENT' &&
        (err as NodeJS.ErrnoException).code !== 'ENOTDIR'
      )
        throw err;
    }
  }
  return out;
}

type Seen = Record<string, { sig: string; since: number }>;

/**
 * Applies minSize and the stability check to candidates; returns those taken.
 * `memo` keeps, per path, the size+mtime signature and when it was first seen.
 */
export function stableMatches<M extends { size: number; mtime: string }>(
  ctx: PokeContext,
  candidates: M[],
  key: (m: M) => string,
  minSize: number,
  stableMs: number | undefined,
): { taken: M[]; wakeAt?: number } {
  const big = candidates.filter((m) => m.size >= minSize);
  if (stableMs === undefined || stableMs === 0) return { taken: big };
  const now = ctx.now();
  const before = ctx.memo.get<Seen>() ?? {};
  const seen: Seen = {};
  const taken: M[] = [];
  let wakeAt: number | undefined;
  for (const m of big) {
    const sig = `${m.size}:${m.mtime}`;
    const prev = before[key(m)];
    const since = prev && prev.sig === sig ? prev.since : now;
    seen[key(m)] = { sig, since };
    if (now - since >= stableMs) taken.push(m);
    else wakeAt = Math.min(wakeAt ?? Infinity, since + stableMs);
  }
  ctx.memo.set(seen);
  return { taken, wakeAt };
}

export function fileSensor(dag: Dag<any>, id: string, options: FileSensorOptions): TaskRef<FileMatch[]> {
  const position = callerPosition();
  const what = `FileSensor "${String(id)}" of DAG "${dag?.id}"`;
  if (!options || typeof options.path !== 'string' || options.path === '')
    throw new DagDefinitionError(`${what} needs a path`, position, dag?.id);
  const minSize = options.minSize ?? 0;
  if (!(minSize >= 0)) throw new DagDefinitionError(`${what}: minSize must be ≥ 0`, position, dag?.id);
  let stableMs: number | undefined;
  try {
    stableMs =
      options.stableFor === undefined ? undefined : durationMs(options.stableFor, `${what} stableFor`);
  } catch (err) {
    throw new DagDefinitionError((err as Error).message, position, dag?.id);
  }
  const poke = async (ctx: PokeContext): Promise<PokeReturnValue<FileMatch[]>> => {
    const rendered = ctx.render(options.path);
    const pattern = isAbsolute(rendered) ? rendered : join(ctx.workspace, rendered);
    const { taken, wakeAt } = stableMatches(ctx, await findFiles(pattern), (m) => m.path, minSize, stableMs);
    if (taken.length > 0) {
      ctx.log.info(
        `Found ${taken.length} file(s) for ${pattern}: ${taken.map((m) => `${m.path} (${m.size} B)`).join(', ')}`,
      );
      return { done: true, value: taken };
    }
    ctx.log.info(
      `No file ready for ${pattern}${minSize ? ` (min size ${minSize} B)` : ''}${stableMs ? ` (stable for ${stableMs / 1000}s)` : ''}`,
    );
    return { done: false, wakeAt };
  };
  return defineSensor(dag, id, options, poke, 'file', options.path, position);
}
