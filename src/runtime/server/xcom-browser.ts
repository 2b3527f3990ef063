/**
 * The runtime side of the XCom browser: paged queries over the `xcom` table
 * (metadata only, so 100,000 rows stay fast), filter choices, on-demand decoding
 * with paging of large values, the raw envelope with its integrity, and the
 * maintenance actions. Params are validated like every other request.
 */
import type { Runtime } from '../runtime.ts';
import type { Store } from '../store/store.ts';
import type { XComMeta } from '../store/repos/xcoms.ts';
import { HangarXComBackend, XComError, clearXComs, decodeXCom, sweepOrphans } from '../xcom/index.ts';
import type { XComLocation } from '../xcom/index.ts';
import type * as P from '../../protocol/runtime.ts';
import type { DecodeFailure, PathStep, XComFacets, XComPage, XComRow } from '../../protocol/webviews/xcom-values.ts';
import { InvalidParamsError, optBool, optInt, optObject, optStr, str } from './validate.ts';
import type { Params } from './validate.ts';
import { toJsonText, toNode, valueAt } from './xcom-view.ts';

const MAX_PATH = 64;

/** The XCom filter fields of `p` (all optional). */
export function xcomFilter(method: string, p: Params): P.XComFilter {
  const f: P.XComFilter = {};
  const dagId = optStr(method, p, 'dagId');
  if (dagId) f.dagId = dagId;
  const runId = optStr(method, p, 'runId');
  if (runId) f.runId = runId;
  const taskId = optStr(method, p, 'taskId');
  if (taskId) f.taskId = taskId;
  const mapIndex = optInt(method, p, 'mapIndex', -1);
  if (mapIndex !== undefined) f.mapIndex = mapIndex;
  const key = optStr(method, p, 'key');
  if (key) f.key = key;
  const keyPrefix = optStr(method, p, 'keyPrefix');
  if (keyPrefix) f.keyPrefix = keyPrefix;
  return f;
}

/** The `loc` of `p`: a full XCom location. */
export function xcomLoc(method: string, p: Params): XComLocation {
  const o = optObject(method, p, 'loc');
  if (!o) throw new InvalidParamsError(`${method}: "loc" must be an object {dagId, runId, taskId, mapIndex, key}, not missing`);
  const m = `${method}: loc`;
  const mapIndex = optInt(m, o, 'mapIndex', -1);
  if (mapIndex === undefined) throw new InvalidParamsError(`${m}: "mapIndex" must be a whole number from -1, not missing`);
  return { dagId: str(m, o, 'dagId'), runId: str(m, o, 'runId'), taskId: str(m, o, 'taskId'), mapIndex, key: str(m, o, 'key') };
}

function pathOf(method: string, p: Params): PathStep[] {
  const v = p.path;
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_PATH || v.some((s) => typeof s !== 'string' && (typeof s !== 'number' || !Number.isInteger(s) || s < 0))) {
    throw new InvalidParamsError(`${method}: "path" must be an array of at most ${MAX_PATH} keys and indexes`);
  }
  return v as PathStep[];
}

function parseChain(s: string): string[] {
  try {
    const v = JSON.parse(s) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Why decoding failed, in the browser's words. */
export function decodeFailure(err: unknown): { reason: DecodeFailure; code: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof XComError)) return { reason: 'error', code: 'error', message };
  const reason: DecodeFailure =
    err.code === 'no-key'
      ? 'no-key'
      : err.code === 'authentication'
        ? 'wrong-key-or-tampered'
        : err.code === 'checksum' || err.code === 'truncated' || err.code === 'corrupt'
          ? 'tampered'
          : err.code === 'missing'
            ? 'missing'
            : 'error';
  return { reason, code: err.code, message };
}

export class XComBrowserService {
  private readonly rt: () => Runtime;
  /** The last decoded values, so paging a large one does not decode it again. */
  private readonly cache = new Map<string, { stamp: string; value: unknown }>();

  constructor(rt: () => Runtime) {
    this.rt = rt;
  }

  private store(): Store {
    return this.rt().store;
  }

  private backend(method: string): HangarXComBackend {
    const b = this.rt().backend;
    if (!(b instanceof HangarXComBackend)) throw new Error(`${method}: this runtime's XCom backend (${b.name}) cannot be browsed`);
    return b;
  }

  /** Forgets decoded values (keys changed, XComs deleted). */
  invalidate(): void {
    this.cache.clear();
  }

  async query(method: string, p: Params): Promise<XComPage> {
    const t0 = performance.now();
    const f = xcomFilter(method, p);
    const offset = optInt(method, p, 'offset', 0) ?? 0;
    const limit = optInt(method, p, 'limit', 1, 1000) ?? 100;
    const xcoms = this.store().xcoms;
    const total = await xcoms.count(f);
    const rows = await xcoms.listMeta(f, { limit, offset });
    const out: XComRow[] = [];
    for (const r of rows) {
      out.push({
        dagId: r.dag_id,
        runId: r.run_id,
        taskId: r.task_id,
        mapIndex: r.map_index,
        key: r.key,
        chain: parseChain(r.chain),
        sizeOriginal: r.size_original,
        sizeStored: r.size_stored,
        sensitive: r.sensitive === 1,
        createdAt: r.created_at,
        pulledBy: (await xcoms.pulls(r)).map((x) => (x.mapIndex >= 0 ? `${x.taskId}[${x.mapIndex}]` : x.taskId)),
      });
    }
    return { total, offset, rows: out, ms: Math.round((performance.now() - t0) * 10) / 10 };
  }

  async facets(method: string, p: Params): Promise<XComFacets> {
    const dagId = optStr(method, p, 'dagId');
    const runId = optStr(method, p, 'runId');
    const xcoms = this.store().xcoms;
    return {
      dagIds: await xcoms.dagIds(),
      runIds: dagId ? await xcoms.runIds(dagId) : [],
      taskIds: dagId && runId ? await xcoms.taskIds(dagId, runId) : [],
    };
  }

  private async meta(loc: XComLocation): Promise<XComMeta> {
    const row = await this.store().xcoms.getMeta({ dag_id: loc.dagId, run_id: loc.runId, task_id: loc.taskId, map_index: loc.mapIndex, key: loc.key });
    if (!row) throw new XComError('not-found', loc, 'does not exist (deleted, or its task was cleared)');
    return row;
  }

  private async decoded(method: string, loc: XComLocation, meta: XComMeta): Promise<unknown> {
    const id = JSON.stringify([loc.dagId, loc.runId, loc.taskId, loc.mapIndex, loc.key]);
    const stamp = `${meta.created_at}|${meta.size_stored}`;
    const hit = this.cache.get(id);
    if (hit && hit.stamp === stamp) return hit.value;
    const d = await decodeXCom(this.store(), this.backend(method), loc);
    this.cache.delete(id);
    this.cache.set(id, { stamp, value: d.value });
    while (this.cache.size > 2) this.cache.delete(this.cache.keys().next().value!);
    return d.value;
  }

  async read(method: string, p: Params): Promise<P.XComReadResult> {
    const t0 = performance.now();
    const loc = xcomLoc(method, p);
    const path = pathOf(method, p);
    const offset = optInt(method, p, 'offset', 0) ?? 0;
    const limit = optInt(method, p, 'limit', 1, 5000) ?? 200;
    const reveal = optBool(method, p, 'reveal') ?? false;
    const meta = await this.meta(loc);
    const chain = parseChain(meta.chain);
    const sensitive = meta.sensitive === 1;
    let value: unknown;
    try {
      value = await this.decoded(method, loc, meta);
    } catch (err) {
      return { ok: false, ...decodeFailure(err), chain, sensitive };
    }
    const ms = () => Math.round((performance.now() - t0) * 10) / 10;
    if (sensitive && !reveal) return { ok: true, masked: true, chain, sensitive: true, ms: ms() };
    let node;
    try {
      node = toNode(valueAt(value, path), { offset, limit });
    } catch (err) {
      throw new InvalidParamsError(`${method}: ${(err as Error).message}`);
    }
    return { ok: true, masked: false, node, path, chain, sensitive, ms: ms() };
  }

  async readText(method: string, p: Params): Promise<{ text: string; sensitive: boolean }> {
    const loc = xcomLoc(method, p);
    const reveal = optBool(method, p, 'reveal') ?? false;
    const meta = await this.meta(loc);
    if (meta.sensitive === 1 && !reveal) throw new Error(`${method}: the value is sensitive; reveal it first`);
    return { text: toJsonText(await this.decoded(method, loc, meta)), sensitive: meta.sensitive === 1 };
  }

  async readRaw(method: string, p: Params): Promise<P.XComRawResult> {
    const loc = xcomLoc(method, p);
    const r = await decodeXCom(this.store(), this.backend(method), loc, { raw: true });
    const encrypted = r.chain.includes('aes-256-gcm');
    return {
      chain: [...r.chain],
      sensitive: r.sensitive,
      sizeOriginal: r.sizeOriginal,
      sizeStored: r.sizeStored,
      createdAt: r.createdAt,
      header: r.header ?? null,
      envelopeBytes: r.envelope.byteLength,
      payloadBytes: r.payload.byteLength,
      // A sensitive value stored without encryption would show in its bytes: leave them out.
      headHex: r.sensitive && !encrypted ? '' : Buffer.from(r.envelope.subarray(0, 256)).toString('hex'),
      integrity: r.integrity.detail ? { status: r.integrity.status, detail: r.integrity.detail } : { status: r.integrity.status },
    };
  }

  async delete(method: string, p: Params): Promise<{ rows: number; objects: number }> {
    const loc = xcomLoc(method, p);
    await this.meta(loc);
    const r = await clearXComs(this.store(), this.backend(method), { dagId: loc.dagId, runId: loc.runId, taskId: loc.taskId, mapIndex: loc.mapIndex, key: loc.key });
    this.invalidate();
    return { rows: r.rows, objects: r.objects };
  }

  async clearRun(method: string, p: Params): Promise<{ rows: number; objects: number; bytesFreed: number }> {
    const dagId = str(method, p, 'dagId');
    const runId = str(method, p, 'runId');
    const r = await clearXComs(this.store(), this.backend(method), { dagId, runId });
    this.invalidate();
    return { rows: r.rows, objects: r.objects, bytesFreed: r.bytesFreed };
  }

  async sweep(method: string, p: Params): Promise<{ scanned: number; orphans: number; removed: number; bytesFreed: number }> {
    const dryRun = optBool(method, p, 'dryRun') ?? false;
    const r = await sweepOrphans(this.store(), this.backend(method), { dryRun });
    return { scanned: r.scanned, orphans: r.orphans.length, removed: r.removed, bytesFreed: r.bytesFreed };
  }
}
