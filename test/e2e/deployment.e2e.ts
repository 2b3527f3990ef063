/**
 * A team's deployment from the editor, in a real VS Code (code-server + Chromium), from the
 * packaged .vsix: a workspace whose hangar.json points at a real PostgreSQL without its
 * password. The DAG tree says why the runtime cannot start; "Hangar: Set Deployment
 * Credential" keeps the password in VS Code's secret storage and restarts the runtime with it;
 * the DAGs appear, a run lands in PostgreSQL, and the password is in no log.
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
import { packageHangarVsix, startWorkbench } from './harness.ts';

const DAG = `import { dag } from 'hangar';
export const team = dag({ id: 'team_dag', schedule: null, description: 'runs against the team store' });
team.task('hello', async () => 'hello from the team store');
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
});
