/**
 * S3KeySensor: one or many keys (all must be present) in an object store:
 * `s3://bucket` through @aws-sdk/client-s3 (any S3 API endpoint), or
 * `file:///dir` directory buckets (the seeds' mock S3 tree). Keys are
 * templated and match exactly, by wildcard (fnmatch: `*`, `?`, `[…]`, where `*`
 * crosses `/` as in Airflow's wildcard_match) or by prefix; a minimum size applies.
 *
 * An unreachable endpoint is a poke error (retries and the circuit breaker
 * apply) whose message names the bucket, key and endpoint, never the credentials.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Location, classifyS3Error } from '../s3.ts';
import type { S3Api } from '../s3.ts';
import { callerPosition } from '../dag/position.ts';
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import type { TaskRef } from '../dag/types.ts';
import { defineSensor } from './engine.ts';
import type { ObjectStoreConnection, PokeContext, PokeReturnValue, S3KeySensorOptions } from './types.ts';

export interface ObjectMatch {
  url: string;
  key: string;
  size: number;
}

interface Target {
  scheme: 's3' | 'file';
  /** Bucket name (s3) or directory (file). */
  bucket: string;
  key: string;
}

/** fnmatch → RegExp (`*` and `?` cross `/`, as Python's fnmatch). */
export function wildcardRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?[]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

export function parseTarget(bucket: string | undefined, key: string, what: string): Target {
  const full = /^(s3|file):\/\//.exec(key);
  if (full) {
    if (full[1] === 's3') {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(key);
      if (!m) throw new Error(`${what}: key "${key}" is not s3://bucket/key`);
      return { scheme: 's3', bucket: m[1]!, key: m[2]! };
    }
    throw new Error(`${what}: key "${key}": give file:// buckets as \`bucket\` and the key relative to it`);
  }
  if (!bucket) throw new Error(`${what}: key "${key}" needs a bucket (s3://name or file:///dir)`);
  const k = key.replace(/^\/+/, '');
  if (bucket.startsWith('s3://')) {
    const name = bucket.slice(5).replace(/\/+$/, '');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name))
      throw new Error(`${what}: bucket "${bucket}" is not s3://<bucket name>`);
    return { scheme: 's3', bucket: name, key: k };
  }
  if (bucket.startsWith('file://')) return { scheme: 'file', bucket: fileURLToPath(bucket), key: k };
  throw new Error(`${what}: bucket "${bucket}" must be s3://name or file:///dir`);
}

async function* walk(dir: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return;
    throw err;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

async function findInDir(
  t: Target,
  match: 'exact' | 'wildcard' | 'prefix',
  what: string,
): Promise<ObjectMatch[]> {
  try {
    await stat(t.bucket);
  } catch {
    throw new Error(`${what}: directory bucket file://${t.bucket} does not exist`);
  }
  const url = (k: string) => `file://${join(t.bucket, k)}`;
  if (match === 'exact') {
    try {
      const s = await stat(join(t.bucket, t.key));
      return s.isFile() ? [{ url: url(t.key), key: t.key, size: s.size }] : [];
    } catch {
      return [];
    }
  }
  const prefix = match === 'prefix' ? t.key : literalPrefix(t.key);
  const re = match === 'wildcard' ? wildcardRegExp(t.key) : undefined;
  // Walk only below the deepest directory the prefix names.
  const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
  const out: ObjectMatch[] = [];
  for await (const p of walk(join(t.bucket, dirPart))) {
    const key = relative(t.bucket, p).split(sep).join('/');
    if (!key.startsWith(prefix) || (re && !re.test(key))) continue;
    const s = await stat(p);
    out.push({ url: url(key), key, size: s.size });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A poke's client (one attempt per request: the sensor's own schedule retries). */
function s3Location(c: ObjectStoreConnection | undefined): S3Location {
  return new S3Location(() => ({
    endpoint: c?.endpoint,
    region: c?.region,
    credentials: c?.credentials,
    forcePathStyle: c?.forcePathStyle,
    maxAttempts: 1,
    timeoutMs: c?.requestTimeoutMs ?? 10_000,
    connectTimeoutMs: Math.min(5000, c?.requestTimeoutMs ?? 10_000),
  }));
}

function s3Failure(err: unknown, t: Target, c: ObjectStoreConnection | undefined, what: string): Error {
  const where = `s3://${t.bucket}/${t.key}${c?.endpoint ? ` at ${c.endpoint}` : ''}`;
  const f = classifyS3Error(err, false);
  if (f.kind === 'unreachable') return new Error(`${what}: S3 endpoint unreachable while checking ${where} (${f.reason})`);
  return new Error(`${what}: S3 request for ${where} failed: ${f.kind === 'failed' ? f.reason : `${(err as Error).name} (HTTP 404)`}`);
}

async function findInS3(
  { client, S }: S3Api,
  t: Target,
  match: 'exact' | 'wildcard' | 'prefix',
  c: ObjectStoreConnection | undefined,
  what: string,
  signal: AbortSignal,
): Promise<ObjectMatch[]> {
  const url = (k: string) => `s3://${t.bucket}/${k}`;
  try {
    if (match === 'exact') {
      try {
        const h = await client.send(new S.HeadObjectCommand({ Bucket: t.bucket, Key: t.key }), {
          abortSignal: signal,
        });
        return [{ url: url(t.key), key: t.key, size: h.ContentLength ?? 0 }];
      } catch (err) {
        if (classifyS3Error(err, false).kind === 'missing') return [];
        throw err;
      }
    }
    const prefix = match === 'prefix' ? t.key : literalPrefix(t.key);
    const re = match === 'wildcard' ? wildcardRegExp(t.key) : undefined;
    const out: ObjectMatch[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new S.ListObjectsV2Command({ Bucket: t.bucket, Prefix: prefix, ContinuationToken: token }),
        { abortSignal: signal },
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || (re && !re.test(o.Key))) continue;
        out.push({ url: url(o.Key), key: o.Key, size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  } catch (err) {
    throw s3Failure(err, t, c, what);
  }
}

export function s3KeySensor(dag: Dag<any>, id: string, options: S3KeySensorOptions): TaskRef<ObjectMatch[]> {
  const position = callerPosition();
  const what = `S3KeySensor "${String(id)}" of DAG "${dag?.id}"`;
  const keys = options ? (typeof options.keys === 'string' ? [options.keys] : options.keys) : undefined;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === ''))
    throw new DagDefinitionError(`${what} needs keys (a key or a list of keys)`, position, dag?.id);
  try {
    // Checked at definition when nothing is templated (templates render at poke time).
    for (const k of keys)
      if (!`${options.bucket ?? ''}${k}`.includes('{{')) parseTarget(options.bucket, k, what);
  } catch (err) {
    throw new DagDefinitionError((err as Error).message, position, dag?.id);
  }
  const minSize = options.minSize ?? 0;
  const poke = async (ctx: PokeContext): Promise<PokeReturnValue<ObjectMatch[]>> => {
    const found: ObjectMatch[] = [];
    const missing: string[] = [];
    let s3: S3Location | undefined;
    try {
      for (const raw of keys) {
        const t = parseTarget(options.bucket ? ctx.render(options.bucket) : undefined, ctx.render(raw), what);
        const match = options.match ?? (/[*?[]/.test(t.key) ? 'wildcard' : 'exact');
        let matches: ObjectMatch[];
        if (t.scheme === 'file') matches = await findInDir(t, match, what);
        else {
          s3 ??= s3Location(options.connection);
          matches = await findInS3(await s3.api(), t, match, options.connection, what, ctx.pokeSignal);
        }
        const ok = matches.filter((m) => m.size >= minSize);
        if (ok.length === 0)
          missing.push(`${t.scheme === 's3' ? `s3://${t.bucket}` : `file://${t.bucket}`}/${t.key}`);
        else found.push(...ok);
      }
    } finally {
      s3?.close();
    }
    if (missing.length > 0) {
      ctx.log.info(
        `Waiting for ${missing.length} of ${keys.length} key(s): ${missing.join(', ')}${minSize ? ` (min size ${minSize} B)` : ''}`,
      );
      return { done: false };
    }
    ctx.log.info(
      `All ${keys.length} key(s) present: ${found.map((m) => `${m.url} (${m.size} B)`).join(', ')}`,
    );
    return { done: true, value: found };
  };
  return defineSensor(dag, id, options, poke, 's3', keys.join(', '), position);
}
