import { TemplateDateTime, isoformat, strftime, strptime } from './datetime.ts';
import type { ConnectionInfo } from '../dag/types.ts';

export interface TemplateContextInput {
  readonly dagId: string;
  readonly taskId: string;
  readonly runId: string;
  readonly mapIndex: number;
  readonly tryNumber: number;
  readonly logicalDate: Date;
  readonly dataIntervalStart: Date;
  readonly dataIntervalEnd: Date;
  readonly params: Readonly<Record<string, unknown>>;
  readonly conf: Readonly<Record<string, unknown>>;
  /**
   * A variable's value by key (Airflow's `var.value.key` / `var.json.key`), undefined when
   * there is none; without it, a template that reads `var` says variables are not available.
   */
  readonly variable?: (key: string) => string | undefined;
  /**
   * A connection by id (Airflow's `conn.my_conn.host`), throwing when there is none; without it,
   * a template that reads `conn` says connections are not available.
   */
  readonly connection?: (id: string) => ConnectionInfo;
}

/** Airflow's macros namespace (the parts that make sense in TypeScript). */
export const macros = Object.freeze({
  /** Adds days to a YYYY-MM-DD date: ds_add('2015-01-01', 5) → '2015-01-06'. */
  ds_add(ds: string, days: number): string {
    const d = strptime(String(ds), '%Y-%m-%d');
    if (typeof days !== 'number' || !Number.isInteger(days)) throw new Error(`days must be a whole number, got ${String(days)}`);
    return isoformat(new Date(d.getTime() + days * 86_400_000)).slice(0, 10);
  },
  /** Re-formats a date string: ds_format('1980-12-31', '%Y-%m-%d', '%m-%d-%y') → '12-31-80'. */
  ds_format(ds: string, inputFormat: string, outputFormat: string): string {
    return strftime(strptime(String(ds), String(inputFormat)), String(outputFormat));
  },
  /** Parses an ISO date or datetime into a template datetime. */
  datetime(text: string): TemplateDateTime {
    const d = new Date(text);
    if (Number.isNaN(d.getTime())) throw new Error(`"${text}" is not a date`);
    return new TemplateDateTime(d);
  },
});

/** The variables a template sees, with the values Airflow gives for the same run. */
export function buildTemplateContext(i: TemplateContextInput): Record<string, unknown> {
  const ts = isoformat(i.logicalDate);
  const ds = ts.slice(0, 10);
  const logical = new TemplateDateTime(i.logicalDate);
  const ti = Object.freeze({ task_id: i.taskId, dag_id: i.dagId, run_id: i.runId, map_index: i.mapIndex, try_number: i.tryNumber });
  return {
    ds,
    ds_nodash: ds.replaceAll('-', ''),
    ts,
    ts_nodash: ts.slice(0, 19).replace(/[-:]/g, ''),
    ts_nodash_with_tz: ts.replace(/[-:]/g, '').replace(/\.\d+/, ''),
    logical_date: logical,
    data_interval_start: new TemplateDateTime(i.dataIntervalStart),
    data_interval_end: new TemplateDateTime(i.dataIntervalEnd),
    run_id: i.runId,
    dag_id: i.dagId,
    task_id: i.taskId,
    map_index: i.mapIndex,
    try_number: i.tryNumber,
    dag: Object.freeze({ dag_id: i.dagId }),
    task: Object.freeze({ task_id: i.taskId }),
    ti,
    task_instance: ti,
    dag_run: Object.freeze({ run_id: i.runId, logical_date: logical, conf: i.conf }),
    params: i.params,
    conf: i.conf,
    macros,
    var: variableNamespace(i.variable),
    conn: connectionNamespace(i.connection),
  };
}

/**
 * Airflow's `conn` template namespace: `{{ conn.my_conn.host }}`, `{{ conn.get('my_conn').login }}`,
 * with Airflow's Connection attribute names (airflow/utils/context.py ConnectionAccessor; a
 * missing connection is an error, `get` with a default answers the default).
 */
function connectionNamespace(lookup: ((id: string) => ConnectionInfo) | undefined) {
  const read = (id: string): Record<string, unknown> => {
    if (!lookup) throw new Error(`connections are not available in this template (conn.${id})`);
    const c = lookup(id);
    return Object.freeze({
      conn_id: c.id,
      conn_type: c.type,
      host: c.host,
      schema: c.path,
      login: c.login ?? null,
      password: c.password ?? null,
      port: c.port ?? null,
      extra: JSON.stringify(c.extra),
      extra_dejson: Object.freeze({ ...c.extra }),
    });
  };
  const get = (id: unknown, fallback?: unknown) => {
    try {
      return read(String(id));
    } catch (err) {
      if (fallback !== undefined) return fallback;
      throw err;
    }
  };
  return new Proxy({} as Record<string, unknown>, {
    getOwnPropertyDescriptor: (_t, prop) =>
      typeof prop === 'string' ? { value: prop === 'get' ? get : read(prop), enumerable: true, configurable: true, writable: false } : undefined,
    // A plain read (JSON.stringify's toJSON, await's then) of a missing connection is undefined, not an error.
    get: (_t, prop) => {
      if (typeof prop !== 'string') return undefined;
      if (prop === 'get') return get;
      try {
        return read(prop);
      } catch {
        return undefined;
      }
    },
    has: (_t, prop) => typeof prop === 'string',
  });
}

/**
 * Airflow's `var` template namespace: `{{ var.value.key }}`, `{{ var.value.get('key', 'fallback') }}`,
 * `{{ var.json.key.field }}`, `{{ var.json.get('key', fallback) }}` (airflow/utils/context.py
 * VariableAccessor: a missing key is an error unless a default is given).
 */
function variableNamespace(lookup: ((key: string) => string | undefined) | undefined) {
  const read = (key: string): string | undefined => {
    if (!lookup) throw new Error(`variables are not available in this template (var.…["${key}"])`);
    return lookup(key);
  };
  const missing = (key: string) => new Error(`variable "${key}" does not exist (set it with: hangar variables set ${key} VALUE, or HANGAR_VAR_${key.toUpperCase()})`);
  const parse = (key: string, text: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new Error(`variable "${key}" is not JSON (var.json.${key}): ${(err as Error).message}`);
    }
  };
  const accessor = (convert: (key: string, text: string) => unknown) => {
    const get = (key: unknown, fallback?: unknown) => {
      const text = read(String(key));
      return text === undefined ? (fallback ?? null) : convert(String(key), text);
    };
    const valueOf = (prop: string): unknown => {
      if (prop === 'get') return get;
      const text = read(prop);
      if (text === undefined) throw missing(prop);
      return convert(prop, text);
    };
    // The template engine reads own properties (Object.hasOwn, then a read): both answer from the variables.
    return new Proxy({} as Record<string, unknown>, {
      getOwnPropertyDescriptor: (_t, prop) =>
        typeof prop === 'string' ? { value: valueOf(prop), enumerable: true, configurable: true, writable: false } : undefined,
      // A plain read (JSON.stringify's toJSON, await's then) of a missing key is undefined, not an error.
      get: (_t, prop) => (typeof prop === 'string' && (prop === 'get' || read(prop) !== undefined) ? valueOf(prop) : undefined),
      has: (_t, prop) => typeof prop === 'string' && (prop === 'get' || read(prop) !== undefined),
    });
  };
  return Object.freeze({ value: accessor((_k, text) => text), json: accessor(parse) });
}
