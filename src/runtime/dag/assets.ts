/**
 * Assets (data-aware scheduling), after Airflow's airflow/sdk/definitions/asset/__init__.py
 * (Airflow 2's `Dataset`): an asset is a URI; a task that declares it in `outlets` records an
 * asset event when it succeeds, and a DAG whose `schedule` is assets (all of them: a list or
 * `allOf`; any of them: `anyOf`) runs once they have been updated since its last such run.
 *
 * The URI is checked and normalised as Airflow's `_sanitize_uri` does (scheme lower-cased,
 * user info dropped, trailing slashes of the path removed, query sorted, fragment dropped;
 * `x-` schemes are left alone), except that Hangar requires a URI: Airflow 3 also takes a
 * bare name, which here is a definition error, because a name is easily a typo.
 *
 * A problem is not thrown where `asset()` is called (that is often module scope, outside any
 * DAG) but where the asset is used, so that the error names the DAG, the task and the line.
 */
import { callerPosition, formatPosition } from './position.ts';
import type { SourcePosition } from './position.ts';

const ASSET = Symbol.for('hangar.asset');
const CONDITION = Symbol.for('hangar.asset-condition');

/** An asset as a DAG file holds it: `asset('s3://bucket/orders')`. */
export interface Asset {
  readonly kind: 'asset';
  /** The normalised URI (what events are recorded under). */
  readonly uri: string;
  /** What was written, when it is not a valid URI (`problem` says why). */
  readonly written: unknown;
  readonly problem: string | undefined;
  readonly position: SourcePosition | undefined;
}

/** Airflow's AssetAll / AssetAny, built with `allOf(...)` / `anyOf(...)`. */
export interface AssetConditionInput {
  readonly kind: 'all' | 'any';
  readonly objects: readonly (Asset | AssetConditionInput)[];
}

/** An asset condition as plain data (Airflow's `as_expression`): what the serialized DAG keeps. */
export type AssetCondition =
  | { readonly asset: string }
  | { readonly all: readonly AssetCondition[] }
  | { readonly any: readonly AssetCondition[] };

/** One asset event, as a triggered run's tasks see it (`ctx.triggeringAssetEvents[uri]`). */
export interface AssetEvent {
  readonly uri: string;
  readonly sourceDagId: string | null;
  readonly sourceRunId: string | null;
  readonly sourceTaskId: string | null;
  readonly sourceMapIndex: number | null;
  /** When the producing try ended (UTC). */
  readonly timestamp: Date;
  readonly extra: Readonly<Record<string, unknown>>;
}

/** Declares an asset by its URI (`s3://bucket/orders`, `file:///data/orders.csv`, `postgres://db/schema/table`…). */
export function asset(uri: string): Asset {
  const position = callerPosition();
  let normalised = '';
  let problem: string | undefined;
  try {
    normalised = normalizeAssetUri(uri);
  } catch (err) {
    problem = (err as Error).message;
  }
  const a: Asset = { kind: 'asset', uri: normalised, written: uri, problem, position };
  Object.defineProperty(a, ASSET, { value: true });
  return Object.freeze(a);
}

/** The DAG runs when every one of these has been updated since its last asset-triggered run (Airflow's AssetAll, `&`). */
export function allOf(...objects: (Asset | AssetConditionInput)[]): AssetConditionInput {
  return condition('all', objects);
}

/** The DAG runs when any one of these has been updated (Airflow's AssetAny, `|`). */
export function anyOf(...objects: (Asset | AssetConditionInput)[]): AssetConditionInput {
  return condition('any', objects);
}

function condition(kind: 'all' | 'any', objects: (Asset | AssetConditionInput)[]): AssetConditionInput {
  const c: AssetConditionInput = { kind, objects };
  Object.defineProperty(c, CONDITION, { value: true });
  return Object.freeze(c);
}

export function isAsset(x: unknown): x is Asset {
  return !!x && typeof x === 'object' && (x as Record<symbol, unknown>)[ASSET] === true;
}

export function isAssetCondition(x: unknown): x is AssetConditionInput {
  return !!x && typeof x === 'object' && (x as Record<symbol, unknown>)[CONDITION] === true;
}

/** A schedule written as assets: a list of them (all), or an allOf/anyOf, or one asset. */
export function isAssetSchedule(
  x: unknown,
): x is Asset | AssetConditionInput | readonly (Asset | AssetConditionInput)[] {
  return (
    isAsset(x) ||
    isAssetCondition(x) ||
    (Array.isArray(x) && x.length > 0 && x.every((e) => isAsset(e) || isAssetCondition(e)))
  );
}

/** Thrown for an asset problem; `position` is where asset() was called. */
export class AssetError extends Error {
  readonly position: SourcePosition | undefined;
  constructor(message: string, position: SourcePosition | undefined) {
    super(message);
    this.name = 'AssetError';
    this.position = position;
  }
}

function checked(a: Asset): string {
  if (a.problem) {
    const at = a.position ? ` (asset() at ${formatPosition(a.position)})` : '';
    throw new AssetError(
      `asset ${JSON.stringify(a.written)} is not a valid asset URI: ${a.problem}${at}`,
      a.position,
    );
  }
  return a.uri;
}

/** The plain condition of an asset schedule; throws an {@link AssetError} for a bad asset or shape. */
export function assetConditionFrom(input: unknown): AssetCondition {
  if (Array.isArray(input)) {
    if (input.length === 0) throw new AssetError('an asset schedule needs at least one asset', undefined);
    return input.length === 1
      ? assetConditionFrom(input[0])
      : { all: input.map((x) => assetConditionFrom(x)) };
  }
  if (isAsset(input)) return { asset: checked(input) };
  if (isAssetCondition(input)) {
    if (input.objects.length === 0)
      throw new AssetError(
        `${input.kind === 'all' ? 'allOf' : 'anyOf'}() needs at least one asset`,
        undefined,
      );
    const parts = input.objects.map((o) => {
      if (!isAsset(o) && !isAssetCondition(o))
        throw new AssetError(
          `${input.kind === 'all' ? 'allOf' : 'anyOf'}() takes assets and conditions, not ${describe(o)}`,
          undefined,
        );
      return assetConditionFrom(o);
    });
    return input.kind === 'all' ? { all: parts } : { any: parts };
  }
  throw new AssetError(`expected an asset (asset('s3://…')), got ${describe(input)}`, undefined);
}

/** The checked URIs of a task's `outlets`; throws an {@link AssetError} naming the bad one. */
export function outletUris(outlets: unknown): string[] {
  if (outlets === undefined) return [];
  if (!Array.isArray(outlets))
    throw new AssetError(
      `outlets must be a list of assets ([asset('s3://…')]), got ${describe(outlets)}`,
      undefined,
    );
  const out: string[] = [];
  for (const o of outlets) {
    if (!isAsset(o))
      throw new AssetError(`outlets must hold assets (asset('s3://…')), got ${describe(o)}`, undefined);
    const uri = checked(o);
    if (!out.includes(uri)) out.push(uri);
  }
  return out;
}

function describe(x: unknown): string {
  if (typeof x === 'string') return `the string ${JSON.stringify(x)} (wrap it: asset(${JSON.stringify(x)}))`;
  if (x === null) return 'null';
  return Array.isArray(x) ? 'a list' : typeof x;
}

/** Every URI a condition names, in order, once each (Airflow's iter_assets). */
export function conditionUris(c: AssetCondition): string[] {
  const out: string[] = [];
  const walk = (x: AssetCondition): void => {
    if ('asset' in x) {
      if (!out.includes(x.asset)) out.push(x.asset);
    } else for (const p of 'all' in x ? x.all : x.any) walk(p);
  };
  walk(c);
  return out;
}

/** Whether a condition holds given the URIs updated since the last run (Airflow's BaseAsset.evaluate: all / any). */
export function evaluateCondition(c: AssetCondition, updated: ReadonlySet<string>): boolean {
  if ('asset' in c) return updated.has(c.asset);
  if ('all' in c) return c.all.every((p) => evaluateCondition(p, updated));
  return c.any.some((p) => evaluateCondition(p, updated));
}

/** The condition as text for lists: `s3://a & s3://b`, `s3://a | (s3://b & s3://c)`. */
export function conditionText(c: AssetCondition, nested = false): string {
  if ('asset' in c) return c.asset;
  const parts = 'all' in c ? c.all : c.any;
  const text = parts.map((p) => conditionText(p, true)).join('all' in c ? ' & ' : ' | ');
  return nested && parts.length > 1 ? `(${text})` : text;
}

const URI_RE = /^([^:/?#]+):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;

/**
 * Checks and normalises an asset URI as Airflow's `_sanitize_uri` does. Throws an Error saying
 * what is wrong: not a string, empty, longer than 1500 characters (Airflow's limit), whitespace
 * or non-ASCII characters (Airflow 2's Dataset), no scheme (not a URI), a bad scheme, or the
 * reserved schemes `airflow` and `hangar`.
 */
export function normalizeAssetUri(uri: unknown): string {
  if (typeof uri !== 'string')
    throw new Error(`an asset URI must be a string, got ${uri === null ? 'null' : typeof uri}`);
  if (uri.trim() === '') throw new Error('the URI is empty');
  if (uri.length > 1500) throw new Error('the URI is longer than 1500 characters');
  if (!/^[\x21-\x7e]*$/.test(uri))
    throw new Error(
      'the URI may only hold printable ASCII characters without spaces (percent-encode the rest)',
    );
  const m = URI_RE.exec(uri);
  if (!m) throw new Error("it has no scheme: write it as a URI such as 's3://bucket/key' or 'file:///path'");
  const scheme = m[1]!.toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme))
    throw new Error(
      `"${m[1]}" is not a URI scheme (a letter, then letters, digits, '+', '-' or '.'); write it as a URI such as 's3://bucket/key'`,
    );
  if (scheme === 'airflow' || scheme === 'hangar') throw new Error(`the scheme '${scheme}' is reserved`);
  if (scheme.startsWith('x-')) return uri;
  const netloc = m[2];
  const rawPath = m[3] ?? '';
  if (netloc === undefined && rawPath === '') throw new Error(`"${uri}" has a scheme but nothing after it`);
  // Airflow drops user info (with a warning): an asset URI must not carry credentials.
  const host = netloc === undefined ? undefined : netloc.slice(netloc.lastIndexOf('@') + 1);
  const path = rawPath.replace(/\/+$/, '') || '/';
  const query = m[4] ? sortQuery(m[4]) : '';
  return `${scheme}:${host === undefined ? '' : `//${host}`}${path}${query ? `?${query}` : ''}`;
}

/** urllib's `urlencode(sorted(parse_qsl(query)))`, keeping the pairs' encoding as written. */
function sortQuery(query: string): string {
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? ([p, ''] as const) : ([p.slice(0, i), p.slice(i + 1)] as const);
    })
    .filter(([, v]) => v !== ''); // parse_qsl drops blank values
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}
