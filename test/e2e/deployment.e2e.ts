/**
 * A team's deployment from the editor, in a real VS Code (code-server + Chromium), from the
 * packaged .vsix: a workspace whose hangar.json points at a real PostgreSQL without its
 * password. The DAG tree says why the runtime cannot start; "Hangar: Set Deployment
 * Credential" keeps the password in VS Code's secret storage and restarts the runtime with it;
 * the DAGs appear, a run lands in PostgreSQL, and the password is in no log. And a run the
 * team's scheduler and worker make elsewhere (PostgreSQL, Redis, s3rver, `hangar run` and
 * `hangar worker` processes outside the editor) appears live in the Runs view, and its running
 * task's log follows from S3 as the worker uploads it.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/deployment-*.png)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freshDatabase } from '../helpers/postgres.ts';
import { startDeployment } from '../distributed/deployment.ts';
import { packageHangarVsix, startWorkbench, waitFor } from './harness.ts';
import type { Workbench } from './harness.ts';

const DAG = `import { dag } from 'hangar';
export const team = dag({ id: 'team_dag', schedule: null, description: 'runs against the team store' });
team.task('hello', async () => 'hello from the team store');
`;

const TALKER = `import { dag } from 'hangar';
export const d = dag({ id: 'remote_talk', schedule: null, startDate: '2024-01-01' });
const talk = d.task('talk', async () => {
  for (let i = 1; i <= 30; i++) {
    console.log('remote line ' + i);
    await new Promise((r) => setTimeout(r, 500));
  }
});
talk.before(d.task('after', async () => 'done'));
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-deploy-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('A team deployment from the editor (code-server)', { timeout: 600_000 }, () => {
  test('PostgreSQL password from secret storage: the runtime says what is missing, then starts with it; the password is never logged', async () => {
    const db = await freshDatabase();
    const url = new URL(db.url);
    const password = decodeURIComponent(url.password);
    url.password = '';
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ store: url.toString() }));
    await writeFile(join(workspace, 'dags', 'team.ts'), DAG);
    // The workbench's processes must not find the password in their own environment.
    const saved = process.env.PGPASSWORD;
    delete process.env.PGPASSWORD;
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem(
        'DAGs',
        /Runtime error: .*the server asks for a password for user "hangar" and none was given \(set PGPASSWORD, or put it in the store URL\)/,
        {
          timeoutMs: 90_000,
        },
      );
      await vs.screenshot('deployment-no-password');
      // A runtime that cannot start is not a crash: no "stopped unexpectedly; restarting it" loop.
      const notes = (await vs.notifications()).map((n) => JSON.stringify(n));
      assert.ok(!notes.some((n) => /stopped unexpectedly/.test(n)), notes.join('\n'));

      await vs.runCommand('Hangar: Set Deployment Credential (PostgreSQL, Redis, S3)...');
      await vs.pickQuickItem('PostgreSQL password');
      await vs.submitInput(password);
      await vs.waitForNotification(/PGPASSWORD stored in secret storage; the runtime restarted with it/, {
        timeoutMs: 60_000,
      });
      await vs.runCommand('Hangar: Reload DAG Files');
      await vs.waitForTreeItem('DAGs', 'team_dag', { timeoutMs: 90_000 });
      await vs.screenshot('deployment-connected');

      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('team_dag');
      await vs.waitForNotification(/run .* of team_dag succeeded/, { timeoutMs: 120_000 });
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const runs = await client.query("SELECT state FROM dag_runs WHERE dag_id = 'team_dag'");
        assert.deepEqual(runs.rows, [{ state: 'success' }]);
      } finally {
        await client.end();
      }
      const hangarLog = await vs.waitForLog(/hangar-dev\.hangar\/Hangar\.log$/, /with PGPASSWORD from secret storage/);
      const logs = hangarLog + (await vs.extensionHostLog());
      assert.ok(!logs.includes(password), 'the password is in no log');
    } finally {
      await vs.stop();
      if (saved !== undefined) process.env.PGPASSWORD = saved;
    }
  });

  test("a run the team's scheduler and worker make elsewhere appears live in the Runs view; its running task's log follows from S3", async () => {
    const dep = await startDeployment({ dags: { 'talk.ts': TALKER } });
    let vs: Workbench | undefined;
    try {
      await dep.startWorker('w1');
      vs = await startWorkbench({ workspace: dep.schedulerRoot, extensions: [vsix], env: { HANGAR_CONN_S3: dep.env.HANGAR_CONN_S3! } });
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'remote_talk', { timeoutMs: 90_000 });
      await vs.openView('Runs');
      // The team's scheduler, outside the editor (a terminal, another machine): the run goes to the worker.
      const run = dep.hangar(['run', 'remote_talk', '--workspace', dep.schedulerRoot]);
      let ended = false;
      void run.then(() => (ended = true));
      const row = await vs.waitForTreeItem('Runs', 'remote_talk', { timeoutMs: 60_000 });
      assert.equal(ended, false, 'the run is listed while it runs');
      await vs.treeItem('Runs', 'remote_talk').click();
      await waitFor('the talk task running in the Runs view', async () => {
        const items = await vs!.treeItems('Runs');
        return items.find((i) => i.level === 2 && i.label === 'talk' && /^running/.test(i.description));
      });
      assert.match(row.description + (await vs.treeItems('Runs'))[0]!.description, /running|queued/);
      // The grid: the running cell's detail follows the log the worker uploads.
      await vs.runCommand('Hangar: Show Grid');
      await vs.pickQuickItem('remote_talk');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const talkCell = frame.locator('#grid .cell[data-state="running"]').first();
      await talkCell.waitFor({ timeout: 60_000 });
      await talkCell.click();
      await frame.locator('#log[data-following="true"]').waitFor({ timeout: 20_000 });
      const lineCount = async () => ((await frame.locator('#log').innerText()).match(/remote line \d+/g) ?? []).length;
      const firstCount = await lineCount();
      await waitFor('the grid detail log to grow while the try runs elsewhere', async () =>
        (await lineCount()) > firstCount ? true : undefined,
      20_000);
      const gridText = await frame.locator('#log').innerText();
      const numbers = (gridText.match(/remote line (\d+)/g) ?? []).map((l) => Number(l.split(' ').pop()));
      assert.deepEqual(numbers, numbers.map((_, i) => i + 1), `each line once, in order: ${numbers.join(',')}`);
      await vs.screenshot('deployment-remote-grid-following');
      await vs.openView('Runs');
      await vs.treeItemContextAction('Runs', 'talk', 'Open Task Log...');
      const first = await waitFor('the log document of the running try', async () => {
        const t = await vs!.editorText();
        return /remote line \d+/.test(t) && /running \(this document follows the log\)/.test(t) ? t : undefined;
      });
      const count = (t: string) => (t.match(/remote line \d+/g) ?? []).length;
      // It grows while the try runs on the worker: lines the worker uploaded after the document opened.
      const grown = await waitFor(
        'more lines in the log document while the try runs',
        async () => {
          const t = await vs!.editorText();
          return count(t) > count(first) && /running \(this document follows the log\)/.test(t) ? t : undefined;
        },
        20_000,
      );
      await vs.screenshot('deployment-remote-log-following');
      // Its row in the Runs view says how long it has run, and that grows while nothing else happens.
      const talkRow = async () =>
        (await vs!.treeItems('Runs')).find((i) => i.level === 2 && i.label === 'talk')?.description ?? '';
      const before = await talkRow();
      await new Promise((r) => setTimeout(r, 2000));
      const later = await talkRow();
      const secs = (d: string) => Number(/ · ([\d.]+) s$/.exec(d)?.[1] ?? NaN);
      assert.ok(secs(later) > secs(before), `the running row's time grows: "${before}" then "${later}"`);
      assert.equal(ended, false, 'the log grew while the run was going');
      const r = await run;
      assert.equal(r.code, 0, r.out);
      const last = await waitFor('the whole log once the try ended', async () => {
        const t = await vs!.editorText();
        return /remote line 30/.test(t) && !/running \(this document follows the log\)/.test(t) ? t : undefined;
      });
      assert.ok(count(last) >= count(grown));
      await vs.openView('Runs');
      await waitFor('the run shown as succeeded', async () => {
        const items = await vs!.treeItems('Runs');
        return items.find((i) => i.level === 1 && i.label === 'remote_talk' && /^success/.test(i.description));
      });
      await vs.screenshot('deployment-remote-run-done');
    } finally {
      await vs?.stop();
      await dep.close();
    }
  });
});
