/**
 * Variables as Airflow's (airflow/models/variable.py): a stored key → text value,
 * overridden by the environment (AIRFLOW_VAR_<KEY> there, HANGAR_VAR_<KEY> here), JSON
 * on request; values of keys named like secrets masked when listed
 * (airflow/utils/log/secrets_masker.py, DEFAULT_SENSITIVE_FIELDS).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Variables } from '../../src/runtime/variables.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';
import { testRuntime } from '../helpers/runtime.ts';

test('variables: stored, overridden by HANGAR_VAR_<KEY>, JSON on request, secret-looking values masked when listed', async () => {
  const ws = tempWorkspace();
  const store = await openWorkspaceStore(ws.root);
  try {
    const v = new Variables(store, { HANGAR_VAR_REGION: 'us', HANGAR_VAR_EXTRA_KEY: 'x' });
    await v.set('region', 'eu', 'where we run');
    await v.set('limits', '{"rows": 10, "tables": ["a"]}');
    await v.set('db_password', 'hunter2');
    assert.equal(await v.get('region'), 'us', 'the environment wins, as AIRFLOW_VAR_*');
    assert.deepEqual(await v.getJson('limits'), { rows: 10, tables: ['a'] });
    assert.equal(await v.get('missing', 'fallback'), 'fallback');
    await assert.rejects(
      v.get('missing'),
      /variable "missing" does not exist \(set it with: hangar variables set missing VALUE, or HANGAR_VAR_MISSING\)/,
    );
    await assert.rejects(v.getJson('region'), /variable "region" \(from env:HANGAR_VAR_REGION\) is not JSON/);
    await assert.rejects(v.set('bad key', 'x'), /invalid variable key "bad key"/);
    assert.deepEqual(
      (await v.list()).map((e) => `${e.key}=${e.value} (${e.source})`),
      [
        'db_password=*** (store)',
        'extra_key=x (env:HANGAR_VAR_EXTRA_KEY)',
        'limits={"rows": 10, "tables": ["a"]} (store)',
        'region=us (env:HANGAR_VAR_REGION)',
      ],
    );
    assert.equal((await v.list(true)).find((e) => e.key === 'db_password')!.value, 'hunter2');
    assert.equal(await v.delete('limits'), true);
    assert.equal(await v.delete('limits'), false);
  } finally {
    await store.close();
    ws.remove();
  }
});

test('variables import is all or nothing: a file that is not JSON, or holds a bad key, stores nothing and says which file', async () => {
  const ws = tempWorkspace();
  const store = await openWorkspaceStore(ws.root);
  try {
    const v = new Variables(store, {});
    await v.set('kept', 'old');
    const notJson = ws.write('vars.json', '{"a": 1,');
    await assert.rejects(v.importFile(notJson), new RegExp(`${notJson.replace(/[.]/g, '\\.')} is not JSON`));
    const badKey = ws.write('keys.json', JSON.stringify({ good: 1, 'no spaces': 2 }));
    await assert.rejects(v.importFile(badKey), /keys\.json: invalid variable key "no spaces"/);
    await assert.rejects(v.importFile(ws.write('arr.json', '[1]')), /must hold a JSON object/);
    assert.deepEqual(
      (await v.list()).map((e) => e.key),
      ['kept'],
      'nothing stored by the failed imports',
    );
    const good = ws.write('good.json', JSON.stringify({ kept: 'new', n: 3, obj: { a: [1] } }));
    assert.deepEqual(await v.importFile(good), { imported: 3 });
    assert.equal(await v.get('kept'), 'new');
    assert.equal(await v.get('n'), '3');
    assert.deepEqual(await v.getJson('obj'), { a: [1] });
    const out = join(ws.root, 'out.json');
    assert.deepEqual(await v.exportFile(out), { exported: 3 });
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { kept: 'new', n: '3', obj: '{"a":[1]}' });
  } finally {
    await store.close();
    ws.remove();
  }
});

test('hangar variables: set, get, list (masked), delete; a bad import file is an error naming it', async () => {
  const ws = tempWorkspace({}, { executor: 'in-process' });
  try {
    const run = (...args: string[]) =>
      hangar(['variables', ...args, '--workspace', ws.root], { env: { HANGAR_VAR_FROM_ENV: 'e' } });
    assert.equal(run('set', 'api_key', 'k-123').code, 0);
    assert.equal(run('set', 'region', 'eu', '--description', 'where').code, 0);
    assert.equal(run('get', 'region').stdout.trim(), 'eu');
    const list = run('list');
    assert.match(list.stdout, /api_key\s+\*\*\*\s+store/);
    assert.match(list.stdout, /from_env\s+e\s+env:HANGAR_VAR_FROM_ENV/);
    assert.doesNotMatch(list.stdout, /k-123/);
    const missing = run('get', 'nope');
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /variable "nope" does not exist/);
    assert.equal(run('delete', 'region').code, 0);
    const bad = run('import', ws.write('bad.json', 'not json'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad\.json is not JSON/);
  } finally {
    ws.remove();
  }
});

test('variables in tasks: ctx.variables and {{ var.value.key }} / {{ var.json.key.field }} templates; a secret-looking value is masked in the log; a missing key fails the task naming it', async () => {
  process.env.HANGAR_VAR_REGION = 'us';
  const t = await testRuntime({
    'dags/vars.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'vars' });
d.task('a', {
  inputs: { where: '{{ var.value.region }}', rows: '{{ var.json.limits.rows }}', dflt: "{{ var.value.get('nope', 'dflt') }}", tables: '{{ var.json.limits.tables | join(",") }}' },
}, async (ctx, { where, rows, dflt, tables }) => {
  const token = await ctx.variables.get('api_token');
  ctx.log.info('token is ' + token + ', rendered ' + ctx.render('{{ var.value.api_token }}'));
  await ctx.variables.setJson('seen', { where, rows, dflt, tables, limits: await ctx.variables.getJson('limits'), fallback: await ctx.variables.get('nope', 'f') });
  return 1;
});
d.task('b', { inputs: { x: '{{ var.value.missing_one }}' } }, async () => 1);
d.task('c', { inputs: { x: '{{ var.json.region }}' } }, async () => 1);
`,
  });
  try {
    const v = new Variables(t.rt.store);
    await v.set('limits', '{"rows": 10, "tables": ["x", "y"]}');
    await v.set('api_token', 's3cr3t-t0ken');
    await v.set('region', 'eu'); // the environment's HANGAR_VAR_REGION wins
    const run = await t.rt.runDag('vars');
    assert.deepEqual(await t.states(run.run_id), { a: 'success', b: 'failed', c: 'failed' });
    assert.deepEqual(await v.getJson('seen'), {
      where: 'us',
      rows: '10',
      dflt: 'dflt',
      tables: 'x,y',
      limits: { rows: 10, tables: ['x', 'y'] },
      fallback: 'f',
    });
    const [a] = await t.rt.store.tasks.listTries('vars', run.run_id, 'a', -1);
    const log = readFileSync(a!.log_path!, 'utf8');
    assert.match(log, /token is \*\*\*, rendered \*\*\*/);
    assert.ok(!log.includes('s3cr3t-t0ken'), log);
    const b = (await t.rt.store.tasks.get('vars', run.run_id, 'b', -1))!;
    assert.match(b.error ?? '', /variable "missing_one" does not exist \(set it with: hangar variables set missing_one VALUE, or HANGAR_VAR_MISSING_ONE\)/);
    const c = (await t.rt.store.tasks.get('vars', run.run_id, 'c', -1))!;
    assert.match(c.error ?? '', /variable "region" is not JSON \(var\.json\.region\)/);
  } finally {
    delete process.env.HANGAR_VAR_REGION;
    await t.close();
  }
});

test('a DAG file that mentions no var.… template does not read the variables for its tries; a template built from pieces says so instead of "does not exist"', async () => {
  const t = await testRuntime({
    'dags/pieces.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'pieces' });
const tpl = ['{{ ', 'var', '.value', '.region }}'].join('');
d.task('a', async (ctx) => ctx.render(tpl));
d.task('b', async (ctx) => await ctx.variables.get('region'));
`,
  });
  try {
    await new Variables(t.rt.store).set('region', 'eu');
    const run = await t.rt.runDag('pieces');
    assert.deepEqual(await t.states(run.run_id), { a: 'failed', b: 'success' });
    const a = (await t.rt.store.tasks.get('pieces', run.run_id, 'a', -1))!;
    assert.match(a.error ?? '', /variable "region": variables were not read for this try .*ctx\.variables\.get\('region'\)/);
  } finally {
    await t.close();
  }
});
