/**
 * The trigger form in a real VS Code (code-server + Chromium), from the packaged .vsix:
 * "Hangar: Run DAG with Config..." on a DAG with params opens a field per param (defaults
 * filled, descriptions shown); a value breaking a param's rule is marked under its field
 * as it is typed and Trigger is refused with the runtime's message (no run is created);
 * a conf typed in the JSON tab fills the fields, and Trigger with a logical date creates
 * a run with exactly that conf (read back from the store); the configuration is then
 * offered as a recent one; the form keeps its values when hidden and shown again; text
 * contrast ≥ 4.5:1 in the dark, light and both high-contrast themes (the measure of themes.e2e.ts).
 * Date params (format date / date-time) are native pickers: a bad date typed in the JSON tab is
 * refused with the param's format, a date picked in the form is in the run's conf, a date and
 * time picked in the browser's time zone (Asia/Kolkata here, UTC+05:30) reaches the conf as UTC,
 * and so does the logical date picked there.
 *
 *   flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/trigger.e2e.ts
 *   (screenshots: test-results/e2e/trigger-*.png)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';
import { contrastFailures, measure, panelFrame } from './contrast.ts';
import type { Measured, Spec } from './contrast.ts';

const DAG = `import { dag, param } from 'hangar';

export const d = dag({
  id: 'trigger_demo',
  schedule: null,
  description: 'Loads some rows into a table',
  params: {
    n: param(10, { type: 'integer', minimum: 1, maximum: 100, description: 'how many rows' }),
    mode: param('fast', { enum: ['fast', 'slow'] }),
    table: param(undefined as unknown as string, { type: 'string', pattern: '^[a-z_]+$', description: 'the target table' }),
    dry: param(false, { type: 'boolean', description: 'only pretend' }),
    tags: param(['daily'], { type: 'array', maxItems: 3 }),
    report_date: param('2024-03-01', { type: 'string', format: 'date', description: 'the day to report on' }),
    not_before: param<string | null>(null, { type: ['null', 'string'], format: 'date-time' }),
  },
});
d.task('load', async (ctx) => ctx.params);
`;

const SPECS: Spec[] = [
  { name: 'title', text: '#title' },
  { name: 'DAG description', text: '#dag-description' },
  { name: 'rule hint', text: '.field[data-param="n"] .hint' },
  { name: 'param description', text: '.field[data-param="n"] .description' },
  { name: 'field error', text: '#err-n' },
  { name: 'conf error', text: '#conf-error' },
  { name: 'status', text: '#status' },
  { name: 'date picker text', text: '#p-report_date >>> input' },
  { name: 'date-time picker text', text: '#p-not_before >>> input' },
  { name: 'logical date picker text', text: '#logical-date >>> input' },
  { name: 'date-time hint', text: '.field[data-param="not_before"] .hint' },
];

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-trigger-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('trigger form (code-server)', { timeout: 600_000 }, () => {
  test("a bad value is refused with the param's rule; a good conf triggers a run with that conf", async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags' }));
    await writeFile(join(workspace, 'dags', 'trigger_demo.ts'), DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix], timezoneId: 'Asia/Kolkata' });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'trigger_demo', { timeoutMs: 90_000 });
      await vs.runCommand('Hangar: Run DAG with Config...');
      await vs.pickQuickItem('trigger_demo');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      await frame.locator('#p-n').waitFor({ timeout: 60_000 });
      const value = (sel: string) =>
        frame.locator(sel).evaluate((e) => (e as unknown as { value: string }).value);

      // A field per param, defaults filled, descriptions shown.
      assert.equal(await frame.locator('#title').innerText(), 'Trigger DAG: trigger_demo');
      assert.deepEqual(
        await frame
          .locator('.field[data-param]')
          .evaluateAll((fs) => fs.map((f) => f.getAttribute('data-param'))),
        ['n', 'mode', 'dry', 'tags', 'report_date', 'not_before', 'table'],
      );
      assert.equal(await value('#p-n'), '10');
      assert.equal(await value('#p-mode'), '"fast"');
      assert.equal(await frame.locator('#p-n').evaluate((e) => e.tagName.toLowerCase()), 'vscode-textfield');
      assert.equal(
        await frame.locator('#p-mode').evaluate((e) => e.tagName.toLowerCase()),
        'vscode-single-select',
      );
      assert.equal(await frame.locator('#p-dry').evaluate((e) => e.tagName.toLowerCase()), 'vscode-checkbox');
      assert.equal(
        await frame.locator('#p-tags').evaluate((e) => e.tagName.toLowerCase()),
        'vscode-textarea',
      );
      // Date params: vscode-textfield around a native date / datetime-local input; the logical date too.
      const inputType = (sel: string) =>
        frame.locator(`${sel} input`).evaluate((e) => e.getAttribute('type'));
      assert.equal(
        await frame.locator('#p-report_date').evaluate((e) => e.tagName.toLowerCase()),
        'vscode-textfield',
      );
      assert.equal(await inputType('#p-report_date'), 'date');
      assert.equal(await inputType('#p-not_before'), 'datetime-local');
      assert.equal(await inputType('#logical-date'), 'datetime-local');
      assert.equal(await value('#p-report_date'), '2024-03-01', 'the default in the picker');
      assert.equal(await value('#p-not_before'), '', 'null: an empty picker');
      // Chromium's ICU names the zone by its older alias, Asia/Calcutta.
      assert.match(
        await frame.locator('.field[data-param="not_before"] .hint').innerText(),
        /^null or string, format date-time, in Asia\/(Kolkata|Calcutta) \(UTC\+05:30\), sent as UTC$/,
      );
      assert.match(
        await frame.locator('#date-hint').innerText(),
        /In Asia\/(Kolkata|Calcutta) \(UTC\+05:30\)/,
      );
      assert.equal(await frame.locator('.field[data-param="n"] .description').innerText(), 'how many rows');
      assert.equal(await frame.locator('.field[data-param="n"] .hint').innerText(), 'integer, ≥ 1, ≤ 100');
      assert.equal(
        await frame.locator('.field[data-param="dry"] .hint').count(),
        0,
        'a checkbox needs no type hint',
      );
      assert.equal(
        await frame.locator('#err-table').innerText(),
        'has no default: give a value',
        'the required param is marked before anything is typed',
      );

      // A bad value: marked under its field as it is typed, and Trigger refused with the runtime's words.
      await frame.locator('#p-table input').fill('orders');
      assert.equal(await frame.locator('#err-table').innerText(), '');
      await frame.locator('#p-n input').fill('0');
      assert.equal(await frame.locator('#err-n').innerText(), '0 is less than the minimum of 1');
      const runtimeSays =
        'DAG "trigger_demo": param "n" (from the run\'s conf) 0 is less than the minimum of 1 — how many rows';
      assert.equal(await frame.locator('#conf-error').innerText(), runtimeSays);
      await frame.locator('#trigger').click();
      assert.equal(
        await frame.locator('#status').innerText(),
        'Not triggered: the configuration breaks a rule (see above).',
      );
      await frame.locator('#p-table input').fill('Orders!');
      assert.equal(
        await frame.locator('#err-table').innerText(),
        '"Orders!" does not match the pattern "^[a-z_]+$"',
      );
      await frame.locator('#tab-json').click();
      const json = JSON.parse(await value('#conf-json')) as Record<string, unknown>;
      assert.deepEqual(
        json,
        {
          n: 0,
          mode: 'fast',
          table: 'Orders!',
          dry: false,
          tags: ['daily'],
          report_date: '2024-03-01',
          not_before: null,
        },
        'the JSON tab follows the fields',
      );
      await frame.locator('#tab-form').click();
      await vs.screenshot('trigger-01-refused-dark');
      const contrast: Record<string, Measured[]> = {
        'Dark Modern': await measure(await panelFrame(vs, '#err-n'), SPECS),
      };
      const db = () => new DatabaseSync(join(workspace, '.hangar', 'hangar.db'), { readOnly: true });
      const runsOf = () => {
        const d = db();
        try {
          return d
            .prepare('SELECT run_id, logical_date, conf FROM dag_runs WHERE dag_id = ?')
            .all('trigger_demo') as { run_id: string; logical_date: string; conf: string }[];
        } finally {
          d.close();
        }
      };
      assert.deepEqual(runsOf(), [], 'no run was created');

      // A bad date typed as JSON: refused with the param's format, under its field and by the runtime's words.
      await frame.locator('#tab-json').click();
      const typed = { n: 7, mode: 'slow', table: 'orders', dry: true, tags: ['daily', 'e2e'] };
      await frame
        .locator('#conf-json textarea')
        .fill(JSON.stringify({ ...typed, report_date: '2024-02-30' }));
      const dateRule = '"2024-02-30" is not a "date" (a day as YYYY-MM-DD, e.g. 2024-03-01)';
      assert.equal(
        await frame.locator('#conf-error').innerText(),
        `DAG "trigger_demo": param "report_date" (from the run's conf) ${dateRule} — the day to report on`,
      );
      await frame.locator('#tab-form').click();
      assert.equal(await frame.locator('#err-report_date').innerText(), dateRule);
      assert.equal(await value('#p-report_date'), '', 'the picker cannot show a date that does not exist');
      await frame.locator('#trigger').click();
      assert.equal(
        await frame.locator('#status').innerText(),
        'Not triggered: the configuration breaks a rule (see above).',
      );
      assert.deepEqual(runsOf(), [], 'no run for a bad date');

      // A good conf typed as JSON fills the fields; a date and a date-time picked in the form; Trigger creates a run with them.
      await frame.locator('#tab-json').click();
      await frame.locator('#conf-json textarea').fill(JSON.stringify(typed));
      assert.equal(await frame.locator('#conf-error').innerText(), '');
      await frame.locator('#tab-form').click();
      assert.equal(await value('#p-report_date'), '2024-03-01', 'left out of the JSON: the default');
      await frame.locator('#p-report_date input').fill('2024-02-29');
      await frame.locator('#p-not_before input').fill('2024-03-01T11:30');
      assert.equal(await frame.locator('#err-report_date').innerText(), '');
      const good = { ...typed, report_date: '2024-02-29', not_before: '2024-03-01T06:00:00.000Z' };
      assert.deepEqual(
        JSON.parse(await value('#conf-json')),
        good,
        'the picked date as it is, the picked date and time (11:30 in Kolkata) as UTC',
      );
      await vs.screenshot('trigger-04-date-pickers-dark');
      assert.equal(await value('#p-n'), '7');
      assert.equal(await value('#p-mode'), '"slow"');
      assert.equal(
        await frame.locator('#p-dry').evaluate((e) => (e as unknown as { checked: boolean }).checked),
        true,
      );
      // The logical date picked in Kolkata: 11:30 there is 06:00 UTC.
      await frame.locator('#logical-date input').fill('2024-03-01T11:30');
      await frame.locator('#trigger').click();
      await frame.locator('#status', { hasText: 'Triggered run' }).waitFor({ timeout: 30_000 });
      assert.match(
        await frame.locator('#status').innerText(),
        /^Triggered run manual__2024-03-01T06:00:00\+00:00 \(logical date 2024-03-01T06:00:00(\.000)?Z\)\.$/,
      );
      const runs = runsOf();
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.run_id, 'manual__2024-03-01T06:00:00+00:00');
      assert.deepEqual(JSON.parse(runs[0]!.conf), good, 'the run has the conf of the form');
      await vs.waitForNotification(/run .* of trigger_demo succeeded/, { timeoutMs: 120_000 });

      // The configuration is offered again; the form keeps its values when hidden.
      await frame.locator('#recent').waitFor({ timeout: 10_000 });
      assert.equal(
        await frame.locator('#recent vscode-option').count(),
        2,
        'a placeholder and the configuration just triggered',
      );
      await frame.locator('#p-n input').fill('8');
      await vs.openFile('hangar.json');
      await vs.page.locator('.tabs-container .tab', { hasText: 'Trigger: trigger_demo' }).click();
      await frame.locator('#p-n').waitFor({ timeout: 30_000 });
      assert.equal(await value('#p-n'), '8', 'kept when hidden');
      assert.equal(await value('#p-table'), 'orders');
      assert.match(
        await frame.locator('#status').innerText(),
        /^Triggered run manual__2024-03-01T06:00:00\+00:00/,
        'the outcome is kept too',
      );
      // Choosing the recent configuration puts its values back (7, not the 8 typed since).
      await frame.locator('#recent').click();
      await frame.locator('#recent li.option[data-index="1"]').click();
      assert.equal(await value('#p-n'), '7');
      assert.deepEqual(JSON.parse(await value('#conf-json')), good);
      await vs.screenshot('trigger-02-triggered-dark');

      // Light and high-contrast themes, the form refusing a value (its error shown).
      await frame.locator('#p-n input').fill('0');
      for (const theme of [
        { label: 'Light Modern', kind: 'vscode-light', workbench: 'vs', file: 'light' },
        { label: 'Dark High Contrast', kind: 'vscode-high-contrast', workbench: 'hc-black', file: 'hc-dark' },
        {
          label: 'Light High Contrast',
          kind: 'vscode-high-contrast-light',
          workbench: 'hc-light',
          file: 'hc-light',
        },
      ]) {
        await vs.runCommand('Preferences: Color Theme');
        await vs.typeInQuickInput(theme.label, { replace: true });
        await vs.pickQuickItem(theme.label);
        await vs.page.waitForFunction(
          `document.querySelector('.monaco-workbench')?.classList.contains(${JSON.stringify(theme.workbench)})`,
          undefined,
          { timeout: 30_000 },
        );
        await frame
          .locator(`body[data-vscode-theme-kind="${theme.kind}"]`)
          .waitFor({ state: 'attached', timeout: 30_000 });
        await frame.locator('#trigger').click();
        await frame.locator('#err-n').waitFor({ timeout: 10_000 });
        await new Promise((r) => setTimeout(r, 300)); // let the new variables paint before the screenshot
        await vs.screenshot(`trigger-03-refused-${theme.file}`);
        contrast[theme.label] = await measure(await panelFrame(vs, '#err-n'), SPECS);
      }
      await writeFile(join(vs.resultsDir, 'trigger-contrast.json'), JSON.stringify(contrast, null, 2));
      const failures = Object.entries(contrast).flatMap(([where, list]) => contrastFailures(where, list));
      assert.deepEqual(failures, [], `text below 4.5:1 contrast:\n${failures.join('\n')}`);
    } catch (e) {
      await vs.collectDiagnostics('trigger-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
