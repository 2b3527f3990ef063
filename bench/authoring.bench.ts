/**
 * Completion latency of the authoring core (src/runtime/authoring/) in a workspace
 * of N DAG files × M tasks (default 200 × 50), against floors measured in the same
 * run on the same file and position:
 *
 *   - TypeScript: `getCompletionsAtPosition` of a LanguageService over the whole
 *     workspace (what the editor's TypeScript server computes at the same keystroke);
 *   - scan only: tokenizing the file (the least any answer must do);
 *   - Hangar: `AuthoringModel.completions` inside `.after('…')` of the middle task.
 *
 * Every iteration is a keystroke: the file's text changes (a character more), so no
 * cache answers for either side. The DAG structure is the shape the DAG processor's
 * `dag/list` gives (task ids, kinds, positions), built from the generated files.
 *
 *   npm run bench:authoring   (HANGAR_BENCH_FILES=200, HANGAR_BENCH_TASKS=50, HANGAR_BENCH_ITERATIONS=300)
 */
import ts from 'typescript';
import type { DagInfo, DagListResult } from '../src/protocol/runtime.ts';
import { AuthoringModel } from '../src/runtime/authoring/model.ts';
import { tokenize } from '../src/runtime/authoring/scanner.ts';

const FILES = Number(process.env.HANGAR_BENCH_FILES ?? 200);
const TASKS = Number(process.env.HANGAR_BENCH_TASKS ?? 50);
const ITERATIONS = Number(process.env.HANGAR_BENCH_ITERATIONS ?? 300);
const ROOT = '/bench-workspace';

const HANGAR_TYPES = `declare module 'hangar' {
  export interface Ctx { xcom: { pull(task: string, key?: string): Promise<unknown> }; connection(id: string): { host: string } }
  export interface TaskRef { before(...t: (TaskRef | string)[]): TaskRef; after(...t: (TaskRef | string)[]): TaskRef }
  export interface Dag { task(id: string, options: object | ((ctx: Ctx) => unknown), fn?: (ctx: Ctx) => unknown): TaskRef }
  export function dag(options: { id: string; schedule: string | null }): Dag;
}
`;

function dagFile(i: number): { text: string; dag: DagInfo } {
  const file = `${ROOT}/dags/dag_${i}.ts`;
  const lines = [
    `import { dag } from 'hangar';`,
    `export const d = dag({ id: 'dag_${i}', schedule: null });`,
  ];
  const tasks: DagInfo['tasks'] = [];
  for (let t = 0; t < TASKS; t++) {
    const prev = t > 0 ? `.after('task_${t - 1}')` : '';
    const col = lines.length;
    lines.push(
      `const t${t} = d.task('task_${t}', { pool: 'default_pool' }, async (ctx) => ctx.xcom.pull('task_${Math.max(0, t - 1)}'))${prev};`,
    );
    tasks.push({
      taskId: `task_${t}`,
      kind: 'typescript',
      upstream: t > 0 ? [`task_${t - 1}`] : [],
      downstream: t < TASKS - 1 ? [`task_${t + 1}`] : [],
      mapped: false,
      retries: 0,
      position: { file, line: col + 1, column: 11 },
    });
  }
  const dag: DagInfo = {
    dagId: `dag_${i}`,
    file,
    description: null,
    schedule: null,
    timezone: 'UTC',
    isPaused: false,
    nextRun: null,
    tags: [],
    position: { file, line: 2, column: 18 },
    tasks,
  };
  return { text: lines.join('\n') + '\n', dag };
}

const files = new Map<string, string>();
const dags: DagInfo[] = [];
for (let i = 0; i < FILES; i++) {
  const { text, dag } = dagFile(i);
  files.set(dag.file, text);
  dags.push(dag);
}
const list: DagListResult = { dags, errors: [], files: [...files.keys()], ms: 0, timings: [] };
const target = dags[Math.floor(FILES / 2)]!.file;
const base = files.get(target)!;
const mid = `.after('task_${Math.floor(TASKS / 2) - 1}`;
const cursorAt = base.indexOf(mid) + `.after('task_`.length;

/** The file as it is after the i-th keystroke (a character typed at the end of a comment line). */
const keystroke = (i: number) => `${base}// ${'x'.repeat(i % 40)}\n`;

function stats(xs: number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)]!,
    p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!,
  };
}

function measure(name: string, fn: (i: number) => unknown): { median: number; p95: number } {
  for (let i = 0; i < 30; i++) fn(i + 1_000_000);
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t = performance.now();
    const r = fn(i);
    times.push(performance.now() - t);
    if (r === undefined) throw new Error(`${name}: no answer at iteration ${i}`);
  }
  return stats(times);
}

// Hangar's core.
const model = new AuthoringModel((f) => files.get(f));
model.update({
  list,
  config: { file: `${ROOT}/hangar.json`, text: '{ "pools": { "warehouse": 4 } }' },
  env: {},
  variables: Array.from({ length: 200 }, (_, i) => ({ key: `var_${i}`, source: 'store', json: i % 2 ? 'object' : null, sensitive: false })),
});
let version = 0;
const hangar = measure('hangar', (i) => {
  const r = model.completions(target, keystroke(i + ++version * 41), cursorAt);
  if (!r || r.items.length !== TASKS) throw new Error(`expected ${TASKS} items, got ${r?.items.length}`);
  return r;
});
// A variable key inside a template string (the workspace's uses are indexed once, the buffer scanned each time).
const varLine = `const tpl = '{{ var.value.var_1 }}';\n`;
const variableCompletion = measure('variables', (i) => {
  const text = `${keystroke(i + ++version * 41)}${varLine}`;
  const r = model.completions(target, text, text.length - 8);
  if (!r || r.items.length !== 200) throw new Error(`expected 200 variables, got ${r?.items.length}`);
  return r;
});
const diagnostics = measure('diagnostics', (i) => model.diagnostics(target, keystroke(i + ++version * 41)));
// One 500-task DAG file (the issue's large DAG): Problems recomputed after a keystroke.
const big = (() => {
  const file = `${ROOT}/dags/big.ts`;
  const lines = [`import { dag } from 'hangar';`, `export const d = dag({ id: 'big', schedule: null });`];
  const tasks: DagInfo['tasks'] = [];
  for (let t = 0; t < 500; t++) {
    lines.push(
      `d.task('task_${t}', { pool: 'default_pool' }, async (ctx) => ctx.xcom.pull('task_${Math.max(0, t - 1)}'))${t > 0 ? `.after('task_${t - 1}')` : ''};`,
    );
    tasks.push({
      taskId: `task_${t}`,
      kind: 'typescript',
      upstream: [],
      downstream: [],
      mapped: false,
      retries: 0,
      position: { file, line: t + 3, column: 1 },
    });
  }
  return { file, text: lines.join('\n') + '\n', dag: { ...dags[0]!, dagId: 'big', file, tasks } };
})();
const bigModel = new AuthoringModel((f) => (f === big.file ? big.text : files.get(f)));
bigModel.update({
  list: { ...list, dags: [...dags, big.dag], files: [...list.files, big.file] },
  config: null,
  env: {},
});
const bigDiagnostics = measure('diagnostics (500 tasks)', (i) => {
  const d = bigModel.diagnostics(big.file, `${big.text}// ${'x'.repeat(i % 40)}${++version}\n`);
  if (d.length) throw new Error(`unexpected Problems: ${d[0]!.message}`);
  return d;
});
const scanOnly = measure('scan', (i) => tokenize(keystroke(i + ++version * 41)));

// TypeScript's own completion at the same position, over the whole workspace.
let text = keystroke(0);
let scriptVersion = 0;
const host: ts.LanguageServiceHost = {
  getCompilationSettings: () => ({
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    strict: true,
    noEmit: true,
    lib: ['lib.es2022.d.ts'],
  }),
  getScriptFileNames: () => [`${ROOT}/hangar.d.ts`, ...files.keys()],
  getScriptVersion: (f) => (f === target ? String(scriptVersion) : '0'),
  getScriptSnapshot: (f) => {
    const t =
      f === target
        ? text
        : f === `${ROOT}/hangar.d.ts`
          ? HANGAR_TYPES
          : (files.get(f) ?? (ts.sys.fileExists(f) ? ts.sys.readFile(f) : undefined));
    return t === undefined ? undefined : ts.ScriptSnapshot.fromString(t);
  },
  getCurrentDirectory: () => ROOT,
  getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
  fileExists: (f) => files.has(f) || f === `${ROOT}/hangar.d.ts` || ts.sys.fileExists(f),
  readFile: (f) => files.get(f) ?? (f === `${ROOT}/hangar.d.ts` ? HANGAR_TYPES : ts.sys.readFile(f)),
};
const service = ts.createLanguageService(host, ts.createDocumentRegistry());
const t0 = performance.now();
service.getCompletionsAtPosition(target, cursorAt, {});
const tsFirst = performance.now() - t0;
const typescript = measure('typescript', (i) => {
  text = keystroke(i + ++version * 41);
  scriptVersion++;
  return service.getCompletionsAtPosition(target, cursorAt, {}) ?? { entries: [] };
});

const fmt = (s: { median: number; p95: number }) =>
  `median ${s.median.toFixed(3)} ms, p95 ${s.p95.toFixed(3)} ms`;
console.log(
  `authoring completion: ${FILES} DAG files × ${TASKS} tasks, ${ITERATIONS} keystrokes each (Node ${process.version}, TypeScript ${ts.version})`,
);
console.log(`  floor, scan only         ${fmt(scanOnly)}`);
console.log(
  `  floor, TypeScript        ${fmt(typescript)} (first request, program built: ${tsFirst.toFixed(0)} ms)`,
);
console.log(`  Hangar (core)            ${fmt(hangar)}`);
console.log(`  Hangar variable completion ${fmt(variableCompletion)}`);
console.log(`  Hangar Problems, same file      ${fmt(diagnostics)}`);
console.log(`  Hangar Problems, 500-task file ${fmt(bigDiagnostics)}`);
console.log(
  `  Hangar adds at p95: ${hangar.p95.toFixed(3)} ms (goal < 20 ms): ${hangar.p95 < 20 ? 'met' : 'NOT met'}; ${(hangar.p95 / typescript.p95).toFixed(3)} × TypeScript's p95`,
);
