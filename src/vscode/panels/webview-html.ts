/**
 * The HTML shell of every Hangar webview: one script (the panel's esbuild
 * bundle) allowed by a nonce, its stylesheet, a strict Content Security Policy,
 * and `localResourceRoots` limited to dist/webview (where the bundles, with
 * @vscode-elements/elements bundled in, are written).
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Webview options of a Hangar panel: scripts on, resources only from dist/webview. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    // No retainContextWhenHidden: the webviews keep their state with setState and rebuild when shown again.
  };
}

/** The Content Security Policy of a panel's page. */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, panel: string, title: string): string {
  const nonce = randomBytes(18).toString('base64');
  const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(root, `${panel}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(root, `${panel}.css`));
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(style.toString())}">
<title>${esc(title)}</title>
</head>
<body>
<p>Loading ${esc(title)}…</p>
<script nonce="${nonce}" src="${esc(script.toString())}"></script>
</body>
</html>`;
}
