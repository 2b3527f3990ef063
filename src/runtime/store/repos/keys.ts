/**
 * XCom key state in the metadata store: passphrase salts (`xcom_keys`), the
 * progress of key rotations (`xcom_key_rotation`) and encryptions counted per
 * key (`xcom_key_usage`, for the AES-GCM nonce limit). No key material is ever
 * stored: a passphrase key is derived again from its salt.
 */
import type { Sql } from '../sql.ts';

/** The salt and scrypt parameters (JSON) of a passphrase key. */
export interface PassphraseSalt {
  readonly kdf: string;
  readonly salt: Uint8Array;
  readonly params: string;
}

/** A rotation to a target key: when it started, its last progress, whether it finished. */
export interface KeyRotationRecord {
  readonly target_key_id: string;
  readonly started_at: string;
  readonly updated_at: string;
  readonly finished_at: string | null;
  readonly rotated: number;
  readonly failed: number;
}

export class KeyRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  // ---- passphrase salts ----------------------------------------------------------

  async salt(keyId: string): Promise<PassphraseSalt | undefined> {
    return this.sql.get<PassphraseSalt>('SELECT kdf, salt, params FROM xcom_keys WHERE key_id = ?', keyId);
  }

  /**
   * The salt of a passphrase key, created from `fresh` on first use. Two processes creating
   * it together agree: the first insert wins and both read it.
   */
  async saltOrCreate(keyId: string, fresh: () => PassphraseSalt): Promise<PassphraseSalt> {
    const found = await this.salt(keyId);
    if (found) return found;
    const f = fresh();
    await this.sql.run(
      'INSERT INTO xcom_keys (key_id, kdf, salt, params, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING',
      keyId,
      f.kdf,
      f.salt,
      f.params,
      new Date().toISOString(),
    );
    const row = await this.salt(keyId);
    if (!row) throw new Error(`The salt of XCom passphrase key "${keyId}" was not stored`);
    return row;
  }

  /** Passphrase keys whose salts the store holds. */
  async salts(): Promise<(PassphraseSalt & { key_id: string })[]> {
    return this.sql.all('SELECT key_id, kdf, salt, params FROM xcom_keys ORDER BY key_id');
  }

  // ---- encryptions per key (nonce limit) ------------------------------------------

  /** Adds `n` encryptions under a key; returns the key's total. */
  async recordEncryptions(keyId: string, n = 1, at: string = new Date().toISOString()): Promise<number> {
    const row = await this.sql.get<{ encryptions: number }>(
      `INSERT INTO xcom_key_usage (key_id, encryptions, first_at, last_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key_id) DO UPDATE SET encryptions = xcom_key_usage.encryptions + excluded.encryptions, last_at = excluded.last_at
       RETURNING encryptions`,
      keyId,
      n,
      at,
      at,
    );
    return Number(row?.encryptions ?? 0);
  }

  /** Encryptions recorded per key. */
  async usage(): Promise<Map<string, number>> {
    const rows = await this.sql.all<{ key_id: string; encryptions: number }>('SELECT key_id, encryptions FROM xcom_key_usage ORDER BY key_id');
    return new Map(rows.map((r) => [r.key_id, Number(r.encryptions)]));
  }

  /** Sets a key's count (an operator resetting it after moving to a new key; tests of the warning). */
  async setEncryptions(keyId: string, encryptions: number, at: string = new Date().toISOString()): Promise<void> {
    await this.sql.run(
      `INSERT INTO xcom_key_usage (key_id, encryptions, first_at, last_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key_id) DO UPDATE SET encryptions = excluded.encryptions, last_at = excluded.last_at`,
      keyId,
      encryptions,
      at,
      at,
    );
  }

  // ---- rotation progress ------------------------------------------------------------

  /** Starts (or restarts) a rotation to `target`: not finished until finishRotation. */
  async startRotation(target: string, at: string = new Date().toISOString()): Promise<void> {
    await this.sql.run(
      `INSERT INTO xcom_key_rotation (target_key_id, started_at, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (target_key_id) DO UPDATE SET updated_at = excluded.updated_at, finished_at = NULL`,
      target,
      at,
      at,
    );
  }

  /** Adds rows rotated and sets the failures of the current pass. */
  async recordRotation(target: string, rotated: number, failed: number, at: string = new Date().toISOString()): Promise<void> {
    await this.sql.run('UPDATE xcom_key_rotation SET updated_at = ?, rotated = rotated + ?, failed = ? WHERE target_key_id = ?', at, rotated, failed, target);
  }

  async finishRotation(target: string, at: string = new Date().toISOString()): Promise<void> {
    await this.sql.run('UPDATE xcom_key_rotation SET finished_at = ? WHERE target_key_id = ?', at, target);
  }

  async rotation(target: string): Promise<KeyRotationRecord | undefined> {
    const r = await this.sql.get<KeyRotationRecord>('SELECT * FROM xcom_key_rotation WHERE target_key_id = ?', target);
    return r && { ...r, rotated: Number(r.rotated), failed: Number(r.failed) };
  }

  async rotations(): Promise<KeyRotationRecord[]> {
    const rows = await this.sql.all<KeyRotationRecord>('SELECT * FROM xcom_key_rotation ORDER BY started_at, target_key_id');
    return rows.map((r) => ({ ...r, rotated: Number(r.rotated), failed: Number(r.failed) }));
  }
}
