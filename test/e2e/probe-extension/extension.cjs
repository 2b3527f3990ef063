/* Test-only probe extension for test/e2e/harness.e2e.ts. Plain CommonJS, loaded as-is by the extension host. */
/* eslint-disable @typescript-eslint/no-require-imports */
/* global require, module */
'use strict';
const vscode = require('vscode');
// Proves the extension host's Node ships node:sqlite (Hangar's store depends on it).
const { DatabaseSync } = require('node:sqlite');

function facts() {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (x INTEGER)');
  db.prepare('INSERT INTO t (x) VALUES (?)').run(42);
  const { v } = db.prepare('SELECT sqlite_version() AS v').get();
  const { x } = db.prepare('SELECT x FROM t').get();
  db.close();
  return { node: process.version, sqlite: v, roundTrip: x };
}

class ProbeTree {
  constructor(items) {
    this.items = items;
  }
  getTreeItem(label) {
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    item.description = 'probe';
    item.iconPath = new vscode.ThemeIcon('beaker');
    return item;
  }
  getChildren(element) {
    return element ? [] : this.items;
  }
}

function activate(context) {
  const f = facts();
  const tree = new ProbeTree([`Node ${f.node}`, `SQLite ${f.sqlite}`, `Round trip ${f.roundTrip}`]);
  const diagnostics = vscode.languages.createDiagnosticCollection('hangar-probe');
  const log = vscode.window.createOutputChannel('Hangar Probe', { log: true });
  log.info(`activated: node ${f.node}, sqlite ${f.sqlite}`);
  context.subscriptions.push(
    diagnostics,
    log,
    vscode.window.createTreeView('hangarProbe.items', { treeDataProvider: tree }),
    vscode.commands.registerCommand('hangarProbe.hello', async () => {
      // An error on probe.ts line 2 of the first workspace folder, for the Problems panel helpers.
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (folder) {
        const d = new vscode.Diagnostic(
          new vscode.Range(1, 0, 1, 5),
          'Probe diagnostic from the extension host',
          vscode.DiagnosticSeverity.Error,
        );
        d.source = 'hangar-probe';
        diagnostics.set(vscode.Uri.joinPath(folder.uri, 'probe.ts'), [d]);
      }
      const choice = await vscode.window.showInformationMessage(
        `Hello from Hangar Probe: node ${f.node}, sqlite ${f.sqlite}, round trip ${f.roundTrip}`,
        'Show Log',
      );
      if (choice === 'Show Log') {
        log.info('Show Log clicked');
        log.show(true);
      }
    }),
    // Context-menu action on tree items (view/item/context).
    vscode.commands.registerCommand('hangarProbe.inspect', (label) => {
      log.info(`inspected ${label}`);
      return vscode.window.showInformationMessage(`Inspected ${label}`);
    }),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
