/**
 * `hangar info` (Airflow's `airflow info`) and `hangar config list|get KEY`
 * (Airflow's `airflow config list --include-sources`): what this workspace runs
 * with, and where each setting came from. Secrets and key material never appear.
 */
import { nonceWarning, NONCE_WARN_AT } from '../xcom/crypto.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { version as esbuildVersion } from 'esbuild';
import { CONFIG_FILE } from '../config.ts';
import { HangarXComBackend } from '../xcom/index.ts';
import { hangarPackageRoot } from './init.ts';
import { need, printTable, UsageError, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { emit } from './output.ts';

export const INFO_HELP = `  info                             Versions, paths, executor, connections (ids and types) and XCom key ids`;
export const CONFIG_HELP = `  config list                      The effective configuration, each value with where it came from
  config get KEY                   One setting (e.g. parallelism, xcom.backend, connections.ID)`;

/** A connection URI with its password replaced by ***. */
function maskUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}

const CONN_PREFIX = 'HANGAR_CONN_';

/** Connections by id with their source; env ids are lower-cased as Airflow does with AIRFLOW_CONN_<ID>. */
function connections(file: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  const out = new Map<string, { uri: string; source: string }>();
  const fromFile = (file.connections ?? {}) as Record<string, unknown>;
  for (const [id, uri] of Object.entries(fromFile))
    if (typeof uri === 'string') out.set(id, { uri, source: CONFIG_FILE });
  for (const [name, uri] of Object.entries(env)) {
    if (!name.startsWith(CONN_PREFIX) || !uri) continue;
    const id = name.slice(CONN_PREFIX.length).toLowerCase();
    // The environment wins over hangar.json (connections.ts); match a configured id case-insensitively.
    const configured = [...out.keys()].find(
      (k) => k.toUpperCase().replace(/[^A-Z0-9]/g, '_') === name.slice(CONN_PREFIX.length),
    );
    out.set(configured ?? id, { uri, source: `env:${name}` });
  }
  return [...out.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, c]) => {
      let type = 'unknown';
      try {
        type = new URL(c.uri).protocol.replace(/:$/, '');
      } catch {
        // reported as unknown; the task that uses it gets the parse error
      }
      return { conn_id: id, conn_type: type, source: c.source, uri: maskUri(c.uri) };
    });
}

function readConfigFile(root: string): { path: string | null; data: Record<string, unknown> } {
  const path = join(root, CONFIG_FILE);
  if (!existsSync(path)) return { path: null, data: {} };
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (data && typeof data === 'object' && !Array.isArray(data))
      return { path, data: data as Record<string, unknown> };
  } catch {
    // loadConfig (through the Runtime) reports it with the file's name
  }
  return { path, data: {} };
}

export async function infoCommand(ctx: Ctx): Promise<number> {
  return withRuntime(
    ctx,
    async (rt) => {
      const root = hangarPackageRoot();
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
      let typescript: string | null;
      try {
        const req = createRequire(join(root, 'package.json'));
        typescript = (
          JSON.parse(readFileSync(req.resolve('typescript/package.json'), 'utf8')) as { version: string }
        ).version;
      } catch {
        typescript = null;
      }
      const dbVersion = await rt.store.serverVersion();
      const file = readConfigFile(rt.config.root);
      const keyring = rt.backend instanceof HangarXComBackend ? await rt.backend.ready() : undefined;
      const usage = await rt.store.keys.usage();
      const doc = {
        versions: {
          hangar: pkg.version,
          node: process.versions.node,
          typescript,
          esbuild: esbuildVersion,
          sqlite: rt.store.sql.dialect === 'sqlite' ? dbVersion : null,
          postgres: rt.store.sql.dialect === 'postgres' ? dbVersion : null,
        },
        paths: {
          workspace: rt.config.root,
          config_file: file.path,
          dags_folder: rt.config.dagsFolder,
          store: rt.store.location,
          xcom_root: rt.config.xcomDir,
          logs: rt.config.logsDir,
        },
        executor: rt.config.executor,
        parallelism: rt.config.parallelism,
        xcom: {
          backend: rt.config.xcom.backend ?? 'database',
          keys: (keyring?.ids ?? []).map((id) => ({ key_id: id, primary: id === keyring!.primaryId, encryptions: usage.get(id) ?? 0 })),
        },
        connections: connections(file.data, process.env).map(({ conn_id, conn_type, source }) => ({
          conn_id,
          conn_type,
          source,
        })),
      };
      emit(ctx, 'info', doc, () => {
        const rows: [string, string][] = [
          ['hangar', doc.versions.hangar],
          ['node', doc.versions.node],
          ['typescript', doc.versions.typescript ?? '(not installed)'],
          ['esbuild', doc.versions.esbuild],
          doc.versions.postgres !== null ? ['postgresql', doc.versions.postgres] : ['sqlite', doc.versions.sqlite ?? ''],
          ['workspace', doc.paths.workspace],
          ['config file', doc.paths.config_file ?? '(none)'],
          ['dags folder', doc.paths.dags_folder],
          ['store', doc.paths.store],
          ['xcom root', doc.paths.xcom_root],
          ['logs', doc.paths.logs],
          ['executor', doc.executor],
          ['parallelism', String(doc.parallelism)],
          ['xcom backend', doc.xcom.backend],
          [
            'xcom keys',
            doc.xcom.keys.map((k) => `${k.key_id}${k.primary ? ' (primary)' : ''}: ${k.encryptions.toLocaleString('en-US')} encryptions`).join(', ') || '(none)',
          ],
        ];
        printTable(ctx, ['', ''], rows);
        for (const k of doc.xcom.keys) if (k.encryptions >= NONCE_WARN_AT) process.stderr.write(`hangar: ${nonceWarning(k.key_id, k.encryptions)}\n`);
        ctx.out('');
        if (doc.connections.length === 0) ctx.out('No connections');
        else
          printTable(
            ctx,
            ['connection', 'type', 'source'],
            doc.connections.map((c) => [c.conn_id, c.conn_type, c.source]),
          );
      });
      return 0;
    },
    false,
  );
}

// ---- config ------------------------------------------------------------------------

/** Settings with a default (config.ts and the XCom backends); other documented keys are unset until given. */
const DEFAULTS: Record<string, unknown> = {
  dagsFolder: 'dags',
  store: '.hangar/hangar.db',
  parallelism: 16,
  executor: 'isolated',
  workerMaxOldSpaceMb: 4096,
  'pools.default_pool': 128,
  'xcom.backend': 'database',
  'xcom.fileThreshold': 1024,
  'xcom.compression.threshold': 100,
  'xcom.objectStoreThreshold': 1024,
  'xcom.hybrid.compressThreshold': 256,
  'xcom.hybrid.offloadThreshold': 65536,
  'xcom.hybrid.maxEstimatedRatio': 0.9,
  'xcom.encryption.keyEnv': 'HANGAR_XCOM_KEYS',
  'xcom.encryption.passphraseEnv': 'HANGAR_XCOM_PASSPHRASE',
  'xcom.encryption.encryptAll': false,
  'scheduler.dagsArePausedAtCreation': false,
  'scheduler.gracePeriodSeconds': 30,
  'scheduler.pollSeconds': 5,
  'scheduler.heartbeatTimeoutSeconds': 30,
};
/** Every documented key of hangar.json (flattened), for `config get` and completion. */
export const CONFIG_KEYS = [
  ...Object.keys(DEFAULTS),
  'xcom.compression.algorithm',
  'xcom.compression.level',
  'xcom.encryption.keyFile',
  'xcom.encryption.primaryKeyId',
  'xcom.encryption.passphraseKeyId',
  'xcom.sensitiveKeywords',
  'xcom.objectStore.url',
  'xcom.objectStore.connection',
  'queue.redis',
  'queue.prefix',
  'logs.remote',
  'logs.connection',
  'logs.endpoint',
  'logs.region',
  'bundles.remote',
  'bundles.connection',
  'bundles.endpoint',
  'bundles.region',
];
/** A URL with a password in it (a store or Redis URL): printed with the password masked. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^/@]*@/i;
const SECRET_KEY = /(password|secret|token|passphrase|credential)(?!Env)/i;

interface Setting {
  key: string;
  value: unknown;
  source: string;
}

function flatten(prefix: string, v: unknown, into: Map<string, unknown>): void {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, into);
  } else into.set(prefix, v);
}

/** The effective settings, each with its source: default < hangar.json < environment < command-line flag. */
export function effectiveConfig(
  root: string,
  values: Ctx['values'],
  env: NodeJS.ProcessEnv = process.env,
): Setting[] {
  const file = readConfigFile(root);
  const settings = new Map<string, Setting>();
  for (const [key, value] of Object.entries(DEFAULTS)) settings.set(key, { key, value, source: 'default' });
  const fromFile = new Map<string, unknown>();
  flatten('', { ...file.data, connections: undefined }, fromFile);
  for (const [key, value] of fromFile) {
    if (value === undefined) continue;
    const masked = SECRET_KEY.test(key) ? '***' : typeof value === 'string' && URL_WITH_PASSWORD.test(value) ? maskUri(value) : value;
    settings.set(key, { key, value: masked, source: CONFIG_FILE });
  }
  for (const c of connections(file.data, env)) {
    settings.set(`connections.${c.conn_id}`, {
      key: `connections.${c.conn_id}`,
      value: c.uri,
      source: c.source,
    });
  }
  const keyEnv = String(settings.get('xcom.encryption.keyEnv')?.value ?? 'HANGAR_XCOM_KEYS');
  if (env[keyEnv]) {
    // Key ids only: `id:base64` pairs, the key material is never printed.
    const ids = env[keyEnv]!.split(',')
      .map((p) => p.trim().split(':')[0])
      .filter(Boolean);
    settings.set('xcom.encryption.keys', {
      key: 'xcom.encryption.keys',
      value: ids.map((id) => `${id}:***`).join(','),
      source: `env:${keyEnv}`,
    });
  }
  const passEnv = String(settings.get('xcom.encryption.passphraseEnv')?.value ?? 'HANGAR_XCOM_PASSPHRASE');
  if (env[passEnv])
    settings.set('xcom.encryption.passphrase', {
      key: 'xcom.encryption.passphrase',
      value: '***',
      source: `env:${passEnv}`,
    });
  for (const [key, name] of [
    ['store', 'HANGAR_STORE_URL'],
    ['queue.redis', 'HANGAR_REDIS_URL'],
  ] as const) {
    const v = env[name];
    if (v) settings.set(key, { key, value: URL_WITH_PASSWORD.test(v) ? maskUri(v) : v, source: `env:${name}` });
  }
  if (typeof values.executor === 'string')
    settings.set('executor', { key: 'executor', value: values.executor, source: 'cli:--executor' });
  return [...settings.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
  return d[a.length]![b.length]!;
}

/** The known keys nearest to a mistyped one. */
export function nearestKeys(key: string, known: readonly string[]): string[] {
  return known
    .map((k) => ({ k, d: Math.min(distance(key, k), distance(key, k.split('.').pop()!) + 1) }))
    .filter((x) => x.d <= Math.max(3, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, 3)
    .map((x) => x.k);
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export async function configCommand(ctx: Ctx): Promise<number> {
  const sub = need(ctx, 0, 'a subcommand: hangar config list|get KEY');
  if (sub !== 'list' && sub !== 'get') throw new UsageError(`unknown config subcommand "${sub}" (list, get)`);
  if (!existsSync(ctx.workspace)) throw new UsageError(`Workspace folder ${ctx.workspace} does not exist`);
  const settings = effectiveConfig(ctx.workspace, ctx.values);
  if (sub === 'list') {
    emit(ctx, 'config-list', settings, () =>
      printTable(
        ctx,
        ['key', 'value', 'source'],
        settings.map((s) => [s.key, show(s.value), s.source]),
      ),
    );
    return 0;
  }
  const key = need(ctx, 1, 'the key: hangar config get KEY');
  let setting = settings.find((s) => s.key === key);
  if (!setting) {
    if (!CONFIG_KEYS.includes(key)) {
      const near = nearestKeys(key, [...new Set([...CONFIG_KEYS, ...settings.map((s) => s.key)])]);
      throw new UsageError(
        `no configuration key "${key}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; see hangar config list`,
      );
    }
    setting = { key, value: null, source: 'unset' };
  }
  const s = setting;
  emit(ctx, 'config-get', s, () =>
    ctx.out(ctx.format === 'plain' ? show(s.value) : `${s.key} = ${show(s.value)}  (${s.source})`),
  );
  return 0;
}
