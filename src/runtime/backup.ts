/**
 * Consistent backups of a workspace's store and of the XCom files its rows refer to
 * (`hangar db backup DIR` / `hangar db restore DIR`).
 *
 * The database is copied with SQLite's `VACUUM INTO`, which reads one consistent
 * snapshot even while runs are writing (WAL mode): copying `hangar.db` by hand
 * without its `-wal` file loses every transaction not yet checkpointed into it.
 * The XCom files are the ones the *snapshot's* rows refer to in the workspace's
 * XCom directory; objects in S3 or in another directory stay where they are and
 * are listed in the manifest. Every copied file has its SHA-256 in the manifest,
 * which restore checks, with `PRAGMA integrity_check`, before it writes anything.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { WorkspaceConfig } from './config.ts';
import type { XComLocation } from './xcom/index.ts';
import { processAlive } from './scheduler/owner.ts';

export const BACKUP_MANIFEST = 'manifest.json';
const DB_FILE = 'hangar.db';

export interface BackupManifest {
  readonly version: 1;
  readonly created_at: string;
  readonly schema_version: number;
  readonly db: { readonly file: string; readonly bytes: number; readonly sha256: string };
  readonly counts: { readonly runs: number; readonly task_instances: number; readonly xcoms: number };
  /** XCom files copied, relative to the XCom directory. */
  readonly xcom_files: readonly { readonly path: string; readonly bytes: number; readonly sha256: string }[];
  /** Objects the rows refer to that are not in the workspace's XCom directory (S3, other folders): not copied. */
  readonly not_copied: readonly { readonly store: string; readonly path: string }[];
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A path inside a root, or an error: a stored path never escapes its root. */
function inside(root: string, rel: string, what: string): string {
  const p = resolve(root, rel);
  if (p !== root && !p.startsWith(root + sep)) throw new Error(`${what} "${rel}" points outside ${root}`);
  return p;
}

function counts(db: DatabaseSync): BackupManifest['counts'] {
  const n = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
  return { runs: n('SELECT COUNT(*) AS n FROM dag_runs'), task_instances: n('SELECT COUNT(*) AS n FROM task_instances'), xcoms: n('SELECT COUNT(*) AS n FROM xcom') };
}

/** Takes a consistent backup of the store (and the XCom files it refers to) into `dest`, a new or empty folder. */
export function backupStore(
  db: DatabaseSync,
  config: WorkspaceConfig,
  dest: string,
  referencedObjects: (loc: XComLocation, value: Uint8Array) => { store: string; path: string }[],
): BackupManifest {
  const out = resolve(dest);
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty: back up into a new or empty folder`);
  mkdirSync(out, { recursive: true });
  const dbCopy = join(out, DB_FILE);
  db.prepare('VACUUM INTO ?').run(dbCopy);
  const snapshot = new DatabaseSync(dbCopy, { readOnly: true });
  const xcomFiles: { path: string; bytes: number; sha256: string }[] = [];
  const notCopied: { store: string; path: string }[] = [];
  let schema: number;
  let c: BackupManifest['counts'];
  try {
    schema = Number((snapshot.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v);
    c = counts(snapshot);
    const seen = new Set<string>();
    for (const r of snapshot.prepare('SELECT dag_id, run_id, task_id, map_index, key, value FROM xcom').iterate() as Iterable<{ dag_id: string; run_id: string; task_id: string; map_index: number; key: string; value: Uint8Array }>) {
      let refs: { store: string; path: string }[];
      try {
        refs = referencedObjects({ dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, mapIndex: r.map_index, key: r.key }, r.value);
      } catch {
        continue; // a corrupt envelope refers to nothing we can trust
      }
      for (const ref of refs) {
        const k = `${ref.store}\n${ref.path}`;
        if (seen.has(k)) continue;
        seen.add(k);
        if (ref.store !== 'xcom-root') {
          notCopied.push(ref);
          continue;
        }
        const from = inside(config.xcomDir, ref.path, 'XCom file');
        if (!existsSync(from)) {
          notCopied.push({ store: ref.store, path: `${ref.path} (missing)` });
          continue;
        }
        const to = inside(join(out, 'xcom'), ref.path, 'XCom file');
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(from, to);
        xcomFiles.push({ path: ref.path, bytes: statSync(to).size, sha256: sha256File(to) });
      }
    }
  } finally {
    snapshot.close();
  }
  const manifest: BackupManifest = {
    version: 1,
    created_at: new Date().toISOString(),
    schema_version: schema,
    db: { file: DB_FILE, bytes: statSync(dbCopy).size, sha256: sha256File(dbCopy) },
    counts: c,
    xcom_files: xcomFiles,
    not_copied: notCopied,
  };
  writeFileSync(join(out, BACKUP_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Checks a backup: the manifest, every checksum, and SQLite's integrity check. Returns the manifest. */
export function verifyBackup(src: string): BackupManifest {
  const dir = resolve(src);
  const mpath = join(dir, BACKUP_MANIFEST);
  if (!existsSync(mpath)) throw new Error(`${dir} is not a Hangar backup (no ${BACKUP_MANIFEST})`);
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(mpath, 'utf8')) as BackupManifest;
  } catch (err) {
    throw new Error(`${mpath}: not valid JSON: ${(err as Error).message}`);
  }
  if (m.version !== 1 || !m.db || !Array.isArray(m.xcom_files)) throw new Error(`${mpath}: not a manifest this Hangar reads (version ${String(m.version)})`);
  const dbFile = inside(dir, m.db.file, 'database file');
  if (!existsSync(dbFile)) throw new Error(`${dbFile} is missing`);
  if (sha256File(dbFile) !== m.db.sha256) throw new Error(`${dbFile} does not match its checksum in the manifest (damaged or altered)`);
  for (const f of m.xcom_files) {
    const p = inside(join(dir, 'xcom'), f.path, 'XCom file');
    if (!existsSync(p)) throw new Error(`XCom file ${f.path} is missing from the backup`);
    if (sha256File(p) !== f.sha256) throw new Error(`XCom file ${f.path} does not match its checksum in the manifest (damaged or altered)`);
  }
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    const rows = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
    if (rows.length !== 1 || rows[0]!.integrity_check !== 'ok') throw new Error(`${dbFile}: integrity check failed: ${rows.map((r) => r.integrity_check).join('; ')}`);
  } finally {
    db.close();
  }
  return m;
}

/**
 * Restores a checked backup into the workspace: its store is replaced and the XCom files are put back.
 * Refuses while a live process owns a run in the store, and, unless `force`, when the store already holds runs.
 */
export function restoreStore(config: WorkspaceConfig, src: string, options: { force?: boolean } = {}): BackupManifest {
  if (config.storeTarget.kind === 'postgres') {
    throw new Error(
      `The store is PostgreSQL at ${config.storeTarget.redacted}: hangar db restore replaces a SQLite file. Restore a PostgreSQL store with pg_restore; to move a SQLite backup into it, restore the backup into a SQLite workspace and run hangar db copy --store FILE there`,
    );
  }
  const m = verifyBackup(src);
  const dir = resolve(src);
  if (config.storePath === ':memory:') throw new Error('The store is in memory: nothing to restore into');
  if (existsSync(config.storePath)) {
    const db = new DatabaseSync(config.storePath, { readOnly: true });
    try {
      const owners = db.prepare("SELECT DISTINCT owner_pid AS pid FROM dag_runs WHERE state IN ('running', 'queued') AND owner_pid IS NOT NULL").all() as { pid: number }[];
      const live = owners.filter((o) => processAlive(o.pid));
      if (live.length) throw new Error(`A runtime (pid ${live.map((o) => o.pid).join(', ')}) is running runs in ${config.storePath}: stop it before restoring`);
      const runs = Number((db.prepare('SELECT COUNT(*) AS n FROM dag_runs').get() as { n: number }).n);
      if (runs > 0 && !options.force) throw new Error(`${config.storePath} already holds ${runs} run(s): restoring replaces them (use --force to replace them)`);
    } finally {
      db.close();
    }
  }
  mkdirSync(dirname(config.storePath), { recursive: true });
  for (const suffix of ['-wal', '-shm']) rmSync(config.storePath + suffix, { force: true });
  copyFileSync(join(dir, m.db.file), config.storePath);
  for (const f of m.xcom_files) {
    const to = inside(config.xcomDir, f.path, 'XCom file');
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(dir, 'xcom', f.path), to);
  }
  return m;
}
