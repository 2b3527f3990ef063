/** `hangar db backup|verify|restore`: consistent backups of the store and the XCom files it refers to (src/runtime/backup.ts). */
import { loadConfig } from '../config.ts';
import { backupStore, restoreStore, verifyBackup } from '../backup.ts';
import type { BackupManifest } from '../backup.ts';
import { HangarXComBackend } from '../xcom/index.ts';
import { need, UsageError, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { emit } from './output.ts';

export const DB_HELP = `  db backup DIR                    A consistent copy of the store (while runs write) and its XCom files
  db verify DIR                    Check a backup: checksums and SQLite's integrity check
  db restore DIR [--force]         Replace the store (and put back the XCom files) from a checked backup`;

export const DB_OPTIONS = { force: { type: 'boolean' } } as const;

function summary(m: BackupManifest): Record<string, unknown> {
  return {
    created_at: m.created_at,
    schema_version: m.schema_version,
    db_bytes: m.db.bytes,
    runs: m.counts.runs,
    task_instances: m.counts.task_instances,
    xcoms: m.counts.xcoms,
    xcom_files: m.xcom_files.length,
    xcom_file_bytes: m.xcom_files.reduce((a, f) => a + f.bytes, 0),
    not_copied: m.not_copied.map((o) => ({ store: o.store, path: o.path })),
  };
}

function describe(ctx: Ctx, what: string, dir: string, m: BackupManifest): void {
  ctx.out(`${what} ${dir}: ${m.counts.runs} runs, ${m.counts.task_instances} task instances, ${m.counts.xcoms} XComs (schema ${m.schema_version}, ${m.db.bytes} bytes); ${m.xcom_files.length} XCom files`);
  for (const o of m.not_copied) ctx.out(`  not copied: ${o.store} ${o.path}`);
}

export async function dbCommand(ctx: Ctx): Promise<number> {
  const verb = need(ctx, 0, 'what to do: hangar db backup|verify|restore DIR');
  const dir = need(ctx, 1, `the backup folder: hangar db ${verb} DIR`);
  if (verb === 'backup') {
    return withRuntime(
      ctx,
      async (rt) => {
        if (!(rt.backend instanceof HangarXComBackend)) throw new Error('backups need Hangar’s own XCom backend');
        const backend = rt.backend;
        const m = backupStore(rt.store.db, rt.config, dir, (loc, value) => backend.referencedObjects(loc, value));
        emit(ctx, 'db-backup', { dir, ...summary(m) }, () => describe(ctx, 'Backed up into', dir, m));
        return 0;
      },
      false,
    );
  }
  if (verb === 'verify') {
    const m = verifyBackup(dir);
    emit(ctx, 'db-backup', { dir, ...summary(m) }, () => describe(ctx, 'Backup checked:', dir, m));
    return 0;
  }
  if (verb === 'restore') {
    const m = restoreStore(loadConfig(ctx.workspace), dir, { force: !!ctx.values.force });
    emit(ctx, 'db-backup', { dir, ...summary(m) }, () => describe(ctx, 'Restored from', dir, m));
    return 0;
  }
  throw new UsageError(`unknown "db" command "${verb}" (known: backup, verify, restore)`);
}
