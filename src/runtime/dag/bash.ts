import { spawn } from 'node:child_process';
import type { TaskContext } from './types.ts';

/** Runs a rendered shell command as Airflow's BashOperator does; returns the last stdout line. */
export async function runBash(
  ctx: TaskContext,
  command: string,
  env: Record<string, string> | undefined,
  cwd: string | undefined,
): Promise<string> {
  ctx.log.info(`Running command: ${command}`);
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: cwd ?? ctx.tmpDir,
    env: {
      ...process.env,
      AIRFLOW_CTX_DAG_ID: ctx.dagId,
      AIRFLOW_CTX_TASK_ID: ctx.taskId,
      AIRFLOW_CTX_DAG_RUN_ID: ctx.runId,
      AIRFLOW_CTX_TRY_NUMBER: String(ctx.tryNumber),
      AIRFLOW_CTX_LOGICAL_DATE: ctx.logicalDate.toISOString(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: ctx.signal,
  });
  let last = '';
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      ctx.log.info(line);
      if (line.trim() !== '') last = line;
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line) ctx.log.warn(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  if (buffered) {
    ctx.log.info(buffered);
    if (buffered.trim() !== '') last = buffered;
  }
  if (code !== 0) throw new Error(`Bash command failed with exit code ${code}`);
  return last;
}
