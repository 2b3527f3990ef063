/**
 * Connections, as Airflow's: named endpoints with credentials that tasks look up
 * by id. Sources, first match wins:
 *   1. the environment: HANGAR_CONN_<ID> = a URI (Airflow's AIRFLOW_CONN_<ID> convention),
 *      which is also how secrets from VS Code's SecretStorage reach worker processes;
 *   2. `connections` in hangar.json: id → URI (keep passwords out of it: use the environment).
 * A connection's password is registered with the log masker as soon as it is read.
 */
import { registerSecret } from './executor/logger.ts';
import type { ConnectionInfo } from './dag/types.ts';

/** A connection as tasks see it (the public type lives with the authoring API). */
export type Connection = ConnectionInfo;

const ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/;

export function envName(id: string): string {
  return `HANGAR_CONN_${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export function parseConnectionUri(id: string, uri: string): Connection {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`Connection "${id}" is not a valid URI (expected e.g. sftp://user:password@host:22/path)`);
  }
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  registerSecret(password);
  const extra: Record<string, string> = {};
  for (const [k, v] of url.searchParams) extra[k] = v;
  return {
    id,
    type: url.protocol.replace(/:$/, ''),
    host: decodeURIComponent(url.hostname),
    port: url.port ? Number(url.port) : undefined,
    login: url.username ? decodeURIComponent(url.username) : undefined,
    password,
    path: decodeURIComponent(url.pathname.replace(/^\//, '')),
    extra,
    uri,
  };
}

export function getConnection(id: string, configured: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env): Connection {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new Error(`Invalid connection id ${JSON.stringify(id)}`);
  const fromEnv = env[envName(id)];
  if (fromEnv) return parseConnectionUri(id, fromEnv);
  const fromConfig = configured[id];
  if (fromConfig) return parseConnectionUri(id, fromConfig);
  throw new Error(`No connection "${id}": set ${envName(id)} to its URI, or add it under "connections" in hangar.json`);
}

/** What an S3 client needs from an `aws://KEY_ID:SECRET@HOST:PORT?region_name=…&endpoint_url=…` connection. */
export interface S3Access {
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

/** The endpoint, region and credentials of an S3 connection; throws, naming the connection, when it has no key. */
export function s3AccessOf(conn: Connection): S3Access {
  if (!conn.login || !conn.password) {
    throw new Error(`connection "${conn.id}" has no access key id and secret (expected aws://KEY_ID:SECRET@HOST:PORT?region_name=…)`);
  }
  const extra = conn.extra;
  const loopback = conn.host === 'localhost' || conn.host === '::1' || conn.host.startsWith('127.');
  const hostEndpoint = conn.host ? `${extra.scheme ?? (loopback ? 'http' : 'https')}://${conn.host.includes(':') ? `[${conn.host}]` : conn.host}${conn.port ? `:${conn.port}` : ''}` : undefined;
  return {
    endpoint: extra.endpoint_url ?? hostEndpoint,
    region: extra.region_name ?? extra.region,
    credentials: { accessKeyId: conn.login, secretAccessKey: conn.password, ...(extra.session_token ? { sessionToken: extra.session_token } : {}) },
  };
}
