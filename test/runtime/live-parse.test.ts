/**
 * Live structure (issue #19): the DAG processor parses an editor's unsaved buffer of a DAG file in a
 * parse child, as the saved file (same budgets, its real path), without writing the file or touching
 * the store's serialized DAGs, one parse per file with the newest text winning; and the parse budget
 * (parseBudgetMs) warns about a slow import, naming its slow top-level statement.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hangar } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import { RuntimeService } from '../../src/runtime/server/service.ts';
import { DagList, DagParseBuffer, Initialize, Shutdown } from '../../src/protocol/runtime.ts';
import type { DagParseBufferResult } from '../../src/protocol/runtime.ts';

const SAVED = `import { dag } from 'hangar';
export const etl = dag({ id: 'etl' });
const extract = etl.task('extract', async () => 1);
etl.task('load', { inputs: { n: extract } }, async (_c, { n }) => n);
`;
const TYPED = `${SAVED}etl.task('report', async () => 'typed, not saved');
`;

/** A top level that spins for `ms` in one named statement (line 6). */
const busy = (ms: number) => `import { dag } from 'hangar';
export const slowpoke = dag({ id: 'slowpoke' });
slowpoke.task('a', async () => 1);
function busyWait(ms: number): number { const end = Date.now() + ms; let n = 0; while (Date.now() < end) n++; return n; }
// the statement below is the slow one
export const warmed = busyWait(${ms});
slowpoke.task('b', async () => warmed);
`;

function bufferBundles(root: string): string[] {
  try {
    return readdirSync(join(root, '.hangar', 'cache', 'dags')).filter((f) => f.includes('-buffer-'));
  } catch {
    return [];
  }
}

test('a buffer is parsed as the saved file would be, without writing the file or changing the stored DAG runs use', async () => {
  const ws = tempWorkspace({ 'dags/etl.ts': SAVED });
  const rt = await Runtime.open(ws.root);
  try {
    const file = join(ws.dags, 'etl.ts');
    const saved = await rt.loadDags();
    const rowBefore = (await rt.store.dags.listFiles())[0]!;
    const r = await rt.processor.parseBuffer(file, TYPED);
    assert.equal(r.status, 'parsed');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      [...r.dags.get('etl')!.tasks.keys()],
      ['extract', 'load', 'report'],
      'the typed task is in the structure',
    );
    assert.equal(r.dags.get('etl')!.tasks.get('report')!.position?.line, 5, 'positions are of the buffer');
    assert.equal(readFileSync(file, 'utf8'), SAVED, 'the file is not written');
    const rowAfter = (await rt.store.dags.listFiles())[0]!;
    assert.deepEqual(rowAfter, rowBefore, "the store's serialized DAG of the file is the saved one");
    assert.deepEqual(
      [...rt.dagBag!.dags.get('etl')!.tasks.keys()],
      ['extract', 'load'],
      "the runtime's DAG (what runs use) is the saved one",
    );
    assert.equal(rt.dagBag, saved);
    assert.deepEqual(bufferBundles(ws.root), [], "the buffer's compiled module is removed after its parse");
    // A reload after the preview: the saved file is unchanged, so its stored result is used as it is.
    const again = await rt.loadDags();
    assert.equal(again.stats.parsed, 0);
    assert.deepEqual([...again.dags.get('etl')!.tasks.keys()], ['extract', 'load']);
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('an error in the buffer is reported at its line, with the real path of the file (relative imports resolve from its folder)', async () => {
  const ws = tempWorkspace({ 'dags/etl.ts': SAVED, 'dags/lib/names.ts': `export const suffix = '_v2';\n` });
  const rt = await Runtime.open(ws.root);
  try {
    const file = join(ws.dags, 'etl.ts');
    await rt.loadDags();
    const syntax = await rt.processor.parseBuffer(
      file,
      `${SAVED}etl.task('oops', async () => { return 1 +; });\n`,
    );
    assert.equal(syntax.dags.size, 0);
    assert.equal(syntax.errors.length, 1);
    assert.equal(syntax.errors[0]!.file, file);
    assert.equal(syntax.errors[0]!.line, 5);
    assert.match(
      syntax.errors[0]!.message,
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: Unexpected ";"`),
    );
    const thrown = await rt.processor.parseBuffer(
      file,
      `import { suffix } from './lib/names.ts';\n${SAVED}\nif (suffix === '_v2') throw new Error('no config for ' + suffix);\n`,
    );
    assert.equal(thrown.errors.length, 1, JSON.stringify(thrown.errors));
    assert.equal(thrown.errors[0]!.file, file);
    assert.equal(
      thrown.errors[0]!.line,
      7,
      'the line of the throw in the buffer (the relative import resolved)',
    );
    assert.match(thrown.errors[0]!.message, /Error: no config for _v2/);
    const cycle = await rt.processor.parseBuffer(
      file,
      `${SAVED}etl.task('x', async () => 1).after('load').before('extract');\n`,
    );
    assert.equal(cycle.dags.size, 0);
    assert.match(cycle.errors[0]!.message, /cycle/i);
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('one parse per file at a time: the newest text wins, texts asked for meanwhile are superseded', async () => {
  const ws = tempWorkspace({ 'dags/etl.ts': SAVED });
  const rt = await Runtime.open(ws.root);
  try {
    const file = join(ws.dags, 'etl.ts');
    await rt.loadDags();
    const texts = ['first', 'second', 'third'].map((n) => `${SAVED}etl.task('${n}', async () => 1);\n`);
    const results = await Promise.all(texts.map((t) => rt.processor.parseBuffer(file, t)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['superseded', 'superseded', 'parsed'],
      'the one in flight is answered as superseded, the one waiting is never parsed, the newest is parsed',
    );
    assert.equal(results[1]!.dags.size, 0, 'the waiting text was not parsed');
    assert.deepEqual([...results[2]!.dags.get('etl')!.tasks.keys()], ['extract', 'load', 'third']);
    // Another file is not held up by this one's queue.
    ws.write(
      'dags/other.ts',
      `import { dag } from 'hangar';\nexport const o = dag({ id: 'other' });\no.task('t', async () => 1);\n`,
    );
    const [a, b] = await Promise.all([
      rt.processor.parseBuffer(file, texts[0]!),
      rt.processor.parseBuffer(
        join(ws.dags, 'other.ts'),
        `import { dag } from 'hangar';\nexport const o = dag({ id: 'other' });\no.task('u', async () => 1);\n`,
      ),
    ]);
    assert.deepEqual([a.status, b.status], ['parsed', 'parsed']);
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('a file whose last parse took longer than the limit is not parsed on keystrokes; saved fast again, it is', async () => {
  const slowText = `import { dag } from 'hangar';\nawait new Promise((r) => setTimeout(r, 400));\nexport const d = dag({ id: 'slowfile' });\nd.task('a', async () => 1);\n`;
  const ws = tempWorkspace({ 'dags/slowfile.ts': slowText });
  const rt = await Runtime.open(ws.root);
  try {
    const file = join(ws.dags, 'slowfile.ts');
    await rt.loadDags(); // the saved parse awaits 400 ms at its top level: over a 200 ms limit
    const skipped = await rt.processor.parseBuffer(file, `${slowText}d.task('b', async () => 1);\n`, {
      slowMs: 200,
    });
    assert.equal(skipped.status, 'slow');
    assert.ok(skipped.lastMs! >= 400, `the last parse's time is given (${skipped.lastMs})`);
    assert.equal(skipped.dags.size, 0, 'not parsed');
    // Without a limit (a save's parse) it is parsed; the fast version saved resets the file's last time.
    ws.write(
      'dags/slowfile.ts',
      `import { dag } from 'hangar';\nexport const d = dag({ id: 'slowfile' });\nd.task('a', async () => 1);\n`,
    );
    await rt.loadDags();
    const typed = await rt.processor.parseBuffer(
      file,
      `import { dag } from 'hangar';\nexport const d = dag({ id: 'slowfile' });\nd.task('a', async () => 1);\nd.task('b', async () => 1);\n`,
      { slowMs: 60_000 },
    );
    assert.equal(typed.status, 'parsed');
    assert.deepEqual([...typed.dags.get('slowfile')!.tasks.keys()], ['a', 'b']);
    // A buffer parse that is itself slow stops the next keystrokes' parses too.
    const slowBuffer = await rt.processor.parseBuffer(file, slowText, { slowMs: 60_000 });
    assert.equal(slowBuffer.status, 'parsed');
    assert.equal((await rt.processor.parseBuffer(file, slowText, { slowMs: 200 })).status, 'slow');
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('dag/parseBuffer (runtime server): the buffer as DagInfo, only for files under the DAG folder; dag/list stays the saved state', async () => {
  const ws = tempWorkspace({ 'dags/etl.ts': SAVED });
  const service = new RuntimeService(() => undefined);
  try {
    await service.handle('runtime/initialize', { workspace: ws.root, config: {} });
    const file = join(ws.dags, 'etl.ts');
    const r = (await service.handle('dag/parseBuffer', {
      file,
      text: TYPED,
      slowMs: 60_000,
    })) as DagParseBufferResult;
    assert.equal(r.status, 'parsed');
    assert.equal(r.file, file);
    assert.deepEqual(
      r.dags.map((d) => [d.dagId, d.file, d.tasks.map((t) => t.taskId).sort()]),
      [['etl', file, ['extract', 'load', 'report']]],
    );
    assert.deepEqual([r.errors, r.warnings], [[], []]);
    const list = (await service.handle('dag/list', {})) as { dags: { tasks: unknown[] }[] };
    assert.equal(list.dags[0]!.tasks.length, 2, 'dag/list is the saved file');
    await assert.rejects(
      service.handle('dag/parseBuffer', { file: join(ws.root, 'elsewhere.ts'), text: TYPED }),
      /is not a DAG file under the DAG folder/,
    );
    await assert.rejects(
      service.handle('dag/parseBuffer', { file, text: 42 }),
      /"text" must be the buffer's text/,
    );
  } finally {
    await service.shutdown();
    ws.remove();
  }
});

test('parse budget: an import over parseBudgetMs gets a warning naming its slow top-level statement; a buffer too', async () => {
  const ws = tempWorkspace({
    'hangar.json': JSON.stringify({ parseBudgetMs: 2000 }),
    'dags/slowpoke.ts': busy(2500),
    'dags/etl.ts': SAVED,
  });
  const rt = await Runtime.open(ws.root);
  try {
    const file = join(ws.dags, 'slowpoke.ts');
    const bag = await rt.loadDags();
    assert.deepEqual([...bag.dags.keys()].sort(), ['etl', 'slowpoke'], 'the slow file still loads');
    assert.deepEqual(bag.errors, []);
    assert.equal(bag.warnings.length, 1, JSON.stringify(bag.warnings));
    const w = bag.warnings[0]!;
    assert.equal(w.file, file);
    assert.equal(w.line, 6);
    assert.match(
      w.message,
      /its import took \d+(\.\d+)? s, over the parse budget of 2 s \(parseBudgetMs\): the slow top-level statement is at line 6: `export const warmed = busyWait\(2500\);`/,
    );
    // Kept with the file's record: an unchanged file is reported again without being parsed.
    const again = await rt.loadDags();
    assert.equal(again.stats.parsed, 0);
    assert.deepEqual(again.warnings, bag.warnings);
    // The buffer's parse has the same budget: the warning follows the statement as it moves.
    const typed = await rt.processor.parseBuffer(file, `// a line above\n${busy(2500)}`);
    assert.equal(typed.warnings.length, 1);
    assert.equal(typed.warnings[0]!.line, 7);
    assert.match(typed.warnings[0]!.message, /at line 7: `export const warmed = busyWait\(2500\);`/);
    const fast = await rt.processor.parseBuffer(file, busy(1));
    assert.deepEqual(fast.warnings, [], 'within the budget: no warning');
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('hangar list: the parse budget warning in the output and --timings; it does not fail the command', () => {
  const ws = tempWorkspace({ 'dags/slowpoke.ts': busy(2500) });
  try {
    const json = hangar(['list', '--json', '--workspace', ws.root], { timeoutMs: 60_000 });
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as {
      parse_warnings: { fileloc: string; line: number; message: string }[];
    };
    assert.equal(out.parse_warnings.length, 1);
    assert.equal(out.parse_warnings[0]!.line, 6);
    assert.match(
      out.parse_warnings[0]!.message,
      /over the parse budget of 2 s \(parseBudgetMs\): the slow top-level statement is at line 6: `export const warmed = busyWait\(2500\);`/,
    );
    const text = hangar(['list', '--timings', '--workspace', ws.root], { timeoutMs: 60_000 });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Parse warning: .*slowpoke\.ts:6:1: its import took/);
    assert.match(text.stdout, /slowpoke\.ts .*unchanged since \S+ \(over parseBudgetMs\)/);
    const fast = tempWorkspace({ 'dags/etl.ts': SAVED });
    try {
      const r = JSON.parse(hangar(['list', '--json', '--workspace', fast.root]).stdout) as Record<
        string,
        unknown
      >;
      assert.ok(!('parse_warnings' in r), 'no warnings: no field');
    } finally {
      fast.remove();
    }
  } finally {
    ws.remove();
  }
});

test('dag/parseBuffer over JSON-RPC: the runtime server (src/runtime/server/main.ts) answers it as the extension asks', async () => {
  const ws = tempWorkspace({ 'dags/etl.ts': SAVED });
  const child = spawn(
    process.execPath,
    [resolve(import.meta.dirname, '..', '..', 'src', 'runtime', 'server', 'main.ts')],
    { cwd: ws.root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const rpc = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
  );
  rpc.listen();
  try {
    await rpc.sendRequest(Initialize, { workspace: ws.root, config: {} });
    await rpc.sendRequest(DagList, {});
    const file = join(ws.dags, 'etl.ts');
    const r = await rpc.sendRequest(DagParseBuffer, { file, text: TYPED, slowMs: 60_000 });
    assert.equal(r.status, 'parsed');
    assert.deepEqual(r.dags[0]!.tasks.map((t) => t.taskId).sort(), ['extract', 'load', 'report']);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    await rpc.sendRequest(Shutdown).catch(() => undefined);
    await exited;
    rpc.dispose();
    ws.remove();
  }
});
