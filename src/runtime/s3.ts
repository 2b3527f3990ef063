/**
 * One S3 client layer for what Hangar keeps in S3 — XCom values (xcom/stores.ts), DAG bundles
 * and task logs (distributed/remote.ts): the `s3://bucket/prefix` form, the SDK loaded on
 * first use, one client per location, and failures sorted into what the caller reports in its
 * own words (a missing object, an endpoint that did not answer, a refusal), naming the
 * endpoint and never a secret.
 */
import type * as S3Module from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';

/** The AWS SDK, loaded on first use: it costs ~30 MiB and ~100 ms in every process that imports it. */
export type S3Sdk = typeof S3Module;
let sdkLoading: Promise<S3Sdk> | undefined;
export function loadS3Sdk(): Promise<S3Sdk> {
  return (sdkLoading ??= import('@aws-sdk/client-s3'));
}

/** What one S3 call gets: the SDK's commands and the location's client. */
export interface S3Api {
  readonly S: S3Sdk;
  readonly client: S3Client;
}

const S3_URL = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/** `s3://bucket/a/b/` → bucket, key prefix (`a/b`) and the URL written back; undefined when it is not one. */
export function parseS3Url(url: string): { bucket: string; prefix: string; url: string } | undefined {
  const m = S3_URL.exec(url);
  if (!m) return undefined;
  const bucket = m[1]!;
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  return { bucket, prefix, url: `s3://${bucket}${prefix ? `/${prefix}` : ''}` };
}

export interface S3ClientOptions {
  /** An S3-compatible server's endpoint (path-style addressing then, unless told otherwise). */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  readonly forcePathStyle?: boolean;
  /** Attempts per request. */
  readonly maxAttempts: number;
  /** Bound on one request. */
  readonly timeoutMs: number;
  /** Connection timeout (default 5 s). */
  readonly connectTimeoutMs?: number;
}

/** A location's client, created on its first call from options resolved then (a connection's credentials). */
export class S3Location {
  private loading: Promise<S3Api> | undefined;
  private client: S3Client | undefined;
  private closed = false;
  private readonly options: () => S3ClientOptions;

  constructor(options: () => S3ClientOptions) {
    this.options = options;
  }

  api(): Promise<S3Api> {
    return (this.loading ??= (async () => {
      const o = this.options();
      const S = await loadS3Sdk();
      const client = new S.S3Client({
        endpoint: o.endpoint,
        region: o.region ?? 'us-east-1',
        credentials: o.credentials,
        forcePathStyle: o.forcePathStyle ?? o.endpoint !== undefined,
        maxAttempts: o.maxAttempts,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: {
          connectionTimeout: o.connectTimeoutMs ?? 5000,
          requestTimeout: o.timeoutMs,
          throwOnRequestTimeout: true,
        },
      });
      // Closed while the SDK was loading: the client must not outlive its owner.
      if (this.closed) client.destroy();
      else this.client = client;
      return { S, client };
    })());
  }

  close(): void {
    this.closed = true;
    this.client?.destroy();
  }
}

/** Why an S3 call failed, for the caller to say in its words. */
export type S3Failure =
  | { readonly kind: 'missing' }
  /** No answer: refused, reset, timed out (`reason`: the network code or the error's name). */
  | { readonly kind: 'unreachable'; readonly reason: string }
  /** An answer that refused the call: `reason` has the error's name, HTTP status and message. */
  | { readonly kind: 'failed'; readonly reason: string };

/** Sorts an SDK error; `timedOut` when the caller's own deadline aborted the call. */
export function classifyS3Error(err: unknown, timedOut: boolean): S3Failure {
  const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return { kind: 'missing' };
  const net = e.code ?? (e.cause as { code?: string } | undefined)?.code;
  if (timedOut || e.name === 'AbortError' || e.name === 'TimeoutError' || net)
    return { kind: 'unreachable', reason: net ?? e.name };
  return { kind: 'failed', reason: `${e.name}${status ? ` (HTTP ${status})` : ''}: ${e.message}` };
}
