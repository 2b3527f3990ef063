/**
 * Secrets in VS Code's SecretStorage (per workspace folder): XCom encryption
 * keys and S3 credentials. They go to the runtime over the protocol
 * (`secrets/set`) and nowhere else: never to settings, never to a log.
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
      return Array.isArray(v.keys) ? v.keys.filter((k) => typeof k.id === 'string' && typeof k.key === 'string') : [];
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

  /** What to hand to the runtime after it starts; undefined when nothing is stored. */
  async forRuntime(): Promise<SecretsSetParams | undefined> {
    const [keys, s3] = await Promise.all([this.xcomKeys(), this.s3()]);
    if (keys.length === 0 && !s3) return undefined;
    return { ...(keys.length ? { xcomKeys: keys, primaryKeyId: keys[0]!.id } : {}), ...(s3 ? { s3 } : {}) };
  }
}
