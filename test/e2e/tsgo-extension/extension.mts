/**
 * TEST-ONLY STAND-IN for the marketplace extension "TypeScript (Native Preview)"
 * (TypeScriptTeam.native-preview), which Hangar's test machines cannot download (they
 * reach the npm registry only). Like that extension (typescript-go's
 * `_extension/src/client.ts`), it is a thin vscode-languageclient wrapper: it starts
 * `tsgo --lsp --stdio` (args `--lsp`, transport stdio) for JavaScript/TypeScript
 * documents, with pulled diagnostics, when `js/ts.experimental.useTsgo` (or the older
 * `typescript.experimental.useTsgo`) is true. It carries the marketplace extension's id
 * because that is what VS Code's built-in TypeScript extension looks for before it
 * stands down (it stops only when the setting is on AND one of TypeScriptTeam's
 * extensions is installed). `tsgo` comes from the npm package
 * `@typescript/native-preview` (Hangar's pinned devDependency) named by the setting
 * `typescript.native-preview.tsdk`, the marketplace extension's own setting; the
 * marketplace extension ships the same binary inside its .vsix instead.
 *
 * Bundled with esbuild and packaged by test/e2e/tsgo.e2e.ts; never published.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind } from 'vscode-languageclient/node';

const LANGUAGES = ['typescript', 'typescriptreact', 'javascript', 'javascriptreact'];

let client: LanguageClient | undefined;

/** The useTsgo setting: `js/ts.experimental.useTsgo`, else the older `typescript.experimental.useTsgo`. */
function useTsgo(): boolean | undefined {
  const unified = vscode.workspace.getConfiguration('js/ts').inspect<boolean>('experimental.useTsgo');
  const explicit = unified?.workspaceFolderValue ?? unified?.workspaceValue ?? unified?.globalValue;
  if (explicit !== undefined) return explicit;
  return vscode.workspace.getConfiguration('typescript').get<boolean>('experimental.useTsgo');
}

/** `<tsdk>/../native-preview-<platform>-<arch>/lib/tsgo`, as @typescript/native-preview's own lib/getExePath.js finds it. */
function tsgoPath(tsdk: string): { path: string; version: string } {
  const pkgFile = join(tsdk, 'package.json');
  if (!existsSync(pkgFile)) throw new Error(`typescript.native-preview.tsdk: no package.json in ${tsdk}`);
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: unknown; version?: unknown };
  if (pkg.name !== '@typescript/native-preview')
    throw new Error(
      `typescript.native-preview.tsdk: ${tsdk} is ${String(pkg.name)}, not @typescript/native-preview`,
    );
  const exe = join(tsdk, '..', `native-preview-${process.platform}-${process.arch}`, 'lib', 'tsgo');
  if (!existsSync(exe))
    throw new Error(`typescript.native-preview.tsdk: no ${exe} (platform package not installed)`);
  return { path: exe, version: String(pkg.version) };
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('typescript-native-preview', { log: true });
  context.subscriptions.push(output);
  if (useTsgo() !== true) {
    output.info('TypeScript 7 Native Preview is disabled (js/ts.experimental.useTsgo is not true).');
    return;
  }
  const tsdk = vscode.workspace.getConfiguration('typescript.native-preview').get<string>('tsdk') ?? '';
  if (!tsdk) {
    output.error('typescript.native-preview.tsdk is not set: no tsgo to start.');
    return;
  }
  const exe = tsgoPath(tsdk);
  output.info(`Resolved to ${exe.path} (${exe.version})`);
  client = new LanguageClient(
    'typescript.native-preview',
    'typescript.native-preview-lsp',
    // TransportKind.stdio appends --stdio: the server runs as `tsgo --lsp --stdio`.
    { command: exe.path, args: ['--lsp'], transport: TransportKind.stdio },
    {
      documentSelector: LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      outputChannel: output,
      diagnosticPullOptions: { onChange: true, onSave: true, onTabs: true },
    },
  );
  output.info('Starting language server...');
  await client.start();
  output.info(`Language server started: tsgo ${exe.version}`);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
