/**
 * The "Get started with Hangar" walkthrough in a real VS Code (code-server + Chromium), from the
 * packaged .vsix: "Welcome: Open Walkthrough..." lists it, it opens on its first step with the
 * step's button and its markdown page (rendered from the .vsix); opening the Hangar view completes
 * that step (onView:hangar.dags), and the second step's button runs Hangar: Run DAG... and
 * completes its step (onCommand:hangar.runDag).
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/walkthrough-*.png)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

const DAG = `import { dag } from 'hangar';
export const hello = dag({ id: 'walkthrough_hello', schedule: null, description: 'the walkthrough runs it' });
hello.task('hello', async () => 'hello');
`;

/** Waits until a step's markdown page (a webview frame) shows `heading` as its title. */
async function pageHeading(vs: Workbench, heading: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  while (Date.now() < deadline) {
    for (const f of vs.page.frames()) {
      const text = (
        await f
          .locator('h1')
          .first()
          .textContent({ timeout: 200 })
          .catch(() => null)
      )?.trim();
      if (text === heading) return;
      if (text) seen.add(text);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no walkthrough page titled "${heading}"; saw ${JSON.stringify([...seen])}`);
}

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-walkthrough-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Walkthrough (code-server)', { timeout: 600_000 }, () => {
  test('opens on its first step, with its button and page; a step button runs its command and completes the step', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'dags', 'hello.ts'), DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.runCommand('Welcome: Open Walkthrough...');
      await vs.pickQuickItem('Get started with Hangar');
      const page = vs.page;
      const container = page.locator('.gettingStartedContainer');
      await container
        .getByText('Get started with Hangar', { exact: true })
        .first()
        .waitFor({ timeout: 30_000 });

      const steps = container.locator('button.getting-started-step');
      await steps.first().waitFor({ timeout: 30_000 });
      const ids = await steps.evaluateAll((els) => els.map((e) => e.getAttribute('data-step-id') ?? ''));
      assert.deepEqual(
        ids.map((id) => id.split('#').pop()),
        ['open', 'runDag', 'grid', 'xcom', 'encryptionKey'],
      );

      // The first step is the one shown: expanded, its title, its button, its markdown page.
      const first = steps.first();
      await container
        .locator('button.getting-started-step[aria-expanded="true"][data-step-id$="#open"]')
        .waitFor({ timeout: 30_000 });
      assert.match((await first.textContent()) ?? '', /Open or scaffold a workspace/);
      await first
        .getByRole('button', { name: 'Open Folder' })
        .or(first.getByText('Open Folder', { exact: true }))
        .first()
        .waitFor();
      await pageHeading(vs, 'Open or scaffold a workspace');
      await vs.screenshot('walkthrough-first-step');

      // Opening the Hangar view with the workspace's DAGs completes it (onView:hangar.dags).
      assert.equal(await first.getAttribute('aria-checked'), 'false');
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'walkthrough_hello', { timeoutMs: 90_000 });
      await container
        .locator('button.getting-started-step[aria-checked="true"][data-step-id$="#open"]')
        .waitFor({ timeout: 30_000 });

      // The second step's button runs Hangar: Run DAG..., and running it completes the step.
      const run = steps.nth(1);
      assert.equal(await run.getAttribute('aria-checked'), 'false');
      await run.click();
      // Its page loads in a webview that takes focus when it is ready: a quick pick opened before would close.
      await pageHeading(vs, 'Run a DAG');
      await run.getByText('Run DAG', { exact: true }).first().click();
      await vs.pickQuickItem('walkthrough_hello', { timeoutMs: 90_000 });
      await vs.waitForNotification(/run .* of walkthrough_hello succeeded/, { timeoutMs: 120_000 });
      await container
        .locator('button.getting-started-step[aria-checked="true"][data-step-id$="#runDag"]')
        .waitFor({ timeout: 30_000 });
      await vs.screenshot('walkthrough-ran-dag');
    } catch (e) {
      await vs.collectDiagnostics('walkthrough');
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
