/**
 * Secrets in VS Code's SecretStorage (per workspace folder): XCom encryption
 * keys and S3 credentials, which go to the runtime over the protocol
 * (`secrets/set`), and a team deployment's credentials (the PostgreSQL password,
 * the Redis URL, S3 connections), which the runtime process gets as its
 * environment when it starts. Nowhere else: never to settings, never to a log.
 */
import type * as vscode from 'vscode';
import type { SecretsSetParams } from '../protocol/runtime.ts';

export interface StoredKeys {
  /** Primary first. */
  keys: { id: string; key: string }[];
}

export class Secrets {
  private readonly storage: vscode.SecretStorage;
  private readonly scope: string;

  constructor(storage: vscode.SecretStorage, workspace: string) {
    this.storage = storage;
    this.scope = workspace;
  }

  private name(what: string): string {
    return `hangar.${what}:${this.scope}`;
  }

  async xcomKeys(): Promise<{ id: string; key: string }[]> {
    const raw = await this.storage.get(this.name('xcomKeys'));
    if (!raw) return [];
    try {
      const v = JSON.parse(raw) as StoredKeys;
      return Array.isArray(v.keys)
        ? v.keys.filter((k) => typeof k.id === 'string' && typeof k.key === 'string')
        : [];
    } catch {
      return [];
    }
  }

  async setXComKeys(keys: { id: string; key: string }[]): Promise<void> {
    if (keys.length === 0) await this.storage.delete(this.name('xcomKeys'));
    else await this.storage.store(this.name('xcomKeys'), JSON.stringify({ keys } satisfies StoredKeys));
  }

  async s3(): Promise<SecretsSetParams['s3']> {
    const raw = await this.storage.get(this.name('s3'));
    if (!raw) return null;
    try {
      return JSON.parse(raw) as SecretsSetParams['s3'];
    } catch {
      return null;
    }
  }

  async setS3(creds: SecretsSetParams['s3']): Promise<void> {
    if (!creds) await this.storage.delete(this.name('s3'));
    else await this.storage.store(this.name('s3'), JSON.stringify(creds));
  }

  /** A deployment's credentials: environment variables of the runtime process, by name. */
  async deploymentEnv(): Promise<Record<string, string>> {
    const raw = await this.storage.get(this.name('deploymentEnv'));
    if (!raw) return {};
    try {
      const v = JSON.parse(raw) as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(v).filter(
          (e): e is [string, string] => isDeploymentVariable(e[0]) && typeof e[1] === 'string',
        ),
      );
    } catch {
      return {};
    }
  }

  /** Sets (or, with undefined, removes) one deployment variable. */
  async setDeploymentVariable(name: string, value: string | undefined): Promise<void> {
    if (!isDeploymentVariable(name))
      throw new Error(
        `${name} is not a deployment variable (PGPASSWORD, HANGAR_STORE_URL, HANGAR_REDIS_URL or HANGAR_CONN_<ID>)`,
      );
    const env = await this.deploymentEnv();
    if (value === undefined) delete env[name];
    else env[name] = value;
    if (Object.keys(env).length === 0) await this.storage.delete(this.name('deploymentEnv'));
    else await this.storage.store(this.name('deploymentEnv'), JSON.stringify(env));
  }

  async forgetDeployment(): Promise<void> {
    await this.storage.delete(this.name('deploymentEnv'));
  }

  /** What to hand to the runtime after it starts; undefined when nothing is stored. */
  async forRuntime(): Promise<SecretsSetParams | undefined> {
    const [keys, s3] = await Promise.all([this.xcomKeys(), this.s3()]);
    if (keys.length === 0 && !s3) return undefined;
    return { ...(keys.length ? { xcomKeys: keys, primaryKeyId: keys[0]!.id } : {}), ...(s3 ? { s3 } : {}) };
  }
}

/** The variables a deployment's credentials may set: nothing else reaches the runtime's environment. */
export function isDeploymentVariable(name: string): boolean {
  return (
    name === 'PGPASSWORD' ||
    name === 'HANGAR_STORE_URL' ||
    name === 'HANGAR_REDIS_URL' ||
    /^HANGAR_CONN_[A-Z0-9_]+$/.test(name)
  );
}
