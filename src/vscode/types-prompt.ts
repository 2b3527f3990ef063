/**
 * The fallback for `import … from 'hangar'` when the TypeScript server plugin
 * (src/ts-plugin) cannot help — the native TypeScript 7 server, which does not
 * load `typescriptServerPlugins`, or a DAG file the plugin does not count as one.
 * When a DAG file shows "Cannot find module 'hangar'", Hangar asks once per
 * folder whether it may add its declarations (what `hangar init` writes:
 * .hangar/types and a `paths` entry in tsconfig.json). Nothing is written unless
 * the answer is "Add"; "Never" is remembered for the folder, "Not now" for this
 * window. The writing is addTypesToFolder (src/runtime/cli/editor-types.ts, shared with init).
 */
import { join, relative } from 'node:path';
import * as vscode from 'vscode';
import { addTypesToFolder } from '../runtime/cli/editor-types.ts';
import type { HangarContext } from './context.ts';

/** TypeScript's 2307 (and 2792 under classic resolution) for `hangar` or `hangar/…`. */
const MISSING_HANGAR = /^Cannot find module 'hangar(?:\/[^']*)?'/;
const NEVER_KEY = 'hangar.types.neverAsk';
const RESTART_TS_SERVER = 'typescript.restartTsServer';

export const ADD_TYPES_PROMPT =
  'Hangar can add its type declarations to this folder: writes .hangar/types and a paths entry in tsconfig.json';

/** Whether a diagnostic is TypeScript's "Cannot find module 'hangar'". */
export function isMissingHangar(d: vscode.Diagnostic): boolean {
  return MISSING_HANGAR.test(d.message);
}

export class TypesPrompt {
  private readonly ctx: HangarContext;
  /** Folders asked in this window (whatever the answer). */
  private readonly asked = new Set<string>();

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
  }

  register(): vscode.Disposable[] {
    const check = (uris: readonly vscode.Uri[]) => {
      for (const uri of uris) this.check(uri);
    };
    check(vscode.languages.getDiagnostics().map(([uri]) => uri));
    return [vscode.languages.onDidChangeDiagnostics((e) => check(e.uris))];
  }

  private check(uri: vscode.Uri): void {
    const folder = this.ctx.workspace;
    if (!folder || !vscode.workspace.isTrusted || !this.ctx.isDagFile(uri)) return;
    if (this.asked.has(folder) || this.ctx.extension.workspaceState.get<boolean>(NEVER_KEY)) return;
    if (!vscode.languages.getDiagnostics(uri).some(isMissingHangar)) return;
    this.asked.add(folder);
    this.ctx.log.info(
      `${uri.fsPath}: TypeScript cannot find module 'hangar'; asking whether to add the declarations`,
    );
    void vscode.window
      .showInformationMessage(ADD_TYPES_PROMPT, 'Add', 'Not now', 'Never')
      .then(async (answer) => {
        if (answer === 'Never') {
          await this.ctx.extension.workspaceState.update(NEVER_KEY, true);
          this.ctx.log.info(`Not adding type declarations to ${folder}, and not asking again`);
        } else if (answer === 'Add') this.add(folder);
      });
  }

  /**
   * A file already open in TypeScript's inferred project does not move to the new
   * tsconfig.json by itself, nor on "TypeScript: Reload Project": tsserver keeps its
   * cached "no tsconfig.json here" while no watcher event says otherwise (seen in
   * code-server, test/e2e/types.e2e.ts). "TypeScript: Restart TS Server" starts afresh.
   */
  private async reloadTypeScript(): Promise<void> {
    const commands = await vscode.commands.getCommands(true);
    if (!commands.includes(RESTART_TS_SERVER)) return;
    await vscode.commands.executeCommand(RESTART_TS_SERVER).then(undefined, (err: unknown) => {
      this.ctx.log.warn(`${RESTART_TS_SERVER} failed: ${(err as Error).message}`);
    });
  }

  private add(folder: string): void {
    const dagsFolder =
      this.ctx.client.info?.dagsFolder ??
      join(folder, vscode.workspace.getConfiguration('hangar').get<string>('dagsFolder') || 'dags');
    try {
      const written = addTypesToFolder(folder, {
        root: this.ctx.extension.extensionPath,
        dagsFolder: relative(folder, dagsFolder).split('\\').join('/') || '.',
      });
      this.ctx.log.info(`Added Hangar's type declarations to ${folder}: ${written.join(', ')}`);
      void vscode.window.showInformationMessage(`Hangar wrote ${written.join(' and ')} in ${folder}.`);
      void this.reloadTypeScript();
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.error(`Adding Hangar's type declarations to ${folder} failed: ${message}`);
      void vscode.window.showErrorMessage(`Hangar could not add its type declarations: ${message}`);
    }
  }
}
