/**
 * Hangar's VS Code extension. Activation stays cheap: it builds one context
 * object, registers the views, providers and commands (from a table) and
 * returns; the runtime process starts on first use. See src/vscode/.
 */
import * as vscode from 'vscode';
import { COMMANDS, runCommand } from './vscode/commands.ts';
import { HangarContext } from './vscode/context.ts';
import { LOG_SCHEME } from './vscode/dags-model.ts';
import { watchDebugSessions } from './vscode/debug.ts';
import { registerXComDocuments } from './vscode/panels/xcom-documents.ts';
import { TypesPrompt } from './vscode/types-prompt.ts';
import { DagTests } from './vscode/testing.ts';

let current: HangarContext | undefined;

/** What activate returns: the context, for the extension-host tests (test/extension/desktop). */
export interface HangarApi {
  readonly context: HangarContext;
}

export function activate(extension: vscode.ExtensionContext): HangarApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Hangar', { log: true });
  extension.subscriptions.push(log);
  try {
    const ctx = new HangarContext(extension, log);
    current = ctx;
    extension.subscriptions.push(
      ctx,
      vscode.window.registerTreeDataProvider('hangar.dags', ctx.dags),
      vscode.window.registerTreeDataProvider('hangar.runs', ctx.runs),
      vscode.languages.registerCodeLensProvider(
        { scheme: 'file', pattern: '**/*.{ts,mts,js,mjs}' },
        ctx.codeLens,
      ),
      vscode.workspace.registerTextDocumentContentProvider(LOG_SCHEME, ctx.logs),
      registerXComDocuments(ctx.client),
      ...ctx.rendered.register(),
      ...ctx.authoring.register(),
      ...ctx.live.register(),
      ...new TypesPrompt(ctx).register(),
      watchDebugSessions(ctx),
      new DagTests(ctx),
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (!vscode.workspace.isTrusted || !ctx.isDagFile(doc.uri)) return;
        if (!ctx.client.isRunning && !ctx.isHangarWorkspace) return;
        ctx
          .reload()
          .catch((err: unknown) =>
            log.error(`Reloading DAG files after saving ${doc.uri.fsPath} failed: ${(err as Error).message}`),
          );
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        log.info('Workspace trusted: DAG files may now be compiled and run');
        ctx.dags.refresh();
        ctx.runs.refresh();
        ctx.codeLens.refresh();
        ctx.watcher.updateStatus();
        ctx.updateSchedulerItem();
        if (ctx.schedulerEnabled) void ctx.applyScheduler();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('hangar.scheduler')) {
          ctx
            .applyScheduler()
            .catch((err: unknown) =>
              log.error(
                `Turning the scheduler ${ctx.schedulerEnabled ? 'on' : 'off'} failed: ${(err as Error).message}`,
              ),
            );
        } else if (
          e.affectsConfiguration('hangar') &&
          !e.affectsConfiguration('hangar.runs') &&
          !e.affectsConfiguration('hangar.liveStructure') &&
          ctx.client.isRunning
        ) {
          void ctx.client.restart('the hangar.* settings changed');
        } else if (e.affectsConfiguration('hangar.runs')) ctx.runs.refresh();
      }),
    );
    for (const [id, handler] of Object.entries(COMMANDS)) {
      extension.subscriptions.push(
        vscode.commands.registerCommand(id, (...args: unknown[]) => runCommand(ctx, id, handler, args)),
      );
    }
    // The scheduler was left on for this workspace: start the runtime now, so scheduled DAGs run.
    if (ctx.schedulerEnabled && ctx.isHangarWorkspace) {
      ctx.client
        .ensure()
        .catch((err: unknown) =>
          log.error(`Starting the runtime for the scheduler failed: ${(err as Error).message}`),
        );
    }
    log.info(
      `Hangar activated in ${(performance.now() - t0).toFixed(1)} ms (${vscode.workspace.isTrusted ? 'trusted' : 'Restricted Mode: nothing is compiled or run'}; the runtime starts on first use)`,
    );
    return { context: ctx };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error(`Activation failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
    void vscode.window
      .showErrorMessage(`Hangar failed to start: ${message}`, 'Show Log')
      .then((p) => p && log.show());
    throw err;
  }
}

export async function deactivate(): Promise<void> {
  await current?.client.stop(2000);
  current = undefined;
}
