import type { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS } from './migrations.ts';
import type { Migration } from './migrations.ts';
import { SqliteDriver } from './sql.ts';
import type { SqlDriver } from './sql.ts';
import { openDriver } from './open.ts';
import { migrate } from './migrate.ts';
import type { StoreTarget } from './target.ts';
import { SensorRepository } from './repos/sensors.ts';
import { SyncRepository } from './repos/sync.ts';
import { DagRepository } from './repos/dags.ts';
import { RunRepository } from './repos/runs.ts';
import { TaskRepository } from './repos/tasks.ts';
import { VariableRepository } from './repos/variables.ts';
import { XComRepository } from './repos/xcoms.ts';
import { KeyRepository } from './repos/keys.ts';
import { DispatchRepository } from './repos/dispatch.ts';
import { ViewRepository } from './repos/views.ts';
import { AssetRepository } from './repos/assets.ts';

export interface StoreOptions {
  /** Extra migrations of other modules (tests), numbered after the core ones. */
  readonly extraMigrations?: readonly Migration[];
  /** SQLite: milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs?: number;
}

export { nowIso } from './clock.ts';

/**
 * The metadata store: typed repositories over one database, SQLite (the embedded
 * default, a file in WAL mode) or PostgreSQL. Every state change goes through a
 * repository and is committed before it is reported. `Store.open` applies the
 * migrations the database lacks (under a lock, so processes starting together do not
 * race) and refuses a database whose schema is newer than this code.
 */
export class Store {
  readonly target: StoreTarget;
  /** The asynchronous statement layer the repositories use (src/runtime/store/sql.ts). */
  readonly sql: SqlDriver;
  /** Sensor pokes, instances, breakers and SLA misses (repos/sensors.ts). */
  readonly sensors: SensorRepository;
  /** Sync pipelines' cursors, manifests and file results (repos/sync.ts). */
  readonly sync: SyncRepository;
  readonly dags: DagRepository;
  readonly runs: RunRepository;
  readonly tasks: TaskRepository;
  readonly variables: VariableRepository;
  /** XComs and their lineage (repos/xcoms.ts). */
  readonly xcoms: XComRepository;
  /** XCom key state: passphrase salts, rotations, encryptions per key (repos/keys.ts). */
  readonly keys: KeyRepository;
  /** Distributed execution: workers and the tries handed to them (repos/dispatch.ts). */
  readonly dispatch: DispatchRepository;
  /** What the Grid and Gantt views read (repos/views.ts). */
  readonly views: ViewRepository;
  /** Assets, their events and the queue of consuming DAGs (repos/assets.ts). */
  readonly assets: AssetRepository;

  /** Opens the store at a target (a SQLite path or a postgres:// target) and brings its schema up to date. */
  static async open(target: StoreTarget | string, options: StoreOptions = {}): Promise<Store> {
    const t: StoreTarget = typeof target === 'string' ? { kind: 'sqlite', path: target, redacted: target, location: target } : target;
    const driver = openDriver(t, { busyTimeoutMs: options.busyTimeoutMs });
    try {
      await migrate(driver, [...MIGRATIONS, ...(options.extraMigrations ?? [])]);
    } catch (err) {
      await driver.close();
      throw err;
    }
    return new Store(driver, t);
  }

  private constructor(driver: SqlDriver, target: StoreTarget) {
    this.sql = driver;
    this.target = target;
    this.sensors = new SensorRepository(this.sql);
    this.sync = new SyncRepository(this.sql);
    this.dags = new DagRepository(this.sql);
    this.runs = new RunRepository(this.sql);
    this.tasks = new TaskRepository(this.sql);
    this.variables = new VariableRepository(this.sql);
    this.xcoms = new XComRepository(this.sql);
    this.keys = new KeyRepository(this.sql);
    this.dispatch = new DispatchRepository(this.sql);
    this.views = new ViewRepository(this.sql);
    this.assets = new AssetRepository(this.sql);
  }

  /** Where the store is, for messages (a file path, or a postgres:// URL without its password). */
  get location(): string {
    return this.target.redacted;
  }

  /**
   * The SQLite connection, for what only SQLite has (file backups, `VACUUM INTO`). A
   * PostgreSQL store has none: callers say so to the user.
   */
  get db(): DatabaseSync {
    if (this.sql instanceof SqliteDriver) return this.sql.db;
    throw new Error(`This needs the embedded SQLite store; the store is PostgreSQL at ${this.target.redacted}`);
  }

  async close(): Promise<void> {
    await this.sql.close();
  }

  /** The highest migration applied. */
  async schemaVersion(): Promise<number> {
    const row = await this.sql.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    return Number(row?.v ?? 0);
  }

  /** The database's own version: SQLite's library, or the PostgreSQL server's. */
  async serverVersion(): Promise<string> {
    const row =
      this.sql.dialect === 'sqlite'
        ? await this.sql.get<{ v: string }>('SELECT sqlite_version() AS v')
        : await this.sql.get<{ v: string }>('SHOW server_version');
    return String(row?.v ?? (row as Record<string, unknown> | undefined)?.server_version ?? 'unknown');
  }
}
