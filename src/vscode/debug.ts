/**
 * Debug DAG: a VS Code debug session (the built-in js-debug, type `node`) that
 * runs the DAG (src/runtime/server/debug-run.ts) in the runtime's in-process mode. Compiled DAG
 * modules carry inline source maps pointing at the .ts files, so breakpoints set
 * in the DAG file are hit with the task's context in scope.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { HangarContext } from './context.ts';

/** The bundled debug entry in an installed extension; the TypeScript source in a development checkout (Node 24 runs it). */
function debugProgram(ctx: HangarContext): string {
  const bundled = ctx.extension.asAbsolutePath(join('dist', 'runtime', 'debug.mjs'));
  return existsSync(bundled) ? bundled : ctx.extension.asAbsolutePath(join('src', 'runtime', 'server', 'debug-run.ts'));
}

export function debugConfiguration(ctx: HangarContext, dagId: string): vscode.DebugConfiguration {
  const ws = ctx.workspace!;
  const cache = join(ws, '.hangar', 'cache');
  return {
    type: 'node',
    request: 'launch',
    name: `Hangar: debug ${dagId}`,
    program: debugProgram(ctx),
    args: [dagId, ws],
    cwd: ws,
    runtimeExecutable: vscode.workspace.getConfiguration('hangar').get<string>('runtime.nodePath')?.trim() || process.execPath,
    env: { ELECTRON_RUN_AS_NODE: '1' },
    sourceMaps: true,
    // Compiled DAG modules live in the workspace's compile cache; their inline maps point at the .ts files.
    outFiles: [`${cache}/**/*.mjs`, `${cache}/**/*.js`],
    resolveSourceMapLocations: [`${ws}/**`, `${cache}/**`, '!**/node_modules/**'],
    skipFiles: ['<node_internals>/**', `${ctx.extension.extensionPath}/dist/**`],
    console: 'internalConsole',
    outputCapture: 'std',
    __hangarDag: dagId,
  };
}

export async function debugDag(ctx: HangarContext, dagId: string): Promise<void> {
  // Loading compiles the DAG files into the cache, so the debugger finds their source maps up front.
  await ctx.dagList();
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === ctx.workspace);
  const ok = await vscode.debug.startDebugging(folder, debugConfiguration(ctx, dagId));
  if (!ok) throw new Error(`VS Code did not start the debug session for ${dagId} (is the built-in JavaScript debugger enabled?)`);
  ctx.log.info(`Debug session started for DAG ${dagId} (in-process executor)`);
}

/** Refreshes the Runs tree when a Hangar debug session ends (it ran in its own process). */
export function watchDebugSessions(ctx: HangarContext): vscode.Disposable {
  return vscode.debug.onDidTerminateDebugSession((s) => {
    if (s.configuration.__hangarDag) ctx.runs.refresh();
  });
}
