/**
 * Assets as DAG files declare them: URI checks and normalisation after Airflow's `_sanitize_uri`
 * (airflow/sdk/definitions/asset/__init__.py: scheme lower-cased, user info dropped, trailing
 * slashes removed, query sorted, fragment dropped, `x-` schemes untouched, `airflow` reserved),
 * AssetAll / AssetAny evaluation (`all` / `any` over the updated assets; a schedule list is an
 * AssetAll, airflow/timetables/simple.py), and definition errors that name the DAG, the task,
 * the file and the line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  allOf,
  anyOf,
  asset,
  assetConditionFrom,
  conditionText,
  evaluateCondition,
  normalizeAssetUri,
} from '../../src/runtime/dag/assets.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { dagListResult } from '../../src/runtime/server/service.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

test('asset URIs are normalised as Airflow does', () => {
  const cases: [string, string][] = [
    ['s3://bucket/orders', 's3://bucket/orders'],
    ['S3://bucket/orders/', 's3://bucket/orders'],
    ['s3://bucket/orders///', 's3://bucket/orders'],
    ['s3://bucket', 's3://bucket/'],
    ['s3://user:secret@bucket/key', 's3://bucket/key'],
    ['postgres://db:5432/sales/public/orders?b=2&a=1', 'postgres://db:5432/sales/public/orders?a=1&b=2'],
    ['file:///data/orders.csv#part', 'file:///data/orders.csv'],
    ['x-custom://Anything/Goes/', 'x-custom://Anything/Goes/'],
  ];
  for (const [written, normalised] of cases) assert.equal(normalizeAssetUri(written), normalised, written);
});

test('what is not an asset URI is refused, saying why', () => {
  const cases: [unknown, RegExp][] = [
    ['orders', /has no scheme: write it as a URI such as 's3:\/\/bucket\/key'/],
    ['/data/orders.csv', /has no scheme/],
    ['', /empty/],
    ['s3://bucket/my orders', /printable ASCII characters without spaces/],
    ['s3://bücket/orders', /printable ASCII/],
    ['airflow://dag/x', /the scheme 'airflow' is reserved/],
    ['hangar://x', /the scheme 'hangar' is reserved/],
    ['1s3://bucket', /not a URI scheme/],
    [`s3://bucket/${'a'.repeat(1500)}`, /longer than 1500 characters/],
    [42, /must be a string, got number/],
  ];
  for (const [written, why] of cases) assert.throws(() => normalizeAssetUri(written), why, String(written));
});

test('conditions: a list is all of them, anyOf any, nested as written', () => {
  const a = asset('s3://b/a');
  const b = asset('s3://b/b');
  const c = asset('s3://b/c');
  const list = assetConditionFrom([a, b]);
  assert.deepEqual(list, { all: [{ asset: 's3://b/a' }, { asset: 's3://b/b' }] });
  assert.equal(evaluateCondition(list, new Set(['s3://b/a'])), false);
  assert.equal(evaluateCondition(list, new Set(['s3://b/a', 's3://b/b'])), true);
  const nested = assetConditionFrom(anyOf(a, allOf(b, c)));
  assert.equal(conditionText(nested), 's3://b/a | (s3://b/b & s3://b/c)');
  assert.equal(evaluateCondition(nested, new Set(['s3://b/a'])), true);
  assert.equal(evaluateCondition(nested, new Set(['s3://b/b'])), false);
  assert.equal(evaluateCondition(nested, new Set(['s3://b/b', 's3://b/c'])), true);
  assert.deepEqual(assetConditionFrom([a]), { asset: 's3://b/a' });
});

async function load(files: Record<string, string>) {
  const ws = tempWorkspace(files);
  const rt = await Runtime.open(ws.root);
  try {
    return { bag: await rt.loadDags(), ws, assets: await rt.store.assets.list() };
  } finally {
    await rt.close();
  }
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

test('an outlet that is not a URI is an error naming the DAG, the task, the file and the line', async () => {
  const text = `import { dag, asset } from 'hangar';
const orders = asset('orders');
export const d = dag({ id: 'producer' });
d.task('load', { outlets: [orders] }, async () => 1);
`;
  const { bag, ws } = await load({ 'dags/p.ts': text });
  assert.equal(bag.errors.length, 1);
  const e = bag.errors[0]!;
  assert.equal(e.file, join(ws.dags, 'p.ts'));
  assert.equal(e.line, lineOf(text, "d.task('load'"));
  assert.match(
    e.message,
    /p\.ts:4:\d+: task "load" of DAG "producer": asset "orders" is not a valid asset URI: it has no scheme: write it as a URI such as 's3:\/\/bucket\/key' or 'file:\/\/\/path' \(asset\(\) at .*p\.ts:2:\d+\)/,
  );
});

test('a schedule asset that is not a URI is an error naming the DAG, the file and the line; so are strings in place of assets', async () => {
  const text = `import { dag, asset } from 'hangar';
export const d = dag({ id: 'report', schedule: [asset('s3://bucket/ok'), asset('no scheme here')] });
d.task('t', async () => 1);
`;
  const { bag } = await load({ 'dags/c.ts': text });
  assert.equal(bag.errors.length, 1);
  assert.equal(bag.errors[0]!.line, 2);
  assert.match(
    bag.errors[0]!.message,
    /c\.ts:2:\d+: DAG "report": asset "no scheme here" is not a valid asset URI: the URI may only hold printable ASCII/,
  );

  const strings = `import { dag } from 'hangar';
export const d = dag({ id: 'strs' });
d.task('load', { outlets: ['s3://bucket/orders'] as any }, async () => 1);
`;
  const r = await load({ 'dags/s.ts': strings });
  assert.match(
    r.bag.errors[0]!.message,
    /s\.ts:3:\d+: task "load" of DAG "strs": outlets must hold assets \(asset\('s3:\/\/…'\)\), got the string "s3:\/\/bucket\/orders" \(wrap it: asset\("s3:\/\/bucket\/orders"\)\)/,
  );
});

test('outlets and asset schedules survive serialization; the store records the declared assets', async () => {
  const { bag, assets } = await load({
    'dags/p.ts': `import { dag, asset, anyOf } from 'hangar';
const orders = asset('s3://bucket/orders');
export const p = dag({ id: 'producer' });
p.task('load', { outlets: [orders, asset('s3://bucket/customers')] }, async () => 1);
export const c = dag({ id: 'report', schedule: anyOf(orders, asset('s3://bucket/other')) });
c.task('t', async () => 1);
`,
  });
  assert.deepEqual(bag.errors, []);
  assert.deepEqual(bag.dags.get('producer')!.tasks.get('load')!.outlets, [
    's3://bucket/orders',
    's3://bucket/customers',
  ]);
  const report = bag.dags.get('report')!;
  assert.deepEqual(report.scheduleSpec, {
    kind: 'assets',
    condition: { any: [{ asset: 's3://bucket/orders' }, { asset: 's3://bucket/other' }] },
    text: 's3://bucket/orders | s3://bucket/other',
  });
  assert.equal(report.scheduleText, 's3://bucket/orders | s3://bucket/other');
  assert.deepEqual(
    assets.map((a) => a.uri),
    ['s3://bucket/customers', 's3://bucket/orders', 's3://bucket/other'],
  );
});

test("the editor's DAG list says which DAGs feed which through assets", async () => {
  const ws = tempWorkspace({
    'dags/a.ts': `import { dag, asset } from 'hangar';
const orders = asset('s3://bucket/orders');
export const p = dag({ id: 'producer' });
p.task('load', { outlets: [orders] }, async () => 1);
p.task('other', async () => 1);
export const c = dag({ id: 'report', schedule: [orders, asset('s3://bucket/customers')] });
c.task('t', async () => 1);
`,
  });
  const rt = await Runtime.open(ws.root);
  try {
    const list = await dagListResult(await rt.loadDags(), rt);
    const by = new Map(list.dags.map((d) => [d.dagId, d.assets]));
    assert.deepEqual(by.get('producer'), {
      consumes: [],
      produces: [{ uri: 's3://bucket/orders', tasks: ['load'], consumers: ['report'] }],
    });
    assert.deepEqual(by.get('report'), {
      consumes: [
        { uri: 's3://bucket/orders', producers: ['producer.load'] },
        { uri: 's3://bucket/customers', producers: [] },
      ],
      produces: [],
    });
  } finally {
    await rt.close();
    ws.remove();
  }
});
