/**
 * The authoring core's newer id kinds (src/runtime/authoring/): variable keys (ctx.variables and
 * `{{ var.value.k }}` / `{{ var.json.k.x }}` in templates), worker queues and asset URIs, the
 * lint of a `startDate` read from the clock, and the task hover's markdown (hover.ts). Fixture
 * workspaces parsed by the real DAG processor, without VS Code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthoringModel } from '../../src/runtime/authoring/model.ts';
import { clockStartDates, scan } from '../../src/runtime/authoring/scanner.ts';
import {
  escapeMarkdown,
  HOVER_COMMANDS,
  taskHoverMarkdown,
  taskRunsFromGrid,
} from '../../src/runtime/authoring/hover.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { dagListResult, RuntimeService, variableSummaries } from '../../src/runtime/server/service.ts';
import { looksSecret } from '../../src/runtime/variables.ts';
import type { DagListResult, VariableSummary } from '../../src/protocol/runtime.ts';
import type { GridResult } from '../../src/protocol/webviews/grid-values.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

const INGEST = `import { dag, asset } from 'hangar';

const orders = asset('s3://lake/orders');
export const ingest = dag({ id: 'ingest', schedule: null });
ingest.task('fetch', { queue: 'gpu', retries: 2, executionTimeout: 90, outlets: [orders] }, async (ctx) => {
  const cfg = await ctx.variables.getJson('ingest_config');
  await ctx.variables.set('last_fetch', 'now');
  return cfg;
});
ingest.task('resize', { queue: 'gpu', inputs: { root: '{{ var.value.lake_root }}/{{ ds }}', bucket: '{{ var.json.ingest_config.bucket }}' } }, async () => 1).after('fetch');
ingest.task('merge', { triggerRule: 'all_done' }, async (ctx) => ctx.xcom.pullMany(['fetch', 'resize'])).after('resize');
`;

const REPORT = `import { dag, asset } from 'hangar';

export const report = dag({ id: 'report', schedule: [asset('s3://lake/orders')] });
report.task('publish', { queue: 'gpu' }, async (ctx) => ctx.variables.get('last_fetch'));
`;

let ws: TempWorkspace;
let list: DagListResult;
let variables: VariableSummary[];
let files: Record<string, string>;

before(async () => {
  ws = tempWorkspace({ 'dags/ingest.ts': INGEST, 'dags/report.ts': REPORT }, { pools: { gpu_pool: 2 } });
  const rt = await Runtime.open(ws.root, { config: { executor: 'in-process' } });
  try {
    const bag = await rt.loadDags();
    assert.deepEqual(bag.errors, []);
    list = await dagListResult(bag, rt);
    await rt.variables.set('ingest_config', '{"bucket":"lake"}');
    await rt.variables.set('lake_root', 's3://lake/root');
    await rt.variables.set('api_token', 'plain-looking');
    await rt.variables.set('build', 'a1b2c3d4e5f6a7b8c9d0e1f2');
    variables = await variableSummaries(rt.variables);
  } finally {
    await rt.close();
  }
  files = { ingest: join(ws.dags, 'ingest.ts'), report: join(ws.dags, 'report.ts') };
});
after(() => ws.remove());

function model(
  overrides: Record<string, string> = {},
  env: Record<string, string> = {},
  vars: VariableSummary[] | null = variables,
): AuthoringModel {
  const m = new AuthoringModel((f) => overrides[f] ?? readFileSync(f, 'utf8'));
  m.update({ list, config: null, env, variables: vars ?? undefined });
  return m;
}

function after_(text: string, needle: string, n = 0): number {
  let at = -1;
  for (let i = 0; i <= n; i++) at = text.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} not in text`);
  return at + needle.length;
}

test('the scanner finds variable keys (calls and templates), queues and asset URIs; keys built at run time are dynamic', () => {
  const sites = scan(INGEST)
    .filter((s) => s.kind === 'variable' || s.kind === 'queue' || s.kind === 'asset')
    .map((s) => `${s.kind}:${s.value} ${s.via}`);
  assert.deepEqual(sites, [
    'asset:s3://lake/orders asset()',
    'queue:gpu queue:',
    'variable:ingest_config ctx.variables.getJson()',
    'variable:last_fetch ctx.variables.set()',
    'queue:gpu queue:',
    'variable:lake_root var.value',
    'variable:ingest_config var.json',
  ]);
  // The key's offsets inside the template string.
  const root = scan(INGEST).find((s) => s.value === 'lake_root')!;
  assert.equal(INGEST.slice(root.valueStart, root.valueEnd), 'lake_root');
  const dyn = scan(
    "const t = `{{ var.value.env_${x} }}`; const u = '{{ var.value.' + k + ' }}'; const w = '{{ var.json.pre' + k + ' }}'; const v = (c: any) => c.variables.get('a_' + i); const o = (c: any) => c.variables.get('opt', 'x'); const g = \"{{ var.value.get('gk', 'd') }}\";",
  ).map((s) => `${s.value}${s.dynamic ? ' (dynamic)' : ''}${s.optional ? ' (optional)' : ''}`);
  assert.deepEqual(dyn, [
    'env_ (dynamic)',
    ' (dynamic)',
    'pre (dynamic)',
    'a_ (dynamic)',
    'opt (optional)',
    'gk (optional)',
  ]);
  // XCom pulls by task ids in an options object and in arrays are task references.
  const pulls = scan(
    "d.task('m', async (ctx) => ctx.xcom.pull({ taskIds: ['a', 'b'] }) ?? ctx.xcom.pull({ taskIds: 'c' }));",
  )
    .filter((s) => s.kind === 'task')
    .map((s) => s.value);
  assert.deepEqual(pulls, ['a', 'b', 'c']);
});

test('variable completion: store keys with their JSON-ness, a secret-looking value never; keys set by a task; HANGAR_VAR_*', () => {
  const text = INGEST.replace("getJson('ingest_config')", "getJson('in')");
  const r = model({}, { HANGAR_VAR_REGION: 'eu-west-1' }).completions(
    files.ingest,
    text,
    after_(text, "getJson('in"),
  )!;
  assert.equal(text.slice(r.start, r.end), 'in');
  const byLabel = Object.fromEntries(r.items.map((i) => [i.label, i.detail]));
  assert.equal(byLabel.ingest_config, 'variable, JSON object "{\\"bucket\\":\\"lake\\"}" (store)');
  assert.equal(byLabel.lake_root, 'variable, text "s3://lake/root" (store)');
  assert.equal(byLabel.api_token, 'variable, text, value hidden (store)');
  assert.equal(byLabel.build, 'variable, text (store)');
  assert.equal(byLabel.region, 'variable, text (HANGAR_VAR_REGION)');
  assert.equal(byLabel.last_fetch, 'variable set by a task (ingest.ts)');
  const all = JSON.stringify(r.items);
  assert.ok(!all.includes('plain-looking') && !all.includes('a1b2c3d4') && !all.includes('eu-west-1'), all);
  // Inside a template while typing (the string still open), the same keys.
  const typing = `${INGEST}const t = '{{ var.value.la`;
  const t = model().completions(files.ingest, typing, typing.length)!;
  assert.equal(typing.slice(t.start, t.end), 'la');
  assert.ok(t.items.some((i) => i.label === 'lake_root'));
});

test('variable diagnostics: a key nowhere is a warning with the nearest key as its fix; the store, HANGAR_VAR_*, a set by a task, a fallback and a dynamic key are not', () => {
  const text = INGEST.replace("getJson('ingest_config')", "getJson('ingest_cofig')").replace(
    'var.value.lake_root',
    'var.value.lake_rot',
  );
  const m = model({ [files.ingest]: text });
  assert.deepEqual(
    m
      .diagnostics(files.ingest, text)
      .map((d) => [d.message, d.severity, text.slice(d.start, d.end), d.suggestion]),
    [
      [
        'No variable "ingest_cofig" in the store or the environment (HANGAR_VAR_INGEST_COFIG): set it before the run (hangar variables set ingest_cofig VALUE)',
        'warning',
        'ingest_cofig',
        'ingest_config',
      ],
      [
        'No variable "lake_rot" in the store or the environment (HANGAR_VAR_LAKE_ROT): set it before the run (hangar variables set lake_rot VALUE)',
        'warning',
        'lake_rot',
        'lake_root',
      ],
    ],
  );
  // No false Problems: the fixture as written (a key only set by a task, read in another file), the environment, fallbacks, dynamic keys.
  assert.deepEqual(model().diagnostics(files.ingest, INGEST), []);
  assert.deepEqual(model().diagnostics(files.report, REPORT), []);
  const ok = `${INGEST}const e = (c: any) => [c.variables.get('from_env'), c.variables.get('nothing', 'fallback'), c.variables.get('k_' + i), \`{{ var.value.p_\${i} }}\`, '{{ var.json.get("none", {}) }}'];\n`;
  assert.deepEqual(model({}, { HANGAR_VAR_FROM_ENV: 'x' }).diagnostics(files.ingest, ok), []);
  // Before the runtime said which variables exist: nothing is reported.
  assert.deepEqual(model({}, {}, null).diagnostics(files.ingest, text), []);
});

test('variable definition and references: the tasks that set it, and every string naming it across files', () => {
  const m = model();
  const def = m.definition(files.report, REPORT, after_(REPORT, "get('last"));
  assert.equal(def.length, 1);
  assert.equal(def[0]!.file, files.ingest);
  assert.equal(
    INGEST.split('\n')[def[0]!.start.line]!.slice(def[0]!.start.character, def[0]!.end.character),
    'last_fetch',
  );
  const refs = m.references(files.ingest, INGEST, after_(INGEST, 'var.json.ing'));
  assert.deepEqual(
    refs.map((r) => `${r.file === files.ingest ? 'ingest' : 'report'}:${r.start.line + 1}`),
    ['ingest:6', 'ingest:10'],
  );
});

test("queue completion: default and the workspace's queues with their users; a likely typo of a used queue is a warning with its fix", () => {
  const text = INGEST.replace("{ triggerRule: 'all_done' }", "{ triggerRule: 'all_done', queue: '' }");
  const r = model({ [files.ingest]: text }).completions(files.ingest, text, after_(text, "queue: '", 2))!;
  assert.deepEqual(r.items.map((i) => `${i.label}: ${i.detail}`).sort(), [
    'default: queue of 1 task: ingest.merge',
    'gpu: queue of 3 tasks: ingest.fetch, ingest.resize, report.publish',
  ]);
  const typo = INGEST.replace("{ triggerRule: 'all_done' }", "{ triggerRule: 'all_done', queue: 'gpv' }");
  const d = model({ [files.ingest]: typo }).diagnostics(files.ingest, typo);
  assert.deepEqual(
    d.map((x) => [x.message, x.severity, x.suggestion]),
    [
      [
        'No other task uses queue "gpv": only a worker started with --queues gpv runs this task',
        'warning',
        'gpu',
      ],
    ],
  );
  // Still once saved and parsed (the last parse then has a task on "gpv"; "gpu" has more).
  const parsed = new AuthoringModel((f) => (f === files.ingest ? typo : readFileSync(f, 'utf8')));
  parsed.update({
    list: {
      ...list,
      dags: list.dags.map((x) =>
        x.dagId === 'ingest'
          ? { ...x, tasks: x.tasks.map((t) => (t.taskId === 'merge' ? { ...t, queue: 'gpv' } : t)) }
          : x,
      ),
    },
    config: null,
    env: {},
    variables,
  });
  assert.deepEqual(
    parsed.diagnostics(files.ingest, typo).map((x) => x.suggestion),
    ['gpu'],
  );
  // A new queue that is no typo of another is no Problem (a worker may listen on it), nor a dynamic one.
  const fresh = INGEST.replace(
    "{ triggerRule: 'all_done' }",
    "{ triggerRule: 'all_done', queue: 'highmem' }",
  );
  assert.deepEqual(model({ [files.ingest]: fresh }).diagnostics(files.ingest, fresh), []);
  const dyn = INGEST.replace("{ triggerRule: 'all_done' }", "{ triggerRule: 'all_done', queue: 'gp' + n }");
  assert.deepEqual(model({ [files.ingest]: dyn }).diagnostics(files.ingest, dyn), []);
  // References: every task naming the queue, in every file.
  assert.deepEqual(
    model()
      .references(files.report, REPORT, after_(REPORT, "queue: 'g"))
      .map((l) => `${l.file === files.ingest ? 'ingest' : 'report'}:${l.start.line + 1}`),
    ['ingest:5', 'ingest:10', 'report:4'],
  );
});

test('asset URIs: completion of the URIs of other files with producers; definition is the producing task; references cross files', () => {
  const m = model();
  const text = REPORT.replace("asset('s3://lake/orders')", "asset('s3://')");
  const r = m.completions(files.report, text, after_(text, "asset('s3://"))!;
  assert.deepEqual(
    r.items.map((i) => `${i.label}: ${i.detail}`),
    ['s3://lake/orders: asset: produced by ingest.fetch; schedules report'],
  );
  // Definition from the consumer's file: the producing task's id string in the other file.
  const def = m.definition(files.report, REPORT, after_(REPORT, "asset('s3://la"));
  assert.equal(def.length, 1);
  assert.equal(def[0]!.file, files.ingest);
  assert.equal(
    INGEST.split('\n')[def[0]!.start.line]!.slice(def[0]!.start.character, def[0]!.end.character),
    'fetch',
  );
  // References: both asset() strings (a URI written differently but equal once normalised counts), the producer, the consumer DAG.
  const refs = m.references(files.ingest, INGEST, after_(INGEST, "asset('s3://la"));
  assert.deepEqual(
    refs.map((l) => `${l.file === files.ingest ? 'ingest' : 'report'}:${l.start.line + 1}`),
    ['ingest:3', 'report:3', 'ingest:5', 'report:3'],
  );
  const other = REPORT.replace("asset('s3://lake/orders')", "asset('S3://lake/orders/')");
  assert.equal(
    model({ [files.report]: other }).references(files.ingest, INGEST, after_(INGEST, "asset('s3://la"))
      .length,
    4,
  );
});

test('lint: a DAG startDate read from the clock is a warning at the expression, directly or through a const; a fixed date is not', () => {
  const src = `import { dag } from 'hangar';
const yesterday = new Date(Date.now() - 86_400_000);
export const a = dag({ id: 'a', schedule: '@daily', startDate: new Date() });
export const b = dag({ id: 'b', schedule: '@daily', startDate: new Date(Date.now() - 3_600_000), catchup: false });
export const c = dag({ id: 'c', schedule: '@daily', startDate: yesterday });
export const d = dag({ id: 'd', schedule: '@daily', startDate: new Date('2024-01-01') });
export const e = dag({ id: 'e', schedule: '@daily', startDate: '2024-01-01T00:00:00Z' });
export const f = dag({ id: 'f', schedule: '@daily', startDate: new Date(Date.UTC(2024, 0, 1)) });
const other = { startDate: new Date() };
`;
  const found = clockStartDates(src).map(
    (c) => `${src.slice(c.start, c.end)} | ${c.clock}${c.via ? ` via ${c.via}` : ''}`,
  );
  assert.deepEqual(found, [
    'new Date() | new Date()',
    'new Date(Date.now() - 3_600_000) | Date.now()',
    'yesterday | Date.now() via yesterday',
  ]);
  const d = model().diagnostics(join(ws.dags, 'lint.ts'), src);
  assert.deepEqual(
    d.map((x) => [x.kind, x.severity, x.value]),
    [
      ['startDate', 'warning', 'new Date()'],
      ['startDate', 'warning', 'new Date(Date.now() - 3_600_000)'],
      ['startDate', 'warning', 'yesterday'],
    ],
  );
  assert.match(
    d[2]!.message,
    /^startDate reads the clock \(Date\.now\(\) through "yesterday"\): every parse gives another start date/,
  );
});

test('hover: the task at its id string with its settings from dag/list; markdown escaped; only the grid and graph commands', () => {
  const m = model();
  const at = m.taskAt(files.ingest, INGEST, after_(INGEST, "ingest.task('fe"))!;
  assert.equal(at.dagId, 'ingest');
  assert.equal(at.taskId, 'fetch');
  assert.deepEqual(
    {
      retries: at.task!.retries,
      pool: at.task!.pool,
      queue: at.task!.queue,
      rule: at.task!.triggerRule,
      timeout: at.task!.executionTimeout,
    },
    { retries: 2, pool: 'default_pool', queue: 'gpu', rule: 'all_success', timeout: 90 },
  );
  // A reference (`.after('fetch')`) hovers as the same task.
  assert.equal(m.taskAt(files.ingest, INGEST, after_(INGEST, ".after('fe"))!.taskId, 'fetch');
  assert.equal(m.taskAt(files.ingest, INGEST, after_(INGEST, "queue: 'g")), undefined);

  const grid: GridResult = {
    dagId: 'ingest',
    totalRuns: 2,
    offset: 0,
    limit: 5,
    nowMs: 0,
    runs: [
      {
        runId: 'r1',
        runType: 'manual',
        state: 'failed',
        logicalDate: '2026-12-01T00:00:00.000Z',
        queuedAt: '',
        startDate: null,
        endDate: null,
      },
      {
        runId: 'r2',
        runType: 'manual',
        state: 'success',
        logicalDate: '2026-12-02T00:00:00.000Z',
        queuedAt: '',
        startDate: null,
        endDate: null,
      },
    ],
    rows: [
      { taskId: 'fetch', mapIndex: null, kind: 'typescript', mapped: false },
      { taskId: 'resize', mapIndex: null, kind: 'typescript', mapped: false },
    ],
    states: [5, 4, -1, 4],
    tries: [3, 1, 0, 1],
    durations: [1.5, 75, null, 2],
    counts: [],
    mapCounts: {},
  };
  const runs = taskRunsFromGrid(grid, 'fetch');
  assert.deepEqual(
    runs.map((r) => [r.runId, r.state, r.duration, r.tryNumber]),
    [
      ['r2', 'success', 75, 1],
      ['r1', 'failed', 1.5, 3],
    ],
  );
  assert.deepEqual(
    taskRunsFromGrid(grid, 'resize').map((r) => r.state),
    ['success', null],
  );
  const md = taskHoverMarkdown({ ...at, runs });
  assert.equal(
    md,
    [
      '**fetch** · typescript task of DAG **ingest**',
      '',
      'retries: 2 · pool: default\\_pool · queue: gpu · trigger rule: all\\_success · execution timeout: 1 min 30 s',
      '',
      'Last 2 runs \\(newest first\\):',
      '',
      '- 2026\\-12\\-02T00\\:00\\:00Z: **success** \\(1 min 15 s\\)',
      '- 2026\\-12\\-01T00\\:00\\:00Z: **failed** \\(1\\.5 s\\, try 3\\)',
      '',
      '[$(table) Open in grid](command:hangar.showGrid?%5B%22ingest%22%5D "Show DAG ingest as a grid") · [$(type-hierarchy) Open graph](command:hangar.showDagGraph?%5B%22ingest%22%5D "Show DAG ingest as a graph")',
    ].join('\n'),
  );
  // Every command link is one of HOVER_COMMANDS.
  const commands = [...md.matchAll(/\(command:([\w.]+)/g)].map((x) => x[1]);
  assert.deepEqual(commands, ['hangar.showGrid', 'hangar.showDagGraph']);
  assert.ok(commands.every((c) => (HOVER_COMMANDS as readonly string[]).includes(c!)));
});

test('hover: an id or an error with markdown or HTML in it shows as text, and cannot add a link or a command', () => {
  const evil = '<img src=x onerror=alert(1)>**b**[x](command:workbench.action.terminal.new)';
  assert.equal(escapeMarkdown('a_b*c<d>`e`\n[f](g)'), 'a\\_b\\*c\\<d\\>\\`e\\` \\[f\\]\\(g\\)');
  // A theme icon (the hover renders `$(name)` as an icon) written in an id stays text too.
  assert.equal(escapeMarkdown('$(bug)'), '\\$\\(bug\\)');
  const md = taskHoverMarkdown({
    dagId: 'd") [y](command:workbench.action.terminal.new',
    taskId: evil,
    task: null,
    runs: null,
    runsError: '<script>x</script> `boom`\nline 2',
  });
  // No raw HTML, no unescaped link or emphasis from the inputs.
  // Every < and [ from the inputs is backslash-escaped (CommonMark: a literal character, no tag, no link).
  assert.ok(!/(^|[^\\])<(img|script|\/script)/.test(md), md);
  assert.ok(!/[^\\]\]\(command:workbench/.test(md), md);
  assert.ok(
    md.startsWith(
      '**\\<img src\\=x onerror\\=alert\\(1\\)\\>\\*\\*b\\*\\*\\[x\\]\\(command\\:workbench\\.action\\.terminal\\.new\\)** · task \\(not parsed yet',
    ),
    md,
  );
  assert.ok(md.includes('Last runs: not available \\(\\<script\\>x\\<\\/script\\> \\`boom\\` line 2\\)'), md);
  // The DAG id in a command link is URI-encoded JSON: it cannot close the link.
  const links = [...md.matchAll(/\]\((command:[^ )]+)/g)].map((x) => x[1]!);
  assert.equal(links.length, 2);
  for (const l of links) {
    assert.ok(!/[()]/.test(l), l);
    const [, args] = l.split('?');
    assert.deepEqual(JSON.parse(decodeURIComponent(args!)), [
      'd") [y](command:workbench.action.terminal.new',
    ]);
  }
});

test('variables as the editor gets them: JSON-ness; a value shown only when neither its key nor itself looks secret', () => {
  const byKey = Object.fromEntries(variables.map((v) => [v.key, v]));
  assert.deepEqual(byKey.ingest_config, {
    key: 'ingest_config',
    source: 'store',
    json: 'object',
    sensitive: false,
    preview: '{"bucket":"lake"}',
  });
  assert.deepEqual(byKey.api_token, { key: 'api_token', source: 'store', json: null, sensitive: true });
  assert.deepEqual(byKey.build, { key: 'build', source: 'store', json: null, sensitive: false });
  for (const s of [
    'postgres://u:pw@db/x',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
    '-----BEGIN PRIVATE KEY-----\nabc',
    'AKIAIOSFODNN7EXAMPLE1',
  ])
    assert.ok(looksSecret(s), s);
  for (const s of [
    's3://lake/root',
    'eu-west-1',
    '2024-01-01T00:00:00Z',
    '/data/in/2024/orders',
    'a sentence with 20 chars and 1 digit',
  ])
    assert.ok(!looksSecret(s), s);
});

test('the runtime server answers variable/list (no secret value) and dag/list with the settings the hover shows', async () => {
  const s = new RuntimeService(() => {});
  try {
    await s.handle('runtime/initialize', { workspace: ws.root, config: { executor: 'in-process' } });
    const vars = (await s.handle('variable/list', {})) as VariableSummary[];
    assert.deepEqual(
      vars.map((v) => `${v.key}:${v.json}:${v.preview ?? '-'}`),
      [
        'api_token:null:-',
        'build:null:-',
        'ingest_config:object:{"bucket":"lake"}',
        'lake_root:null:s3://lake/root',
      ],
    );
    const l = (await s.handle('dag/list', {})) as DagListResult;
    const merge = l.dags.find((d) => d.dagId === 'ingest')!.tasks.find((t) => t.taskId === 'merge')!;
    assert.deepEqual(
      [merge.pool, merge.poolSlots, merge.queue, merge.triggerRule, merge.executionTimeout],
      ['default_pool', 1, 'default', 'all_done', null],
    );
  } finally {
    await s.handle('runtime/shutdown', {});
  }
});
