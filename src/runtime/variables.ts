/**
 * Variables (Airflow's Variable): key → text values kept in the store, each overridable by
 * the environment (`HANGAR_VAR_<KEY>`, as `AIRFLOW_VAR_<KEY>`: the key upper-cased), with
 * values of secret-looking keys masked wherever they are listed (Airflow's sensitive field
 * names, airflow/utils/log/secrets_masker.py DEFAULT_SENSITIVE_FIELDS).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Store } from './store/store.ts';
import { registerSecret } from './executor/logger.ts';

/** Airflow's DEFAULT_SENSITIVE_FIELDS: a key containing one of these has its value masked. */
const SENSITIVE = ['access_token', 'api_key', 'apikey', 'authorization', 'passphrase', 'passwd', 'password', 'private_key', 'secret', 'token', 'keyfile_dict', 'service_account'];

export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase();
  return SENSITIVE.some((s) => k.includes(s));
}

/**
 * Whether a value looks like a credential whatever its key: a URI with a password, a PEM block,
 * a JWT, or one long token mixing letters and digits (an API key, a hash). Used where values are
 * shown outside the runtime (the editor's completion), never to decide what is masked in logs.
 */
export function looksSecret(value: string): boolean {
  const v = value.trim();
  if (/-----BEGIN [A-Z ]+-----/.test(v)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i.test(v)) return true;
  if (/^eyJ[\w-]+\.[\w-]+\.[\w-]*$/.test(v)) return true;
  if (v.length < 20 || /\s/.test(v) || v.startsWith('{') || v.startsWith('[')) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || v.startsWith('/') || v.startsWith('./')) return false; // a URI without credentials, a path
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) return false; // a date
  return /[A-Za-z]/.test(v) && /\d/.test(v);
}

const KEY_RE = /^[A-Za-z0-9_.-]{1,250}$/;

export function checkVariableKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new Error(`invalid variable key ${JSON.stringify(key)}: use letters, digits, '_', '.', '-' (at most 250 characters)`);
  }
  return key;
}

export const envName = (key: string) => `HANGAR_VAR_${key.toUpperCase()}`;

export interface VariableEntry {
  readonly key: string;
  /** The effective value (masked as *** when listed, for a sensitive key, unless asked). */
  readonly value: string;
  readonly description: string | null;
  /** `store`, or `env:HANGAR_VAR_KEY` when the environment overrides it. */
  readonly source: string;
  readonly sensitive: boolean;
}

export class Variables {
  private readonly store: Store;
  private readonly env: NodeJS.ProcessEnv;

  constructor(store: Store, env: NodeJS.ProcessEnv = process.env) {
    this.store = store;
    this.env = env;
  }

  /** The value: the environment's `HANGAR_VAR_<KEY>` first, then the store; `fallback` (or an error) when neither has it. */
  async get(key: string, fallback?: string): Promise<string> {
    const v = await this.lookup(checkVariableKey(key));
    if (v !== undefined) {
      if (isSensitiveKey(key)) registerSecret(v.value);
      return v.value;
    }
    if (fallback !== undefined) return fallback;
    throw new Error(`variable "${key}" does not exist (set it with: hangar variables set ${key} VALUE, or ${envName(key)})`);
  }

  /** The value parsed as JSON (Airflow's Variable.get(key, deserialize_json=True)). */
  async getJson(key: string, fallback?: unknown): Promise<unknown> {
    const v = await this.lookup(checkVariableKey(key));
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`variable "${key}" does not exist (set it with: hangar variables set ${key} VALUE, or ${envName(key)})`);
    }
    if (isSensitiveKey(key)) registerSecret(v.value);
    try {
      return JSON.parse(v.value) as unknown;
    } catch (err) {
      throw new Error(`variable "${key}" (from ${v.source}) is not JSON: ${(err as Error).message}`);
    }
  }

  /**
   * A synchronous reader of every variable as they are now (the environment first, then the
   * store, read once): what a try's templates see as `var.value`/`var.json`. A value of a
   * secret-looking key is masked in logs from when it is read.
   */
  async reader(): Promise<(key: string) => string | undefined> {
    const stored = new Map((await this.store.variables.list()).map((r) => [r.key, r.val] as const));
    return (key) => {
      const value = this.env[envName(key)] ?? stored.get(key);
      if (value !== undefined && isSensitiveKey(key)) registerSecret(value);
      return value;
    };
  }

  async set(key: string, value: string, description?: string): Promise<void> {
    checkVariableKey(key);
    if (typeof value !== 'string') throw new Error(`variable "${key}": the value must be text (JSON values are stored as their JSON text)`);
    await this.store.variables.set(key, value, description ?? null);
  }

  /** Removes a stored variable; false when there was none. */
  delete(key: string): Promise<boolean> {
    return this.store.variables.delete(checkVariableKey(key));
  }

  /** Every variable (stored, and set in the environment), by key; sensitive values masked unless `reveal`. */
  async list(reveal = false): Promise<VariableEntry[]> {
    const rows = await this.store.variables.list();
    const out = new Map<string, VariableEntry>();
    for (const r of rows) out.set(r.key, this.entry(r.key, r.val, r.description, 'store', reveal));
    for (const [name, value] of Object.entries(this.env)) {
      if (!name.startsWith('HANGAR_VAR_') || value === undefined) continue;
      const stored = [...out.values()].find((e) => envName(e.key) === name);
      const key = stored?.key ?? name.slice('HANGAR_VAR_'.length).toLowerCase();
      out.set(key, this.entry(key, value, stored?.description ?? null, `env:${name}`, reveal));
    }
    return [...out.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /**
   * Imports a JSON object file of key → value (a non-string value is stored as its JSON
   * text, as Airflow's `variables import`). All or nothing: a bad file stores nothing.
   */
  async importFile(path: string): Promise<{ imported: number }> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`${path} is not JSON: ${(err as Error).message}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error(`${path} must hold a JSON object of variable key → value`);
    const entries = Object.entries(data as Record<string, unknown>);
    for (const [k] of entries) {
      try {
        checkVariableKey(k);
      } catch (err) {
        throw new Error(`${path}: ${(err as Error).message}`);
      }
    }
    await this.store.variables.setMany(entries.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as const));
    return { imported: entries.length };
  }

  /** Writes the stored variables to a JSON object file (values as stored, unmasked: the file is for re-import). */
  async exportFile(path: string): Promise<{ exported: number }> {
    const rows = await this.store.variables.list();
    writeFileSync(path, JSON.stringify(Object.fromEntries(rows.map((r) => [r.key, r.val])), null, 2) + '\n', { mode: 0o600 });
    return { exported: rows.length };
  }

  private async lookup(key: string): Promise<{ value: string; source: string } | undefined> {
    const fromEnv = this.env[envName(key)];
    if (fromEnv !== undefined) return { value: fromEnv, source: `env:${envName(key)}` };
    const val = await this.store.variables.get(key);
    return val !== undefined ? { value: val, source: 'store' } : undefined;
  }

  private entry(key: string, value: string, description: string | null, source: string, reveal: boolean): VariableEntry {
    const sensitive = isSensitiveKey(key);
    return { key, value: sensitive && !reveal ? '***' : value, description, source, sensitive };
  }
}
