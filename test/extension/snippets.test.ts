/**
 * The TypeScript snippets the extension contributes (snippets/typescript.json, package.json
 * contributes.snippets): each body, expanded as VS Code does with every placeholder at its
 * default (a choice at its first option), goes into a DAG file that type-checks against the real
 * `hangar` types (the TypeScript compiler, as test/cli/editor-types.test.ts does) and loads with the
 * real loader, with the tasks the snippet adds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { testRuntime } from '../helpers/runtime.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const SNIPPETS = JSON.parse(readFileSync(join(ROOT, 'snippets', 'typescript.json'), 'utf8')) as Record<
  string,
  { prefix: string; body: string[]; description: string }
>;

/**
 * A snippet body as VS Code inserts it when the user accepts every default: `${n:default}` (nested
 * too) and its mirrors `$n` / `${n}` become the default, `${n|a,b|}` its first choice, `$0` nothing;
 * `\$`, `\}` and `\\` are the characters themselves.
 */
export function expandSnippet(body: string): string {
  const defaults = new Map<string, string>();
  let i = 0;
  const parse = (until?: string): string => {
    let out = '';
    while (i < body.length) {
      const c = body[i]!;
      if (c === '\\' && i + 1 < body.length && '$}\\'.includes(body[i + 1]!)) {
        out += body[i + 1];
        i += 2;
      } else if (until && c === until) {
        return out;
      } else if (c === '$' && /\d/.test(body[i + 1] ?? '')) {
        const n = /^\d+/.exec(body.slice(i + 1))![0];
        i += 1 + n.length;
        out += defaults.get(n) ?? '';
      } else if (c === '$' && body[i + 1] === '{' && /\d/.test(body[i + 2] ?? '')) {
        const n = /^\d+/.exec(body.slice(i + 2))![0];
        i += 2 + n.length;
        let value: string;
        if (body[i] === ':') {
          i++;
          value = parse('}');
        } else if (body[i] === '|') {
          const end = body.indexOf('|}', i + 1);
          value = body.slice(i + 1, end).split(',')[0]!;
          i = end + 1;
        } else value = defaults.get(n) ?? '';
        assert.equal(body[i], '}', `unclosed placeholder ${n}`);
        i++;
        if (!defaults.has(n)) defaults.set(n, value);
        assert.equal(defaults.get(n), value, `placeholder ${n} has two defaults`);
        out += value;
      } else {
        out += c;
        i++;
      }
    }
    assert.equal(until, undefined, 'unclosed placeholder');
    return out;
  };
  return parse();
}

/** Where each snippet goes in a DAG file: after the DAG and an `extract` task, or (defaultArgs) inside dag({ … }). */
function dagFile(name: string, dagId: string, expanded: string): string {
  const options = name === 'hangar-default-args' ? `\n  ${expanded.replaceAll('\n', '\n  ')}\n` : '';
  const body = name === 'hangar-default-args' ? '' : `${expanded}\n`;
  return `import { dag, sensor } from 'hangar';

export const etl = dag({ id: '${dagId}',${options} });
const extract = etl.task('extract', async () => [1, 2, 3]);
${body}void sensor;
void extract;
`;
}

test('snippets: the expander does what VS Code does with defaults', () => {
  assert.equal(
    expandSnippet("const ${1:a} = '${2:x${3:y}}'; $1 ${1} ${4|p,q|} $0 \\$"),
    "const a = 'xy'; a a p  $",
  );
});

test(
  'snippets: every snippet, expanded with its defaults, type-checks against hangar and loads with its tasks',
  { timeout: 300_000 },
  async () => {
    const expected: Record<string, string[]> = {
      'hangar-task': ['extract', 'transform'],
      'hangar-sensor': ['extract', 'wait_for_data'],
      'hangar-mapped': ['extract', 'process'],
      'hangar-branch': ['extract', 'choose_path', 'full_refresh', 'incremental', 'join'],
      'hangar-group': ['extract', 'clean.dedupe'],
      'hangar-default-args': ['extract'],
      'hangar-setup-teardown': ['extract', 'create_cluster', 'work', 'delete_cluster'],
    };
    const snippets = Object.values(SNIPPETS);
    assert.deepEqual(
      snippets.map((s) => s.prefix).sort(),
      Object.keys(expected).sort(),
      'each snippet is tested',
    );
    const files: Record<string, string> = { 'package.json': '{ "type": "module" }\n' };
    for (const s of snippets)
      files[`dags/${s.prefix}.ts`] = dagFile(
        s.prefix,
        s.prefix.replaceAll('-', '_'),
        expandSnippet(s.body.join('\n')),
      );
    const t = await testRuntime(files);
    try {
      // Type-checked as a DAG file in the editor is: strict, `hangar` resolved to its real declarations.
      const program = ts.createProgram({
        rootNames: snippets.map((s) => join(t.ws.root, 'dags', `${s.prefix}.ts`)),
        options: {
          strict: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2023,
          lib: ['lib.es2023.d.ts'],
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          paths: { hangar: [join(ROOT, 'src', 'runtime', 'dag', 'index.ts')] },
        },
      });
      const errors = ts
        .getPreEmitDiagnostics(program)
        .map(
          (d) =>
            `${d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start!).line + 1}` : ''} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
        );
      assert.deepEqual(errors, []);
      // A mistake is caught, so the check above is a real one.
      writeFileSync(
        join(t.ws.root, 'dags', 'broken.ts'),
        dagFile(
          'hangar-task',
          'broken',
          "etl.task('x', async (ctx) => { const n: number = ctx.ds; return n; });",
        ),
      );
      const broken = ts.getPreEmitDiagnostics(
        ts.createProgram({
          rootNames: [join(t.ws.root, 'dags', 'broken.ts')],
          options: program.getCompilerOptions(),
        }),
      );
      assert.deepEqual(
        broken.map((d) => d.code),
        [2322],
      );

      const bag = await t.rt.loadDags();
      const loaded = bag.errors.filter((e) => !e.file.endsWith('broken.ts'));
      assert.deepEqual(
        loaded.map((e) => e.message),
        [],
      );
      for (const [prefix, tasks] of Object.entries(expected)) {
        const d = bag.dags.get(prefix.replaceAll('-', '_'));
        assert.ok(d, `${prefix}: its DAG loaded`);
        assert.deepEqual([...d.tasks.keys()].sort(), [...tasks].sort(), prefix);
      }
      const branch = bag.dags.get('hangar_branch')!;
      assert.equal(branch.tasks.get('join')!.triggerRule, 'none_failed_min_one_success');
      assert.equal(
        bag.dags.get('hangar_default_args')!.tasks.get('extract')!.retries,
        2,
        'the default args reach the tasks',
      );
      assert.equal(bag.dags.get('hangar_mapped')!.tasks.get('process')!.expand !== undefined, true);
    } finally {
      await t.close();
    }
  },
);
