/**
 * `hangar db backup|verify|restore`: consistent backups of the store and the XCom files it refers to (src/runtime/backup.ts).
 * `hangar db migrate|check`: the store's schema version against this Hangar's, on SQLite or PostgreSQL.
 * `hangar db copy --to postgres://…`: a SQLite history into PostgreSQL (src/runtime/store/copy.ts).
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../config.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import type { Migration } from '../store/migrations.ts';
import { migrate, schemaStatus, StoreTooNewError } from '../store/migrate.ts';
import type { SchemaStatus } from '../store/migrate.ts';
import { openDriver } from '../store/open.ts';
import { DEFAULT_STORE, parseStoreTarget, workspaceStoreTarget } from '../store/target.ts';
import { copyStore } from '../store/copy.ts';
import { Store } from '../store/store.ts';
import { describeOwner, ownerGone } from '../scheduler/owner.ts';
import type { StoreTarget } from '../store/target.ts';
import { backupStore, restoreStore, verifyBackup } from '../backup.ts';
import type { BackupManifest } from '../backup.ts';
import { HangarXComBackend } from '../xcom/index.ts';
import { CliError, fail, need, UsageError, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { emit } from './output.ts';

export const DB_HELP = `  db backup DIR                    A consistent copy of the store (while runs write) and its XCom files
  db verify DIR                    Check a backup: checksums and SQLite's integrity check
  db restore DIR [--force]         Replace the store (and put back the XCom files) from a checked backup
  db migrate [--store URL]         Apply the store's pending schema migrations (SQLite or PostgreSQL)
  db check [--store URL]           The store's schema version against this Hangar's (exit 1 when they differ)
  db copy [--to URL] [--store FILE]
                                   Copy a SQLite history (runs, tries, XComs, sensors, sync state, variables)
                                   into PostgreSQL; run again after an interruption: it adds what is missing.
                                   --to: the PostgreSQL store (default: the workspace's, if it is PostgreSQL);
                                   --store: the SQLite file (default: the workspace's, else .hangar/hangar.db)`;

export const DB_OPTIONS = { force: { type: 'boolean' }, store: { type: 'string' } } as const;

/** The store these commands work on: --store, else HANGAR_STORE_URL, else hangar.json's "store", else the default file. */
function storeTarget(ctx: Ctx): StoreTarget {
  const explicit = ctx.values.store;
  if (explicit !== undefined && (typeof explicit !== 'string' || explicit.trim() === '')) {
    throw new UsageError('--store needs a SQLite file path or a postgres:// URL');
  }
  try {
    return workspaceStoreTarget(ctx.workspace, explicit as string | undefined);
  } catch (err) {
    if (explicit !== undefined) throw new UsageError((err as Error).message);
    throw err;
  }
}

const brief = (m: Migration) => ({ version: m.version, name: m.name });

async function dbMigrate(ctx: Ctx): Promise<number> {
  const target = storeTarget(ctx);
  const sql = openDriver(target);
  try {
    const result = await migrate(sql, MIGRATIONS, (m) => {
      if (!ctx.structured) ctx.out(`applied ${m.version} ${m.name}`);
    }).catch((err: unknown) => {
      if (err instanceof StoreTooNewError) throw new CliError('store_too_new', err.message);
      throw err;
    });
    const codeVersion = Math.max(...MIGRATIONS.map((m) => m.version));
    emit(
      ctx,
      'db-migrate',
      {
        store: target.redacted,
        dialect: sql.dialect,
        applied: result.applied.map(brief),
        schema_version: result.version,
        code_version: codeVersion,
      },
      () =>
        ctx.out(
          result.applied.length
            ? `Store ${target.redacted} migrated to schema version ${result.version} (${result.applied.length} applied).`
            : `Store ${target.redacted} is up to date (schema version ${result.version}).`,
        ),
    );
    return 0;
  } finally {
    await sql.close();
  }
}

async function dbCheck(ctx: Ctx): Promise<number> {
  const target = storeTarget(ctx);
  let status: SchemaStatus;
  if (target.kind === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path)) {
    // Checking does not create the store.
    const codeVersion = Math.max(...MIGRATIONS.map((m) => m.version));
    status = {
      location: target.path,
      storeVersion: 0,
      codeVersion,
      pending: [...MIGRATIONS].sort((a, b) => a.version - b.version),
      unknown: [],
    };
  } else {
    const sql = openDriver(target);
    try {
      status = await schemaStatus(sql);
    } finally {
      await sql.close();
    }
  }
  const dialect = target.kind;
  const upToDate = status.storeVersion === status.codeVersion && status.pending.length === 0;
  emit(
    ctx,
    'db-check',
    {
      store: target.redacted,
      dialect,
      schema_version: status.storeVersion,
      code_version: status.codeVersion,
      up_to_date: upToDate,
      pending: status.pending.map(brief),
      unknown: status.unknown,
    },
    () => {
      ctx.out(
        `Store ${target.redacted}: schema version ${status.storeVersion}; this Hangar: ${status.codeVersion}.`,
      );
      for (const m of status.pending) ctx.out(`  pending ${m.version} ${m.name}`);
      for (const v of status.unknown) ctx.out(`  unknown ${v} (applied by a newer Hangar)`);
      if (status.storeVersion > status.codeVersion)
        ctx.out('The store is newer than this Hangar: upgrade Hangar to use it.');
      else if (!upToDate) ctx.out('Run "hangar db migrate" to apply the pending migrations.');
    },
  );
  if (status.storeVersion > status.codeVersion) {
    return fail(
      ctx,
      'store_too_new',
      `The store at ${status.location} has schema version ${status.storeVersion}, newer than this Hangar's ${status.codeVersion}: upgrade Hangar`,
    );
  }
  if (!upToDate) {
    return fail(
      ctx,
      'migration_pending',
      `The store at ${status.location} lacks ${status.pending.length} migration(s) of this Hangar (schema ${status.storeVersion}, code ${status.codeVersion}): run hangar db migrate`,
    );
  }
  return 0;
}

async function dbCopy(ctx: Ctx): Promise<number> {
  const workspaceTarget = workspaceStoreTarget(ctx.workspace, undefined);
  const explicitFrom = ctx.values.store;
  if (explicitFrom !== undefined && (typeof explicitFrom !== 'string' || explicitFrom.trim() === ''))
    throw new UsageError('--store needs the SQLite file to copy from');
  const from =
    explicitFrom !== undefined
      ? parseStoreTarget(explicitFrom as string, ctx.workspace, process.env, '--store')
      : workspaceTarget.kind === 'sqlite'
        ? workspaceTarget
        : parseStoreTarget(DEFAULT_STORE, ctx.workspace);
  if (from.kind !== 'sqlite')
    throw new UsageError(`--store: hangar db copy copies from a SQLite file, not ${from.redacted}`);
  const toValue = ctx.values.to;
  if (toValue !== undefined && (typeof toValue !== 'string' || toValue.trim() === ''))
    throw new UsageError('--to needs a postgres:// URL');
  const to =
    toValue !== undefined
      ? parseStoreTarget(toValue as string, ctx.workspace, process.env, '--to')
      : workspaceTarget;
  if (to.kind !== 'postgres') {
    throw new UsageError(
      toValue !== undefined
        ? `--to: hangar db copy copies into PostgreSQL; ${to.redacted} is a SQLite file`
        : "hangar db copy needs --to postgres://… (the workspace's store is SQLite)",
    );
  }
  if (!existsSync(from.path))
    throw new CliError('not_found', `No SQLite store at ${from.path}: nothing to copy`);
  const staleMs = loadConfig(ctx.workspace).scheduler.heartbeatTimeoutSeconds * 1000;
  const source = await Store.open(from);
  try {
    // A run a live runtime is running would be copied half-way and then run on in the file only.
    const live = (await source.runs.active()).filter(
      (r) => r.owner_pid !== null && !ownerGone(r, Date.now(), staleMs),
    );
    if (live.length) {
      const r = live[0]!;
      throw new CliError(
        'error',
        `Run "${r.run_id}" of DAG "${r.dag_id}" is running (${describeOwner(r)})${live.length > 1 ? ` with ${live.length - 1} other(s)` : ''}: let it end or stop its runtime, then copy`,
      );
    }
    const target = await Store.open(to);
    try {
      const tables = await copyStore(source, target, {
        onTable: (t) => {
          if (!ctx.structured && t.read > 0)
            ctx.out(`  ${t.table}: ${t.copied} copied${t.present ? `, ${t.present} already there` : ''}`);
        },
      });
      const copied = tables.reduce((a, t) => a + t.copied, 0);
      const present = tables.reduce((a, t) => a + t.present, 0);
      emit(ctx, 'db-copy', { from: from.redacted, to: to.redacted, copied, present, tables }, () =>
        ctx.out(
          `Copied ${from.redacted} into ${to.redacted}: ${copied} row(s) added, ${present} already there.`,
        ),
      );
      return 0;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

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
  ctx.out(
    `${what} ${dir}: ${m.counts.runs} runs, ${m.counts.task_instances} task instances, ${m.counts.xcoms} XComs (schema ${m.schema_version}, ${m.db.bytes} bytes); ${m.xcom_files.length} XCom files`,
  );
  for (const o of m.not_copied) ctx.out(`  not copied: ${o.store} ${o.path}`);
}

export async function dbCommand(ctx: Ctx): Promise<number> {
  const verb = need(
    ctx,
    0,
    'what to do: hangar db backup|verify|restore DIR, or hangar db migrate|check|copy',
  );
  if (verb === 'migrate') return dbMigrate(ctx);
  if (verb === 'check') return dbCheck(ctx);
  if (verb === 'copy') return dbCopy(ctx);
  const dir = need(ctx, 1, `the backup folder: hangar db ${verb} DIR`);
  if (verb === 'backup') {
    return withRuntime(
      ctx,
      async (rt) => {
        if (!(rt.backend instanceof HangarXComBackend))
          throw new Error('backups need Hangar’s own XCom backend');
        const backend = rt.backend;
        const m = backupStore(rt.store.db, rt.config, dir, (loc, value) =>
          backend.referencedObjects(loc, value),
        );
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
  throw new UsageError(
    `unknown "db" command "${verb}" (known: backup, verify, restore, migrate, check, copy)`,
  );
}
