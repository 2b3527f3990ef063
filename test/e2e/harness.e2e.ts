/**
 * Proves the e2e harness against a real code-server workbench with a tiny probe
 * extension (test/e2e/probe-extension): palette command → notification, tree view
 * in an activity-bar container, Problems panel, node:sqlite in the extension host,
 * Restricted Mode and granting trust, and that stop() leaves no process behind.
 *
 *   bash scripts/e2e/install-code-server.sh && npx node --test test/e2e/harness.e2e.ts
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { E2E_DIR, packageVsix, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

const PROBE_COMMAND = 'Hangar Probe: Say Hello';
const PROBE_VIEW = 'Probe Items';

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-probe-'));
  vsix = packageVsix(join(E2E_DIR, 'probe-extension'), join(scratch, 'hangar-probe.vsix'));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Make a workspace folder with the file the probe puts its diagnostic on. */
async function makeWorkspace(name: string): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'probe.ts'), 'export const probe = 1;\nprobe;\n');
  return dir;
}

/** Run `body` with a workbench; on failure save diagnostics; always stop and check no process survives. */
async function withWorkbench(
  label: string,
  opts: Parameters<typeof startWorkbench>[0],
  body: (vs: Workbench) => Promise<void>,
): Promise<void> {
  const vs = await startWorkbench(opts);
  console.log(`[${label}] timings (ms): ${JSON.stringify(vs.timings)}`);
  try {
    await body(vs);
  } catch (e) {
    const dir = await vs.collectDiagnostics(`${label}-failure`);
    console.log(`[${label}] diagnostics saved in ${dir}`);
    throw e;
  } finally {
    const pidsBefore = vs.survivingProcesses();
    assert.ok(
      pidsBefore.length >= 2,
      `expected code-server and chromium processes while running, saw ${pidsBefore.length}`,
    );
    await vs.stop(); // throws if anything survives
    assert.deepEqual(vs.survivingProcesses(), [], 'no process of the workbench may survive stop()');
    for (const pid of pidsBefore)
      assert.throws(() => process.kill(pid, 0), `pid ${pid} still alive after stop()`);
  }
}

describe('e2e harness in a real code-server workbench', { timeout: 600_000 }, () => {
  test('palette command, notification, tree view, Problems and node:sqlite via the probe extension', async () => {
    const workspace = await makeWorkspace('trusted');
    await withWorkbench('probe-trusted', { workspace, extensions: [vsix] }, async (vs) => {
      await vs.screenshot('probe-01-workbench-started');
      assert.equal(await vs.isRestricted(), false, 'trust is disabled, so no Restricted Mode');

      await vs.runCommand(PROBE_COMMAND);
      const note = await vs.waitForNotification(/Hello from Hangar Probe/);
      assert.match(note.message, /node v24\.\d+\.\d+, sqlite 3\.\d+\.\d+, round trip 42$/);
      assert.deepEqual(note.buttons, ['Show Log']);
      await vs.screenshot('probe-02-notification');
      await vs.clickNotificationButton(/Hello from Hangar Probe/, 'Show Log');
      const log = await vs.waitForLog(/hangar-dev\.hangar-probe[/\\]Hangar Probe\.log$/, 'Show Log clicked');
      assert.match(log, /activated: node v24\./);

      await vs.openView(PROBE_VIEW);
      const sqliteItem = await vs.waitForTreeItem(PROBE_VIEW, /^SQLite 3\./);
      assert.equal(sqliteItem.description, 'probe');
      assert.equal(sqliteItem.level, 1);
      assert.equal(sqliteItem.expanded, undefined);
      const labels = (await vs.treeItems(PROBE_VIEW)).map((i) => i.label);
      assert.equal(labels.length, 3, JSON.stringify(labels));
      assert.match(labels[0]!, /^Node v24\./);
      assert.equal(labels[2], 'Round trip 42');
      await vs.treeItemContextAction(PROBE_VIEW, 'Round trip 42', 'Inspect Item');
      await vs.waitForNotification('Inspected Round trip 42');
      await vs.screenshot('probe-03-tree-view');

      const problem = await vs.waitForProblem('Probe diagnostic from the extension host');
      assert.deepEqual(
        {
          kind: problem.kind,
          file: problem.file,
          source: problem.source,
          line: problem.line,
          column: problem.column,
        },
        { kind: 'error', file: join(workspace, 'probe.ts'), source: 'hangar-probe', line: 2, column: 1 },
      );
      const problems = await vs.problems();
      assert.deepEqual(
        problems.map((p) => p.kind),
        ['file', 'error'],
        JSON.stringify(problems),
      );
      await vs.openFile('probe.ts');
      await vs.screenshot('probe-04-problems-and-editor');

      const hostLog = await vs.extensionHostLog();
      assert.match(hostLog, /hangar-dev\.hangar-probe/, 'extension host log mentions the probe');
    });
  });

  test('Restricted Mode keeps the probe disabled until the workspace is trusted', async () => {
    const workspace = await makeWorkspace('untrusted');
    await withWorkbench(
      'probe-restricted',
      { workspace, extensions: [vsix], workspaceTrust: 'restricted' },
      async (vs) => {
        assert.equal(
          await vs.isRestricted(),
          true,
          `status bar: ${JSON.stringify(await vs.statusBarItems())}`,
        );
        await vs.openCommandPalette();
        await vs.typeInQuickInput('Hangar Probe');
        await new Promise((r) => setTimeout(r, 1500));
        assert.deepEqual(
          (await vs.quickItems()).filter((l) => l.includes('Hangar Probe')),
          [],
          'a probe that does not support untrusted workspaces must not contribute commands in Restricted Mode',
        );
        await vs.screenshot('probe-05-restricted');
        await vs.closeQuickInput();

        await vs.trustWorkspace();
        await vs.runCommand(PROBE_COMMAND, { timeoutMs: 30_000 });
        await vs.waitForNotification(/Hello from Hangar Probe/);
        assert.equal(await vs.isRestricted(), false);
        await vs.screenshot('probe-06-trusted');
      },
    );
  });
});
