import { TemplateDateTime, isoformat, strftime, strptime } from './datetime.ts';

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
  };
}
