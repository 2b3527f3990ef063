/**
 * `hangar xcom …`: list, get (decoded or raw), and the maintenance commands of
 * the XCom layer (rotate-key, clear, sweep, lineage, gen-key); `hangar bench xcom`.
 */
import { Buffer } from 'node:buffer';
import { resolve } from 'node:path';
import { fail, intOption, NotFoundError, printTable, UsageError, need, withRuntime } from './common.ts';
import { emit, xcomLocationJson } from './output.ts';
import { limitOption } from './filters.ts';
import type { Ctx } from './common.ts';
import type { Runtime } from '../runtime.ts';
import {
  HangarXComBackend,
  XComError,
  clearXComs,
  createXComBackend,
  decodeXCom,
  describeXCom,
  generateXComKey,
  listXComLineage,
  rotateXComKeys,
  sweepOrphans,
} from '../xcom/index.ts';
import type { XComLocation, XComOptions, RotationProgress } from '../xcom/index.ts';
import { durationMs } from '../dag/duration.ts';
import { formatXComBenchTable, runXComBench } from '../../../bench/xcom.bench.ts';

/** Options of the xcom and bench commands (merged into the CLI's option table). */
export const XCOM_OPTIONS = {
  raw: { type: 'boolean' },
  'older-than': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'min-age': { type: 'string' },
  'key-file': { type: 'string' },
  primary: { type: 'string' },
  'max-rows': { type: 'string' },
  quick: { type: 'boolean' },
  algorithm: { type: 'string' },
} as const;

/** Subcommand help, printed in `hangar --help`. */
export const XCOM_HELP = `  xcom list --dag DAG [--run RUN] [--task TASK] [--prefix P] [--limit N]
  xcom get --dag DAG --run RUN --task TASK [--key K] [--map-index N] [--raw]
                                   Decode a stored XCom (decrypting with the configured keys);
                                   --raw prints its envelope and an integrity check instead
  xcom lineage --dag DAG [--run RUN]  Who pushed each XCom, and which tasks pulled it
  xcom clear --dag DAG [--run RUN] [--task T] [--key K] [--older-than 7d]
                                   Remove XComs with their files/objects
  xcom sweep [--dry-run] [--min-age 10m]  Remove files/objects no XCom refers to any more
  xcom rotate-key [--primary ID] [--max-rows N]
                                   Re-encrypt stored XComs under the primary key
                                   (Ctrl+C stops cleanly; run again to resume)
  xcom gen-key                     Print a new random XCom key (base64) for HANGAR_XCOM_KEYS
                                   Keys: HANGAR_XCOM_KEYS=id:base64[,old:base64], --key-file F
                                   (or xcom.encryption.keyFile), HANGAR_XCOM_PASSPHRASE
  bench xcom [--quick] [--algorithm gzip|zstd|brotli]
                                   The XCom backend benchmark`;

const NO_KEY_HINT =
  'Provide the key with HANGAR_XCOM_KEYS=<id>:<base64 key> (create one with `hangar xcom gen-key`), ' +
  'a key file outside the workspace (--key-file PATH or xcom.encryption.keyFile in hangar.json), ' +
  'or a passphrase in HANGAR_XCOM_PASSPHRASE.';

/** The workspace's backend, or a variant of it with a key file given on the command line. */
function backendOf(rt: Runtime, ctx: Ctx): HangarXComBackend {
  const keyFile = ctx.values['key-file'] as string | undefined;
  const primary = ctx.values.primary as string | undefined;
  if (keyFile === undefined && primary === undefined) {
    if (!(rt.backend instanceof HangarXComBackend)) throw new Error('This command needs Hangar’s own XCom backend');
    return rt.backend;
  }
  const conf: XComOptions = rt.config.xcom;
  return createXComBackend(
    {
      ...conf,
      encryption: {
        ...(conf.encryption ?? {}),
        ...(keyFile !== undefined ? { keyFile: resolve(keyFile) } : {}),
        ...(primary !== undefined ? { primaryKeyId: primary } : {}),
      },
    },
    { workspaceRoot: rt.config.root, xcomRoot: rt.config.xcomDir, keys: rt.store.keys, connections: rt.config.connections },
  );
}

/** XCom errors get a hint on how to fix them; key material never appears in them. */
function explain(err: unknown): never {
  if (err instanceof XComError) {
    if (err.code === 'no-key') throw new Error(`${err.message}. ${NO_KEY_HINT}`);
    if (err.code === 'authentication') {
      throw new Error(`Authentication failure: ${err.message}. Check that the key with that id is the one the value was written with.`);
    }
    if (err.code === 'not-found') throw new NotFoundError(err.message);
  }
  throw err;
}

function fmtBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function locFromOptions(ctx: Ctx, dagId: string): XComLocation {
  const runId = ctx.values.run as string | undefined;
  const taskId = ctx.values.task as string | undefined;
  if (!runId || !taskId) throw new UsageError('xcom get needs --run RUN and --task TASK');
  return { dagId, runId, taskId, key: (ctx.values.key as string | undefined) ?? 'return_value', mapIndex: intOption(ctx, 'map-index') ?? -1 };
}

/** JSON with the types JSON cannot carry made visible (BigInt, Map, Set, bytes, undefined). */
function printable(value: unknown): string {
  const seen = new WeakSet<object>();
  const conv = (v: unknown): unknown => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v === undefined) return { $undefined: true };
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[shared]';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    if (v instanceof Uint8Array) return { $bytes: v.byteLength, base64: v.byteLength <= 4096 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : undefined };
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return { $bytes: (v as ArrayBuffer).byteLength };
    if (v instanceof RegExp) return String(v);
    if (v instanceof Map) return { $map: Array.from(v, ([k, x]) => [conv(k), conv(x)]) };
    if (v instanceof Set) return { $set: Array.from(v, conv) };
    if (Array.isArray(v)) return v.map(conv);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: conv((v as Record<string, unknown>)[k]), enumerable: true });
    return out;
  };
  return JSON.stringify(conv(value), null, 2) ?? 'undefined';
}

async function get(rt: Runtime, ctx: Ctx, dagId: string): Promise<number> {
  const loc = locFromOptions(ctx, dagId);
  const backend = backendOf(rt, ctx);
  if (ctx.values.raw) {
    const raw = await decodeXCom(rt.store, backend, loc, { raw: true }).catch(explain);
    const payload = Buffer.from(raw.payload.buffer, raw.payload.byteOffset, raw.payload.byteLength);
    const out = {
      xcom: xcomLocationJson(loc),
      chain: raw.chain,
      sensitive: raw.sensitive,
      size_original: raw.sizeOriginal,
      size_stored: raw.sizeStored,
      created_at: raw.createdAt,
      envelope_bytes: raw.envelope.byteLength,
      header: raw.header ?? null,
      payload_bytes: payload.byteLength,
      // The stored bytes as they are (ciphertext when encrypted); large payloads are only counted.
      ...(payload.byteLength <= 1 << 20 ? { payload_base64: payload.toString('base64') } : {}),
      integrity: raw.integrity.detail === undefined ? { status: raw.integrity.status } : { status: raw.integrity.status, detail: raw.integrity.detail },
    };
    emit(ctx, 'xcom-get-raw', out, () => {
      ctx.out(`${describeXCom(loc)}`);
      ctx.out(`  chain:      ${raw.chain.join(' > ')}`);
      ctx.out(`  sizes:      ${raw.sizeOriginal} B serialized, ${raw.sizeStored} B stored, envelope ${raw.envelope.byteLength} B (payload ${payload.byteLength} B inline)`);
      ctx.out(`  sensitive:  ${raw.sensitive}`);
      ctx.out(`  integrity:  ${raw.integrity.status}${raw.integrity.detail ? ` (${raw.integrity.detail})` : ''}`);
      ctx.out(`  header:\n${JSON.stringify(raw.header ?? null, null, 2).replace(/^/gm, '    ')}`);
      if (out.payload_base64 !== undefined && payload.byteLength > 0) ctx.out(`  payload (base64):\n    ${out.payload_base64}`);
    });
    return raw.integrity.status === 'ok' || raw.integrity.status === 'unverified'
      ? 0
      : fail(ctx, 'integrity', `${describeXCom(loc)}: integrity check ${raw.integrity.status}${raw.integrity.detail ? `: ${raw.integrity.detail}` : ''}`);
  }
  const decoded = await decodeXCom(rt.store, backend, loc).catch(explain);
  emit(ctx, 'xcom-get', { xcom: xcomLocationJson(loc), chain: decoded.chain, sensitive: decoded.sensitive, value: JSON.parse(printable(decoded.value)) as unknown }, () =>
    ctx.out(printable(decoded.value)),
  );
  return 0;
}

async function rotate(rt: Runtime, ctx: Ctx): Promise<number> {
  const backend = backendOf(rt, ctx);
  if (!(await backend.ready())) throw new Error(`XCom key rotation needs the keys: the new primary and the old ones. ${NO_KEY_HINT}`);
  const total = await rt.store.xcoms.countEncrypted();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const maxRows = intOption(ctx, 'max-rows');
  let lastPrint = 0;
  const progress = (p: RotationProgress) => {
    if (ctx.structured) return;
    const now = Date.now();
    if (now - lastPrint < 250 && p.examined < total) return;
    lastPrint = now;
    process.stderr.write(`rotate-key → "${p.targetKeyId}": ${p.examined}/${total} examined, ${p.rotated} re-encrypted, ${p.alreadyCurrent} already current, ${p.failed.length} failed\n`);
  };
  let result: RotationProgress;
  try {
    result = await rotateXComKeys(rt.store, backend, { signal: controller.signal, maxRows, onProgress: progress });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const interrupted = !result.complete && result.failed.length === 0;
  const doc = {
    target_key_id: result.targetKeyId,
    total,
    examined: result.examined,
    rotated: result.rotated,
    already_current: result.alreadyCurrent,
    complete: result.complete,
    interrupted,
    failed: result.failed.map((f) => ({ xcom: xcomLocationJson(f.loc), code: f.code, message: f.message })),
  };
  emit(ctx, 'xcom-rotate-key', doc, () => {
    ctx.out(`Key rotation to "${result.targetKeyId}": ${result.rotated} re-encrypted, ${result.alreadyCurrent} already under it, ${result.failed.length} failed (${total} encrypted XComs)`);
    for (const f of result.failed) ctx.out(`  failed: ${f.message}`);
    if (interrupted) ctx.out('Stopped before the end; nothing was lost. Run `hangar xcom rotate-key` again to resume.');
    else if (result.complete) ctx.out('Every encrypted XCom is under the primary key; old keys can be removed once no other copy of the database needs them.');
  });
  if (controller.signal.aborted) return fail(ctx, 'interrupted', 'Key rotation stopped by Ctrl+C; run `hangar xcom rotate-key` again to resume');
  return result.failed.length ? fail(ctx, 'partial_failure', `${result.failed.length} XCom(s) could not be re-encrypted`) : 0;
}

async function clear(rt: Runtime, ctx: Ctx, dagId: string): Promise<number> {
  const olderThan = ctx.values['older-than'] as string | undefined;
  if (olderThan !== undefined) {
    try {
      durationMs(olderThan, '--older-than');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const r = await clearXComs(rt.store, backendOf(rt, ctx), {
    dagId,
    runId: ctx.values.run as string | undefined,
    taskId: ctx.values.task as string | undefined,
    key: ctx.values.key as string | undefined,
    mapIndex: intOption(ctx, 'map-index'),
    olderThan,
  });
  emit(ctx, 'xcom-clear', { rows: r.rows, objects: r.objects, bytes_freed: r.bytesFreed, errors: [...r.errors] }, () => {
    ctx.out(`Removed ${r.rows} XCom(s) and ${r.objects} file(s)/object(s), ${fmtBytes(r.bytesFreed)} freed`);
    for (const e of r.errors) ctx.out(`  warning: ${e}`);
  });
  return r.errors.length ? fail(ctx, 'partial_failure', `${r.errors.length} file(s)/object(s) could not be removed: ${r.errors[0]}`) : 0;
}

async function sweep(rt: Runtime, ctx: Ctx): Promise<number> {
  const minAge = ctx.values['min-age'] as string | undefined;
  let minAgeMs: number | undefined;
  if (minAge !== undefined) {
    try {
      minAgeMs = durationMs(minAge, '--min-age');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const dryRun = !!ctx.values['dry-run'];
  const r = await sweepOrphans(rt.store, backendOf(rt, ctx), { dryRun, minAgeMs });
  const bytes = r.orphans.reduce((s, o) => s + o.size, 0);
  const doc = { dry_run: dryRun, scanned: r.scanned, referenced: r.referenced, orphans: r.orphans.map((o) => ({ store: o.store, path: o.path, size: o.size })), orphan_bytes: bytes, removed: r.removed, bytes_freed: r.bytesFreed };
  emit(ctx, 'xcom-sweep', doc, () => {
    for (const o of r.orphans) ctx.out(`  ${dryRun ? 'would remove' : 'removed'} ${o.store === 'xcom-root' ? '' : o.store + ' '}${o.path} (${fmtBytes(o.size)})`);
    ctx.out(
      dryRun
        ? `${r.orphans.length} orphaned file(s)/object(s) of ${r.scanned} (${fmtBytes(bytes)}) would be removed; run without --dry-run to remove them`
        : `Removed ${r.removed} orphaned file(s)/object(s) of ${r.scanned}, ${fmtBytes(r.bytesFreed)} freed`,
    );
  });
  return 0;
}

async function lineage(rt: Runtime, ctx: Ctx, dagId: string): Promise<number> {
  const rows = await listXComLineage(rt.store, { dagId, runId: ctx.values.run as string | undefined });
  const doc = rows.map((r) => ({
    xcom: xcomLocationJson(r.loc),
    pushed_by: { task_id: r.pushedBy.taskId, map_index: r.pushedBy.mapIndex, at: r.pushedBy.at },
    pulled_by: r.pulledBy.map((p) => ({ task_id: p.taskId, map_index: p.mapIndex, at: p.at })),
    chain: r.chain,
    size_original: r.sizeOriginal,
    size_stored: r.sizeStored,
  }));
  emit(ctx, 'xcom-lineage', doc, () => {
  if (rows.length === 0) ctx.out(`No XComs for DAG "${dagId}"${ctx.values.run ? ` run "${String(ctx.values.run)}"` : ''}`);
  else
    printTable(
      ctx,
        ['run', 'key', 'pushed by', 'pulled by', 'chain', 'size'],
        rows.map((r) => [
          r.loc.runId,
          r.loc.key,
          `${r.pushedBy.taskId}${r.pushedBy.mapIndex >= 0 ? `[${r.pushedBy.mapIndex}]` : ''}`,
          r.pulledBy.map((p) => `${p.taskId}${p.mapIndex >= 0 ? `[${p.mapIndex}]` : ''}`).join(', ') || '-',
          r.chain.join('>'),
          r.sizeOriginal,
        ]),
    );
  });
  return 0;
}

async function list(rt: Runtime, ctx: Ctx, dagId: string): Promise<number> {
  const limit = limitOption(ctx);
  // Metadata only: values stay in the store.
  const rows = await rt.store.xcoms.listMeta(
    {
      dagId,
      runId: ctx.values.run as string | undefined,
      taskId: ctx.values.task as string | undefined,
      keyPrefix: ctx.values.prefix as string | undefined,
      mapIndex: intOption(ctx, 'map-index'),
    },
    limit === undefined ? undefined : { limit },
  );
  const items = rows.map((r) => ({
    dag_id: r.dag_id,
    run_id: r.run_id,
    task_id: r.task_id,
    map_index: r.map_index,
    key: r.key,
    chain: JSON.parse(r.chain) as string[],
    size_original: r.size_original,
    size_stored: r.size_stored,
    sensitive: !!r.sensitive,
    created_at: r.created_at,
  }));
  emit(ctx, 'xcom-list', items, () =>
    printTable(
      ctx,
      ['run', 'task', 'map', 'key', 'chain', 'size', 'stored'],
      items.map((x) => [x.run_id, x.task_id, x.map_index >= 0 ? x.map_index : '', x.key, x.chain.join('>'), x.size_original, x.size_stored]),
    ),
  );
  return 0;
}

const NEEDS_DAG = new Set(['list', 'get', 'clear', 'lineage']);
const SUBCOMMANDS = ['list', 'get', 'lineage', 'clear', 'sweep', 'rotate-key', 'gen-key'];

export async function xcomCommand(ctx: Ctx): Promise<number> {
  const sub = need(ctx, 0, `a subcommand: hangar xcom ${SUBCOMMANDS.join('|')}`);
  if (!SUBCOMMANDS.includes(sub)) throw new UsageError(`unknown xcom subcommand "${sub}" (${SUBCOMMANDS.join(', ')})`);
  if (sub === 'gen-key') {
    const key = generateXComKey();
    // Asked for explicitly: the one command that prints key material.
    emit(ctx, 'xcom-gen-key', { key }, () => ctx.out(key));
    return 0;
  }
  const dagId = ctx.values.dag as string | undefined;
  if (NEEDS_DAG.has(sub) && !dagId) throw new UsageError(`xcom ${sub} needs --dag DAG`);
  for (const [name, id] of [['dag', 'dag_id'], ['run', 'run_id'], ['task', 'task_id'], ['key', 'key']] as const) {
    const v = ctx.values[name];
    if (typeof v === 'string') ctx.ids[id] = v;
  }
  return withRuntime(
    ctx,
    async (rt) => {
      switch (sub) {
        case 'list':
          return list(rt, ctx, dagId!);
        case 'get':
          return get(rt, ctx, dagId!);
        case 'lineage':
          return lineage(rt, ctx, dagId!);
        case 'clear':
          return clear(rt, ctx, dagId!);
        case 'sweep':
          return sweep(rt, ctx);
        default:
          return rotate(rt, ctx);
      }
    },
    false,
  );
}

/** `hangar bench xcom [--quick] [--json]`. */
export async function benchCommand(ctx: Ctx): Promise<number> {
  const what = need(ctx, 0, 'what to benchmark: hangar bench xcom');
  if (what !== 'xcom') throw new UsageError(`unknown benchmark "${what}" (xcom)`);
  const algorithm = ctx.values.algorithm as string | undefined;
  if (algorithm !== undefined && algorithm !== 'gzip' && algorithm !== 'zstd' && algorithm !== 'brotli') {
    throw new UsageError(`--algorithm must be gzip, zstd or brotli, not "${algorithm}"`);
  }
  const interactive = process.stderr.isTTY;
  const res = await runXComBench({ quick: !!ctx.values.quick, algorithm }, (d, t, label) => {
    if (interactive) process.stderr.write(`\r[${d}/${t}] ${label}`.padEnd(60));
  });
  if (interactive) process.stderr.write('\n');
  emit(ctx, 'bench-xcom', res, () => ctx.out(formatXComBenchTable(res)));
  // Like a test: a missed target is a failure (exit 1), named on stderr; the results are printed all the same.
  const missed = [
    ...res.targets.filter((t) => !t.ok).map((t) => `${t.name}: worst cell ${t.worst}`),
    ...(res.memory ?? []).filter((m) => !m.ok).map((m) => `100 MiB ${m.kind} value through the file backend: peak ${m.peakOverValue}× (target < 3×)`),
  ];
  if (!ctx.structured) for (const m of missed) process.stderr.write(`hangar bench xcom: target missed: ${m}\n`);
  return missed.length ? fail(ctx, 'target_missed', missed.map((m) => `target missed: ${m}`).join('; ')) : 0;
}
