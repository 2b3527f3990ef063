/**
 * Tables of the XCom key state (repos/keys.ts), migration 2, after the core
 * `xcom` and `xcom_pulls` tables (repos/xcoms.ts).
 *
 * - xcom_keys: scrypt salt and parameters of passphrase keys, by key id.
 * - xcom_key_rotation: progress of `hangar xcom rotate-key`, by target key id.
 */
export const XCOM_SCHEMA_SQL = `
CREATE TABLE xcom_keys (
  key_id TEXT PRIMARY KEY,
  kdf TEXT NOT NULL,
  salt BLOB NOT NULL,
  params TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE xcom_key_rotation (
  target_key_id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  rotated INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0
);
`;
