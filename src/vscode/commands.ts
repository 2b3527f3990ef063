/**
 * The commands, as a table: id → handler. Handlers take what a tree item,
 * a CodeLens or the palette passes (nothing: they ask with quick picks that
 * list real DAGs, runs and tasks).
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { DagBackfill, DagPause, DagRun, RunCancel,
  RunResume, RunList, TaskClear, TaskList, TaskMark, TaskRun, XComRotate, SecretsSet } from '../protocol/runtime.ts';
import type { DagInfo, RunInfo, TaskInfo, TaskInstanceInfo } from '../protocol/runtime.ts';
import { checkKeyId, checkKeyMaterial, nextKeyId, parseDateInput } from './dags-model.ts';
import { stateText, taskInstanceRow } from './runs-model.ts';
import { logUri } from './logs.ts';
import { debugDag } from './debug.ts';
import type { HangarContext } from './context.ts';
import type { DagNode, RunNode } from './views.ts';
import { XComBrowserPanel } from './panels/xcom-browser.ts';
import { DagGraphPanel } from './panels/dag-graph.ts';
import { XComBenchPanel } from './panels/xcom-bench.ts';
import { SensorPanel } from './panels/sensors.ts';
import { GridPanel } from './panels/grid.ts';
import { GanttPanel } from './panels/gantt.ts';
import { TriggerPanel } from './panels/trigger.ts';
import { pickRenderDate } from './render.ts';
import { newDag, NewDagCancelled } from './new-dag.ts';

type Handler = (ctx: HangarContext, ...args: unknown[]) => Promise<unknown>;

/** Thrown when the user dismissed a prompt: not an error worth a message. */
class Cancelled extends Error {}

function need<T>(v: T | undefined): T {
  if (v === undefined) throw new Cancelled('cancelled');
  return v;
}

// ------------------------------------------------------------------ pickers

async function pickDag(ctx: HangarContext, arg: unknown, placeHolder = 'Choose a DAG'): Promise<DagInfo> {
  const list = await ctx.dagList();
  const id = typeof arg === 'string' ? arg : (arg as DagNode | undefined)?.type === 'dag' || (arg as DagNode | undefined)?.type === 'task' ? (arg as { dag: DagInfo }).dag.dagId : undefined;
  if (id) {
    const dag = list.dags.find((d) => d.dagId === id);
    if (!dag) throw new Error(`No DAG "${id}" is loaded${list.errors.some((e) => e.dagId === id) ? ' (its file failed to load: see the Problems panel)' : ''}`);
    return dag;
  }
  if (list.dags.length === 0) throw new Error(`No DAGs in ${ctx.client.info?.dagsFolder ?? 'the DAG folder'}${list.errors.length ? ` (${list.errors.length} file(s) failed to load: see the Problems panel)` : ''}`);
  const pick = await vscode.window.showQuickPick(
    list.dags.map((d) => ({ label: d.dagId, description: `${d.tasks.length} tasks · ${d.schedule ?? 'manual'}`, detail: vscode.workspace.asRelativePath(d.file), dag: d })),
    { placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return need(pick).dag;
}

async function pickTask(dag: DagInfo, arg: unknown): Promise<TaskInfo> {
  if ((arg as DagNode | undefined)?.type === 'task') return (arg as { task: TaskInfo }).task;
  const pick = await vscode.window.showQuickPick(
    dag.tasks.map((t) => ({ label: t.taskId, description: `${t.kind}${t.upstream.length ? ` · after ${t.upstream.join(', ')}` : ''}`, task: t })),
    { placeHolder: `Choose a task of ${dag.dagId}` },
  );
  return need(pick).task;
}

async function pickRun(ctx: HangarContext, arg: unknown, filter: (r: RunInfo) => boolean = () => true): Promise<RunInfo> {
  const node = arg as RunNode | undefined;
  if (node?.type === 'run') return node.entry.run;
  if (node?.type === 'ti') {
    const r = ctx.runs.model.get(node.ti.dagId, node.ti.runId)?.run;
    if (r) return r;
  }
  const runs = (await ctx.client.request(RunList, { limit: 50 })).filter(filter);
  if (runs.length === 0) throw new Error('There is no matching run; run a DAG first (Hangar: Run DAG...)');
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.dagId, description: `${stateText(r.state)} · ${r.runId}`, run: r })),
    { placeHolder: 'Choose a run', matchOnDescription: true },
  );
  return need(pick).run;
}

async function pickTaskInstance(ctx: HangarContext, arg: unknown, filter: (t: TaskInstanceInfo) => boolean = () => true): Promise<TaskInstanceInfo> {
  const node = arg as RunNode | undefined;
  if (node?.type === 'ti') return node.ti;
  const run = await pickRun(ctx, arg);
  const tis = (await ctx.client.request(TaskList, { dagId: run.dagId, runId: run.runId })).filter(filter);
  if (tis.length === 0) throw new Error(`Run ${run.runId} of ${run.dagId} has no matching task`);
  const pick = await vscode.window.showQuickPick(
    tis.map((t) => {
      const row = taskInstanceRow(t);
      return { label: row.label, description: row.description, ti: t };
    }),
    { placeHolder: `Choose a task of run ${run.runId}` },
  );
  return need(pick).ti;
}

async function openLog(ti: Pick<TaskInstanceInfo, 'dagId' | 'runId' | 'taskId' | 'mapIndex'>): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(logUri({ dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex }));
  await vscode.window.showTextDocument(doc, { preview: false });
}

async function runWithConf(ctx: HangarContext, dag: DagInfo, conf?: Record<string, unknown>): Promise<void> {
  const run = await ctx.client.request(DagRun, { dagId: dag.dagId, ...(conf ? { conf } : {}) });
  ctx.log.info(`Triggered run ${run.runId} of ${dag.dagId}${conf ? ' with a configuration' : ''}`);
  ctx.followRun(run);
}

async function pushSecrets(ctx: HangarContext): Promise<void> {
  if (!ctx.client.isRunning) return; // handed over at the next start
  const secrets = (await ctx.secrets.forRuntime()) ?? { xcomKeys: [], s3: null };
  const r = await ctx.client.request(SecretsSet, { xcomKeys: secrets.xcomKeys ?? [], primaryKeyId: secrets.primaryKeyId, s3: secrets.s3 ?? null });
  ctx.log.info(`Secrets handed to the runtime: XCom keys ${r.xcomKeyIds.join(', ') || 'none'}; S3 credentials ${r.s3 ? 'yes' : 'no'}`);
}

// ------------------------------------------------------------------ the table

export const COMMANDS: Record<string, Handler> = {
  'hangar.runDag': async (ctx, arg) => runWithConf(ctx, await pickDag(ctx, arg, 'Choose a DAG to run')),

  'hangar.runDagWithConfig': async (ctx, arg) => {
    // The trigger form: a field per param (with its rules), the raw JSON, the logical date, recent configurations.
    TriggerPanel.show(ctx, await pickDag(ctx, arg, 'Choose a DAG to run with a configuration'));
  },

  'hangar.backfill': async (ctx, arg) => {
    const dag = await pickDag(ctx, arg, 'Choose a DAG to backfill');
    if (!dag.schedule) throw new Error(`DAG ${dag.dagId} has no schedule, so there is nothing to backfill`);
    const ask = async (what: string, value: string) =>
      parseDateInput(
        need(
          await vscode.window.showInputBox({
            title: `Backfill ${dag.dagId} (${dag.schedule})`,
            prompt: `${what} (UTC), e.g. 2024-01-01`,
            value,
            validateInput: (v) => {
              try {
                parseDateInput(v, what);
                return undefined;
              } catch (err) {
                return (err as Error).message;
              }
            },
          }),
        ),
        what,
      );
    const today = new Date().toISOString().slice(0, 10);
    const weekAgo = new Date(Date.now() - 7 * 86400_000).toISOString().slice(0, 10);
    const from = await ask('From date', weekAgo);
    const to = await ask('To date', today);
    const r = await ctx.client.request(DagBackfill, { dagId: dag.dagId, from, to });
    void vscode.window.showInformationMessage(`Hangar: backfilling ${dag.dagId}: ${r.runs} run(s) from ${from.slice(0, 10)} to ${to.slice(0, 10)}; follow them in the Runs view.`);
    ctx.runs.refresh();
  },

  'hangar.runTask': async (ctx, arg) => {
    const dag = await pickDag(ctx, arg, 'Choose the DAG of the task');
    const task = await pickTask(dag, arg);
    const run = await ctx.client.request(TaskRun, { dagId: dag.dagId, taskId: task.taskId });
    ctx.followRun(run, `Running task ${task.taskId} of ${dag.dagId}`);
  },

  'hangar.debugDag': async (ctx, arg) => debugDag(ctx, (await pickDag(ctx, arg, 'Choose a DAG to debug')).dagId),

  'hangar.clearTask': async (ctx, arg) => {
    const ti = await pickTaskInstance(ctx, arg);
    const how = need(
      await vscode.window.showQuickPick(
        [
          { label: 'Clear with downstream', description: `${ti.taskId} and every task after it`, downstream: true },
          { label: 'Clear only this task', description: ti.taskId, downstream: false },
        ],
        { placeHolder: `Clear ${ti.taskId} in run ${ti.runId} and run it again` },
      ),
    );
    const r = await ctx.client.request(TaskClear, { dagId: ti.dagId, runId: ti.runId, taskIds: [ti.taskId], downstream: how.downstream, rerun: true });
    ctx.log.info(`Cleared ${r.cleared.join(', ')} in run ${ti.runId}; running again`);
    const run = ctx.runs.model.get(ti.dagId, ti.runId)?.run ?? (await ctx.client.request(RunList, { dagId: ti.dagId, limit: 100 })).find((x) => x.runId === ti.runId);
    if (run) ctx.followRun({ ...run, state: 'queued' }, `Re-running ${r.cleared.join(', ')} of ${ti.dagId}`);
  },

  'hangar.markSuccess': async (ctx, arg) => mark(ctx, arg, 'success'),
  'hangar.markFailed': async (ctx, arg) => mark(ctx, arg, 'failed'),

  'hangar.openLog': async (ctx, arg) => openLog(await pickTaskInstance(ctx, arg, (t) => t.tryNumber > 0)),

  'hangar.showXComs': async (ctx, arg) => {
    const ti = await pickTaskInstance(ctx, arg, (t) => t.tryNumber > 0);
    XComBrowserPanel.show(ctx, { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, ...(ti.mapIndex >= 0 ? { mapIndex: ti.mapIndex } : {}) });
  },

  'hangar.openXComBrowser': async (ctx, arg) => {
    const node = arg as RunNode | undefined;
    if (node?.type === 'run') XComBrowserPanel.show(ctx, { dagId: node.entry.run.dagId, runId: node.entry.run.runId });
    else XComBrowserPanel.show(ctx);
  },

  'hangar.openXComBenchmarks': async (ctx) => {
    XComBenchPanel.show(ctx);
  },

  'hangar.openSensorPanel': async (ctx, arg) => {
    // From the Runs view: a sensor task instance opens on it; another task or a run, on that run's sensors.
    const node = arg as RunNode | DagNode | undefined;
    if (node?.type === 'ti') {
      const ti = node.ti;
      if (ti.operator === 'sensor') return SensorPanel.show(ctx, { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex });
      void vscode.window.showInformationMessage(`Hangar: ${ti.taskId} is not a sensor; showing the sensors of run ${ti.runId}.`);
      return SensorPanel.show(ctx, { dagId: ti.dagId, runId: ti.runId });
    }
    if (node?.type === 'run') return SensorPanel.show(ctx, { dagId: node.entry.run.dagId, runId: node.entry.run.runId });
    if (node?.type === 'dag' || node?.type === 'task') return SensorPanel.show(ctx, { dagId: (node as { dag: DagInfo }).dag.dagId });
    if (typeof arg === 'string') return SensorPanel.show(ctx, { dagId: arg });
    return SensorPanel.show(ctx);
  },

  'hangar.showDagGraph': async (ctx, arg) => {
    DagGraphPanel.show(ctx, (await pickDag(ctx, arg, 'Choose a DAG to show as a graph')).dagId);
  },

  'hangar.showGrid': async (ctx, arg) => {
    // From the Runs view: a task instance opens on its cell, a run on its DAG; else a DAG (tree item or picked).
    const node = arg as RunNode | undefined;
    if (node?.type === 'ti') {
      const ti = node.ti;
      return GridPanel.show(ctx, { dagId: ti.dagId, cell: { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex } });
    }
    if (node?.type === 'run') return GridPanel.show(ctx, { dagId: node.entry.run.dagId });
    return GridPanel.show(ctx, { dagId: (await pickDag(ctx, arg, 'Choose a DAG to show as a grid')).dagId });
  },

  'hangar.showGantt': async (ctx, arg) => {
    // A run (or a task instance's run) from the Runs view; a DAG from the DAGs view (its newest run); else pick a run.
    const node = arg as RunNode | DagNode | undefined;
    if (node?.type === 'dag') return GanttPanel.show(ctx, { dagId: (node as { dag: DagInfo }).dag.dagId, view: 'gantt' });
    const run = await pickRun(ctx, arg);
    return GanttPanel.show(ctx, { dagId: run.dagId, runId: run.runId, view: 'gantt' });
  },

  'hangar.showTaskDuration': async (ctx, arg) => {
    const node = arg as RunNode | undefined;
    const dagId = node?.type === 'run' ? node.entry.run.dagId : node?.type === 'ti' ? node.ti.dagId : (await pickDag(ctx, arg, 'Choose a DAG to show its task durations')).dagId;
    return GanttPanel.show(ctx, { dagId, view: 'duration' });
  },

  'hangar.cancelRun': async (ctx, arg) => {
    const run = await pickRun(ctx, arg, (r) => r.state === 'running' || r.state === 'queued');
    const r = await ctx.client.request(RunCancel, { dagId: run.dagId, runId: run.runId });
    void vscode.window.showInformationMessage(
      r.elsewhere
        ? `Hangar: asked the process running run ${run.runId} of ${run.dagId} to stop it (at its next heartbeat).`
        : r.cancelled
          ? `Hangar: stopping run ${run.runId} of ${run.dagId}.`
          : `Hangar: run ${run.runId} of ${run.dagId} has already ended.`,
    );
  },

  'hangar.resumeRun': async (ctx, arg) => {
    const run = await pickRun(ctx, arg, (r) => r.state !== 'success');
    await ctx.client.request(RunResume, { dagId: run.dagId, runId: run.runId });
    void vscode.window.showInformationMessage(`Hangar: resuming run ${run.runId} of ${run.dagId}.`);
  },

  'hangar.setEncryptionKey': async (ctx) => {
    const keys = await ctx.secrets.xcomKeys();
    const how = need(
      await vscode.window.showQuickPick(
        [
          { label: 'Generate a new key', value: 'generate' },
          { label: 'Enter an existing key', description: '32 bytes, base64', value: 'enter' },
        ],
        { placeHolder: 'The XCom encryption key is kept in VS Code\'s secret storage and handed to the runtime; it never goes to settings or logs' },
      ),
    );
    const id = need(
      await vscode.window.showInputBox({ title: 'XCom key id', value: nextKeyId(keys.map((k) => k.id)), validateInput: (v) => checkKeyId(v, keys.map((k) => k.id)) }),
    );
    const key =
      how.value === 'generate'
        ? randomBytes(32).toString('base64')
        : need(await vscode.window.showInputBox({ title: `XCom key "${id}"`, prompt: '32 random bytes in base64', password: true, validateInput: checkKeyMaterial })).trim();
    await ctx.secrets.setXComKeys([{ id, key }, ...keys]);
    await pushSecrets(ctx);
    void vscode.window.showInformationMessage(`Hangar: XCom key "${id}" is now the primary key${keys.length ? ` (${keys.length} older key(s) kept to read older values)` : ''}.`);
  },

  'hangar.rotateEncryptionKey': async (ctx) => {
    const keys = await ctx.secrets.xcomKeys();
    if (keys.length === 0) throw new Error('There is no XCom key to rotate; use "Hangar: Set Encryption Key" first');
    const id = nextKeyId(keys.map((k) => k.id));
    await ctx.secrets.setXComKeys([{ id, key: randomBytes(32).toString('base64') }, ...keys]);
    await pushSecrets(ctx);
    const r = await ctx.client.request(XComRotate, {});
    void vscode.window.showInformationMessage(
      `Hangar: new primary XCom key "${id}"; ${r.rotated} stored value(s) re-encrypted, ${r.alreadyCurrent} already current${r.failed ? `, ${r.failed} failed (still readable with their old key)` : ''}.`,
    );
  },

  'hangar.setS3Credentials': async (ctx) => {
    const accessKeyId = need(await vscode.window.showInputBox({ title: 'S3 access key id', ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'Required') })).trim();
    const secretAccessKey = need(await vscode.window.showInputBox({ title: 'S3 secret access key', password: true, ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'Required') })).trim();
    await ctx.secrets.setS3({ accessKeyId, secretAccessKey });
    await pushSecrets(ctx);
    void vscode.window.showInformationMessage('Hangar: S3 credentials stored in secret storage and handed to the runtime.');
  },

  'hangar.setDeploymentSecret': async (ctx) => {
    const what = need(
      await vscode.window.showQuickPick(
        [
          { label: 'PostgreSQL password', description: 'PGPASSWORD', value: 'PGPASSWORD' },
          { label: 'PostgreSQL store URL', description: 'HANGAR_STORE_URL (overrides hangar.json "store")', value: 'HANGAR_STORE_URL' },
          { label: 'Redis URL', description: 'HANGAR_REDIS_URL (the distributed executor\'s queue)', value: 'HANGAR_REDIS_URL' },
          { label: 'S3 connection…', description: 'HANGAR_CONN_<ID> (logs, bundles, XComs)', value: 'conn' },
        ],
        { placeHolder: 'A team deployment\'s credential: kept in VS Code\'s secret storage and given to the runtime process only' },
      ),
    );
    let name = what.value;
    let prompt: string;
    let check: (v: string) => string | undefined = (v) => (v.trim() ? undefined : 'Required');
    if (what.value === 'conn') {
      const id = need(
        await vscode.window.showInputBox({ title: 'Connection id', prompt: 'As hangar.json names it (logs.connection, xcom.objectStore.connection…)', ignoreFocusOut: true, validateInput: (v) => (/^[A-Za-z0-9_]+$/.test(v.trim()) ? undefined : 'Letters, digits and _') }),
      ).trim();
      name = `HANGAR_CONN_${id.toUpperCase()}`;
      prompt = 'aws://KEY_ID:SECRET@HOST:PORT?region_name=… (URL-encode the secret)';
      check = (v) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(v.trim()) ? undefined : 'A connection URI, e.g. aws://KEY_ID:SECRET@s3.eu-west-1.amazonaws.com:443?region_name=eu-west-1');
    } else if (what.value === 'HANGAR_REDIS_URL') {
      prompt = 'redis://[user:password@]host:port[/db], or rediss:// for TLS';
      check = (v) => (/^rediss?:\/\/[^/]+/.test(v.trim()) ? undefined : 'redis://host:port or rediss://host:port');
    } else if (what.value === 'HANGAR_STORE_URL') {
      prompt = 'postgres://user:password@host:5432/database?sslmode=verify-full';
      check = (v) => (/^postgres(ql)?:\/\//.test(v.trim()) ? undefined : 'postgres://user@host:port/database');
    } else prompt = 'The password of the store\'s PostgreSQL user';
    const value = need(await vscode.window.showInputBox({ title: name, prompt, password: true, ignoreFocusOut: true, validateInput: check })).trim();
    await ctx.secrets.setDeploymentVariable(name, value);
    await ctx.client.restart(`${name} changed`);
    void vscode.window.showInformationMessage(`Hangar: ${name} stored in secret storage; the runtime restarted with it.`);
  },

  'hangar.forgetSecrets': async (ctx) => {
    const ok = await vscode.window.showWarningMessage('Forget the XCom keys, S3 credentials and deployment credentials stored for this workspace? Values encrypted with the keys become unreadable unless you have them elsewhere.', { modal: true }, 'Forget');
    if (ok !== 'Forget') return;
    await ctx.secrets.setXComKeys([]);
    await ctx.secrets.setS3(null);
    const hadDeployment = Object.keys(await ctx.secrets.deploymentEnv()).length > 0;
    await ctx.secrets.forgetDeployment();
    if (hadDeployment) await ctx.client.restart('deployment credentials forgotten');
    else await pushSecrets(ctx);
  },

  'hangar.restartRuntime': async (ctx) => {
    await ctx.client.restart('requested by the user');
    void vscode.window.showInformationMessage(`Hangar: runtime restarted (pid ${ctx.client.info?.pid}).`);
  },

  'hangar.reloadDags': async (ctx) => {
    const l = await ctx.reload();
    ctx.runs.refresh();
    ctx.log.info(`Reloaded ${l.dags.length} DAG(s), ${l.errors.length} error(s), in ${l.ms} ms`);
  },

  'hangar.renderTemplates': async (ctx, arg, taskArg) => {
    const dag = await pickDag(ctx, arg, 'Choose a DAG whose task templates to render');
    let taskId: string;
    if (typeof taskArg === 'string') taskId = taskArg;
    else if ((arg as DagNode | undefined)?.type === 'task') taskId = (arg as { task: TaskInfo }).task.taskId;
    else {
      const templated = dag.tasks.filter((t) => t.templated);
      if (templated.length === 0) throw new Error(`No task of DAG ${dag.dagId} has templated fields (a bash command, a text input, a sensor path…)`);
      taskId = (await pickTask({ ...dag, tasks: templated }, undefined)).taskId;
    }
    const when = need(await pickRenderDate(ctx.client, dag.dagId));
    await ctx.rendered.open({ dagId: dag.dagId, taskId, ...when });
  },

  'hangar.showLog': async (ctx) => ctx.log.show(),
  'hangar.newDag': async (ctx) => newDag(ctx),
  'hangar.toggleScheduler': async (ctx) => {
    if (!ctx.workspace) throw new Error('Open a folder with DAG files first');
    // Remembered for this workspace; the configuration change turns the runtime's scheduler on or off.
    await vscode.workspace.getConfiguration('hangar').update('scheduler.enabled', !ctx.schedulerEnabled, vscode.ConfigurationTarget.Workspace);
  },
  'hangar.togglePause': async (ctx, arg) => {
    const dag = await pickDag(ctx, arg, 'Choose a DAG to pause or unpause');
    const info = await ctx.client.request(DagPause, { dagId: dag.dagId, paused: !dag.isPaused });
    await ctx.reload();
    void vscode.window.showInformationMessage(info.isPaused ? `Hangar: DAG ${dag.dagId} paused: no new scheduled runs.` : `Hangar: DAG ${dag.dagId} unpaused.`);
  },
};

async function mark(ctx: HangarContext, arg: unknown, state: 'success' | 'failed'): Promise<void> {
  const ti = await pickTaskInstance(ctx, arg, (t) => t.state !== state);
  const r = await ctx.client.request(TaskMark, { dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex, state });
  ctx.log.info(`Marked ${ti.taskId} of run ${ti.runId} ${state} (${r.marked} instance(s))`);
}

/** Runs a command handler, turning errors into messages (dismissed prompts are silent). */
export async function runCommand(ctx: HangarContext, id: string, handler: Handler, args: unknown[]): Promise<void> {
  // New DAG only writes a template into the DAG folder, so it works in Restricted Mode (src/vscode/new-dag.ts).
  if (!vscode.workspace.isTrusted && id !== 'hangar.showLog' && id !== 'hangar.newDag') {
    const pick = await vscode.window.showWarningMessage('Hangar compiles and runs the DAG files of this folder, so it does nothing in Restricted Mode. Trust the folder to use it.', 'Manage Workspace Trust');
    if (pick) await vscode.commands.executeCommand('workbench.trust.manage');
    return;
  }
  if (!ctx.workspace && id !== 'hangar.showLog') {
    void vscode.window.showWarningMessage('Hangar needs an open folder with DAG files (a "dags" folder or a hangar.json).');
    return;
  }
  try {
    await handler(ctx, ...args);
  } catch (err) {
    if (err instanceof Cancelled || err instanceof NewDagCancelled) return;
    const message = (err as Error).message;
    ctx.log.error(`${id}: ${message}`);
    void vscode.window.showErrorMessage(`Hangar: ${message}`, 'Show Log').then((p) => p && ctx.log.show());
  }
}
