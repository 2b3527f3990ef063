/**
 * Runs inside a desktop VS Code's extension host (see run.ts): the real
 * extension, the real runtime process, the real vscode API. Exported `run` is
 * what @vscode/test-electron calls; a throw fails the run.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { HangarApi } from '../../../src/extension.ts';

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const checks: [string, (api: HangarApi, workspace: string) => Promise<void>][] = [
  [
    'lists the example DAG',
    async (api) => {
      const list = await api.context.dagList();
      assert.ok(list.dags.some((d) => d.dagId === 'financial_analytics_pipeline'), JSON.stringify(list.dags.map((d) => d.dagId)));
    },
  ],
  [
    'runs it from the command and sees every task succeed',
    async (api) => {
      await vscode.commands.executeCommand('hangar.runDag', 'financial_analytics_pipeline');
      const entry = await until('the run to end', () => {
        const e = api.context.runs.model.list().find((x) => x.run.dagId === 'financial_analytics_pipeline');
        return e && (e.run.state === 'success' || e.run.state === 'failed') ? e : undefined;
      }, 120_000);
      assert.equal(entry.run.state, 'success');
    },
  ],
  [
    'reports a broken DAG file in the Problems panel at its line, and clears it when fixed',
    async (api, workspace) => {
      const file = join(workspace, 'dags', 'broken_pipeline.ts');
      writeFileSync(file, "import { dag } from 'hangar';\nexport const b = dag({ id: 'broken_pipeline' });\nconst oops = ;\n");
      await vscode.commands.executeCommand('hangar.reloadDags');
      const diags = await until('the diagnostic', () => {
        const d = vscode.languages.getDiagnostics(vscode.Uri.file(file)).filter((x) => x.source === 'hangar');
        return d.length ? d : undefined;
      });
      assert.equal(diags[0]!.range.start.line, 2);
      assert.match(diags[0]!.message, /Unexpected ";"/);
      writeFileSync(file, "import { dag } from 'hangar';\nexport const b = dag({ id: 'broken_pipeline' });\nb.task('t', async () => 1);\n");
      await vscode.commands.executeCommand('hangar.reloadDags');
      await until('the diagnostic to clear', () => (vscode.languages.getDiagnostics(vscode.Uri.file(file)).some((x) => x.source === 'hangar') ? undefined : true));
      void api;
    },
  ],
];

export async function run(): Promise<void> {
  const workspace = process.env.HANGAR_TEST_WORKSPACE;
  if (!workspace) throw new Error('HANGAR_TEST_WORKSPACE is not set (run through test/extension/desktop/run.ts)');
  const ext = vscode.extensions.getExtension<HangarApi>('hangar-dev.hangar');
  if (!ext) throw new Error('the extension hangar-dev.hangar is not loaded');
  const api = await ext.activate();
  let failed = 0;
  for (const [name, check] of checks) {
    const t = performance.now();
    try {
      await check(api, workspace);
      console.log(`✔ ${name} (${Math.round(performance.now() - t)} ms)`);
    } catch (err) {
      failed++;
      console.error(`✖ ${name}: ${(err as Error).stack ?? String(err)}`);
    }
  }
  if (failed) throw new Error(`${failed} of ${checks.length} desktop checks failed`);
}
