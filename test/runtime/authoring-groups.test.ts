/**
 * The editor's id index with task groups: a task defined inside a group's function has the
 * id its groups give it (Airflow's TaskGroup.child_id: `extract.a`, nested `extract.clean.x`,
 * none with `prefixGroupId: false`), for completions, definitions, diagnostics and renames.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthoringModel } from '../../src/runtime/authoring/model.ts';
import { scan } from '../../src/runtime/authoring/scanner.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { dagListResult } from '../../src/runtime/server/service.ts';
import type { DagListResult } from '../../src/protocol/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

const TEXT = `import { dag } from 'hangar';
export const d = dag({ id: 'grouped' });
const extract = d.group('extract', { tooltip: 'x' }, (g) => {
  const a = g.task('a', async () => 1);
  g.group('clean', (c) => c.task('x', async () => 2).after('extract.a'));
  g.group('flat', { prefixGroupId: false }, (f) => f.task('plain', async () => 3));
  return a;
});
d.task('load', async () => 0).after('extract.clean.x', 'plain');
`;

let ws: TempWorkspace;
let list: DagListResult;
let file: string;

before(async () => {
  ws = tempWorkspace({ 'dags/grouped.ts': TEXT });
  const rt = await Runtime.open(ws.root, { config: { executor: 'in-process' } });
  try {
    const bag = await rt.loadDags();
    assert.deepEqual(bag.errors, []);
    list = await dagListResult(bag, rt);
  } finally {
    await rt.close();
  }
  file = join(ws.dags, 'grouped.ts');
});
after(() => ws.remove());

function model(): AuthoringModel {
  const m = new AuthoringModel((f) => readFileSync(f, 'utf8'));
  m.update({ list });
  return m;
}
const at = (needle: string, plus = 0) => {
  const i = TEXT.indexOf(needle);
  assert.ok(i >= 0, needle);
  return i + plus;
};

test('authoring index: a task defined in a group has its groups prefix; a non-prefixing group adds none', () => {
  const defs = scan(TEXT)
    .filter((s) => s.kind === 'taskDef')
    .map((s) => [s.value, s.prefix ?? '', s.dynamic]);
  assert.deepEqual(defs, [
    ['a', 'extract.', false],
    ['x', 'extract.clean.', false],
    ['plain', '', false],
    ['load', '', false],
  ]);
  const built = scan("d.group('g' + n, (g) => g.task('t', async () => 0));").find(
    (s) => s.kind === 'taskDef',
  )!;
  assert.equal(built.dynamic, true, 'a group id built at run time: the task id is not known');
});

test('authoring index: completions offer the full ids, definitions find the task inside its group', () => {
  const m = model();
  const items = m.completions(file, TEXT, at("after('extract.a", 7))!.items.map((i) => i.label);
  assert.deepEqual(items.sort(), ['extract.a', 'extract.clean.x', 'load', 'plain']);
  const def = m.definition(file, TEXT, at("after('extract.clean.x", 9));
  assert.equal(def.length, 1);
  assert.deepEqual(def[0]!.start, { line: 4, character: TEXT.split('\n')[4]!.indexOf("'x'") + 1 });
  assert.deepEqual(m.diagnostics(file, TEXT), []);
  // A short id written where the full one is needed is an unknown task.
  const typo = TEXT.replace("after('extract.a')", "after('a')");
  const d = m.diagnostics(file, typo);
  assert.equal(d.length, 1);
  assert.match(d[0]!.message, /DAG "grouped" has no task "a"/);
});

test('authoring index: renaming a grouped task edits its references in full and its definition without the prefix', () => {
  const m = model();
  const fromRef = m.rename(file, TEXT, at("after('extract.a", 9), 'extract.first');
  assert.ok('edits' in fromRef, JSON.stringify(fromRef));
  assert.deepEqual(fromRef.edits.map((e) => [e.start.line, e.newText]).sort(), [
    [3, 'first'],
    [4, 'extract.first'],
  ]);
  const fromDef = m.rename(file, TEXT, at("task('a", 7), 'z');
  assert.ok('edits' in fromDef);
  assert.deepEqual(fromDef.edits.map((e) => e.newText).sort(), ['extract.z', 'z']);
  const lost = m.rename(file, TEXT, at("after('extract.a", 9), 'first');
  assert.deepEqual(lost, {
    error: 'Task "extract.a" is defined in a task group: its new id must keep the prefix "extract."',
  });
});
