/**
 * vscode-free logic of the Test Explorer's "Your tests" (src/vscode/user-tests.ts): the workspace's
 * own `node:test` files that use `hangar/testing`, run by Node's test runner with Hangar's reporter
 * (src/vscode/user-tests-reporter.ts).
 *
 * - which files are such tests, and a cheap scan of their `test(`/`it(`/`describe(` calls (items
 *   before the first run);
 * - the reporter's events (one JSON line each) and what they mean for the items: a tree rebuilt
 *   from `test:start` (by nesting), outcomes from `test:pass`/`test:fail`;
 * - the `--test-name-pattern` that runs one test alone, and where a failure happened (the first
 *   stack frame in the test file).
 */
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

// ---------------------------------------------------------------------------------------------
// Ids. VS Code forbids \0 in test ids; names may hold anything, so a path is JSON.

/** One step of a test's path: its name, and which of its same-named siblings it is (1 = the first). */
export interface PathStep {
  readonly name: string;
  readonly n: number;
}

export const USER_TESTS_GROUP_ID = 'usertests';
export const userFileId = (file: string): string => `ufile:${file}`;
export const userTestId = (file: string, path: readonly PathStep[]): string =>
  `utest:${JSON.stringify([file, ...path.map((s) => (s.n > 1 ? [s.name, s.n] : s.name))])}`;

export type UserTestTarget =
  | { readonly kind: 'group' }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'test'; readonly file: string; readonly path: PathStep[] };

export function parseUserTestId(id: string): UserTestTarget | undefined {
  if (id === USER_TESTS_GROUP_ID) return { kind: 'group' };
  if (id.startsWith('ufile:') && id.length > 6) return { kind: 'file', file: id.slice(6) };
  if (!id.startsWith('utest:')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(id.slice(6));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length < 2 || typeof parsed[0] !== 'string') return undefined;
  const path: PathStep[] = [];
  for (const s of parsed.slice(1) as unknown[]) {
    if (typeof s === 'string') path.push({ name: s, n: 1 });
    else if (Array.isArray(s) && typeof s[0] === 'string' && Number.isInteger(s[1]) && (s[1] as number) > 1)
      path.push({ name: s[0], n: s[1] as number });
    else return undefined;
  }
  return { kind: 'test', file: parsed[0], path };
}

// ---------------------------------------------------------------------------------------------
// Which files, and a cheap scan of their tests.

/** Node's test runner's own file names (`*.test.ts`, `*-test.mjs`, `*_test.js`, `test-*.ts`, `test.ts`), TypeScript or JavaScript. */
export const USER_TEST_GLOB = '**/{*.test,*-test,*_test,test-*,test}.{ts,mts,cts,js,mjs,cjs}';
/** Never looked at: packages, Hangar's state folder, build output. */
export const USER_TEST_EXCLUDE = '{**/node_modules/**,**/.hangar/**,**/dist/**,**/.git/**}';

const HANGAR_TESTING =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s*)['"]hangar\/testing['"]/m;

/** Whether a file's text imports `hangar/testing` (an import, `import()` or `require()`). */
export function usesHangarTesting(text: string): boolean {
  return HANGAR_TESTING.test(text);
}

export type TestKind = 'test' | 'suite';

export interface ScannedTest {
  readonly name: string;
  readonly kind: TestKind;
  /** 1-based, of the call's first identifier. */
  readonly line: number;
  readonly column: number;
  readonly children: ScannedTest[];
}

const SUITES = new Set(['describe', 'suite']);
const TESTS = new Set(['test', 'it']);
const MODIFIERS = new Set(['only', 'skip', 'todo']);

function kindOfCallee(chain: string[]): TestKind | undefined {
  const [head, ...rest] = chain;
  if (!head) return undefined;
  const modifiersOnly = (from: number) => chain.slice(from).every((m) => MODIFIERS.has(m));
  if (SUITES.has(head) && rest.length <= 1 && modifiersOnly(1)) return 'suite';
  if (TESTS.has(head) && rest.length <= 1 && modifiersOnly(1)) return 'test';
  // A subtest through the test's context: `t.test('…')`, `t.test.skip('…')`.
  if (chain.length >= 2 && chain[1] === 'test' && !TESTS.has(head) && !SUITES.has(head) && modifiersOnly(2))
    return chain.length <= 3 ? 'test' : undefined;
  return undefined;
}

function unescape(body: string): string {
  return body.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])/g, (_m, e: string) => {
    if (e[0] === 'u' && e.length > 1) return String.fromCodePoint(parseInt(e.replace(/[u{}]/g, ''), 16));
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return (
      (
        { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' } as Record<
          string,
          string
        >
      )[e] ?? e
    );
  });
}

/**
 * The `test(`/`it(`/`describe(`/`suite(`/`t.test(` calls of a file whose first argument is a string
 * literal, nested as written (a call inside another's parentheses is its child). A cheap scan (no
 * parser): it skips comments, strings and template literals; a name built at run time is not seen
 * (the first run's events add it).
 */
export function scanTests(text: string): ScannedTest[] {
  const roots: ScannedTest[] = [];
  // One frame per open parenthesis: the test it opened, if any.
  const frames: (ScannedTest | null)[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  const parent = (): ScannedTest | undefined => {
    for (let k = frames.length - 1; k >= 0; k--) if (frames[k]) return frames[k]!;
    return undefined;
  };
  const skipSpace = (from: number): number => {
    let k = from;
    while (k < n) {
      const c = text[k]!;
      if (c === '\n') {
        line++;
        lineStart = k + 1;
        k++;
      } else if (c === ' ' || c === '\t' || c === '\r') k++;
      else if (c === '/' && text[k + 1] === '/') {
        while (k < n && text[k] !== '\n') k++;
      } else if (c === '/' && text[k + 1] === '*') {
        const end = text.indexOf('*/', k + 2);
        const stop = end < 0 ? n : end + 2;
        for (let m = k; m < stop; m++)
          if (text[m] === '\n') {
            line++;
            lineStart = m + 1;
          }
        k = stop;
      } else break;
    }
    return k;
  };
  /** Reads a string or template literal at `from`; its text (undefined for a template with `${`) and where it ends. */
  const readString = (from: number): { value: string | undefined; end: number } => {
    const q = text[from]!;
    let k = from + 1;
    let dynamic = false;
    while (k < n && text[k] !== q) {
      if (text[k] === '\\') k++;
      else if (text[k] === '\n') {
        if (q !== '`') break;
        line++;
        lineStart = k + 1;
      } else if (q === '`' && text[k] === '$' && text[k + 1] === '{') dynamic = true;
      k++;
    }
    return { value: dynamic ? undefined : unescape(text.slice(from + 1, k)), end: Math.min(n, k + 1) };
  };
  while (i < n) {
    const c = text[i]!;
    if (
      c === '\n' ||
      c === ' ' ||
      c === '\t' ||
      c === '\r' ||
      (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*'))
    ) {
      i = skipSpace(i);
    } else if (c === '"' || c === "'" || c === '`') {
      i = readString(i).end;
    } else if (c === '(') {
      frames.push(null);
      i++;
    } else if (c === ')') {
      frames.pop();
      i++;
    } else if (/[A-Za-z_$]/.test(c) && !/[\w$.]/.test(text[i - 1] ?? '')) {
      const startLine = line;
      const startColumn = i - lineStart + 1;
      const chain: string[] = [];
      let k = i;
      for (;;) {
        const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(k, k + 200));
        if (!m) break;
        chain.push(m[0]);
        k += m[0].length;
        const after = skipSpace(k);
        if (text[after] === '.') k = skipSpace(after + 1);
        else {
          k = after;
          break;
        }
      }
      const kind = text[k] === '(' ? kindOfCallee(chain) : undefined;
      if (!kind) {
        i = Math.max(k, i + 1);
        continue;
      }
      const arg = skipSpace(k + 1);
      const q = text[arg];
      let name: string | undefined;
      let end = arg;
      if (q === '"' || q === "'" || q === '`') ({ value: name, end } = readString(arg));
      const node: ScannedTest | null =
        name === undefined ? null : { name, kind, line: startLine, column: startColumn, children: [] };
      if (node) (parent()?.children ?? roots).push(node);
      frames.push(node);
      i = end;
    } else i++;
  }
  return roots;
}

/** The paths of scanned tests (same-named siblings numbered as the runner reports them: in order). */
export function withPaths(
  tests: readonly ScannedTest[],
  prefix: readonly PathStep[] = [],
): { test: ScannedTest; path: PathStep[]; children: ReturnType<typeof withPaths> }[] {
  const seen = new Map<string, number>();
  return tests.map((t) => {
    const n = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, n);
    const path = [...prefix, { name: t.name, n }];
    return { test: t, path, children: withPaths(t.children, path) };
  });
}

// ---------------------------------------------------------------------------------------------
// Running one test alone.

/** A regular expression matching `text` literally. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * The `--test-name-pattern` that runs the test at `path` (and its subtests). Node matches a
 * pattern against a test's name with its ancestors' before it, space-separated, and runs a
 * matching test's subtests; a suite's body always runs, but a subtest made inside a test
 * (`t.test`) exists only when its parent test runs: such a test runs with its parent test
 * (the nearest ancestor that is a test, under suites only), so the pattern names that one.
 * `kinds[i]` is the kind of `path[i]` (unknown: a test).
 */
export function namePattern(path: readonly PathStep[], kinds: readonly (TestKind | undefined)[]): string {
  let end = path.length;
  for (let i = 0; i < path.length - 1; i++)
    if ((kinds[i] ?? 'test') === 'test') {
      end = i + 1;
      break;
    }
  return `^${escapeRegExp(
    path
      .slice(0, end)
      .map((s) => s.name)
      .join(' '),
  )}$`;
}

// ---------------------------------------------------------------------------------------------
// Where a failure happened.

export interface SourceLocation {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly column: number;
}

const FRAME = /^\s*at (?:.*? \()?((?:file:\/\/)?[^()\s][^()]*?):(\d+):(\d+)\)?\s*$/;

/** The frames of a V8 stack that name a file (file: URLs made paths). */
export function stackFrames(stack: string): SourceLocation[] {
  const out: SourceLocation[] = [];
  for (const l of stack.split('\n')) {
    const m = FRAME.exec(l);
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith('node:') || file.startsWith('<')) continue;
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (!isAbsolute(file)) continue;
    out.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  return out;
}

/**
 * Where to show a failure: the first frame in the test file, else the first in the workspace
 * outside node_modules (a DAG file, a helper), else none.
 */
export function failureLocation(
  stack: string | undefined,
  testFile: string,
  workspace: string | undefined,
): SourceLocation | undefined {
  if (!stack) return undefined;
  const frames = stackFrames(stack);
  const inWorkspace = (f: string) => {
    if (!workspace) return false;
    const rel = relative(workspace, f);
    return !!rel && !rel.startsWith('..') && !isAbsolute(rel) && !/(^|[\\/])node_modules[\\/]/.test(rel);
  };
  return frames.find((f) => f.file === testFile) ?? frames.find((f) => inWorkspace(f.file));
}

// ---------------------------------------------------------------------------------------------
// The reporter's events (src/vscode/user-tests-reporter.ts writes one JSON line per event).

export interface ErrorInfo {
  readonly message: string;
  readonly stack?: string;
  /** node:test's kind of failure: testCodeFailure, hookFailed, subtestsFailed, cancelledByParent… */
  readonly failureType?: string;
  /** An AssertionError's values, as util.inspect shows them (for a diff). */
  readonly expected?: string;
  readonly actual?: string;
}

interface Where {
  readonly name: string;
  readonly nesting: number;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type ReporterEvent =
  | ({ readonly type: 'start' } & Where)
  | ({
      readonly type: 'pass' | 'fail';
      readonly kind: TestKind;
      readonly durationMs: number;
      readonly skip?: string | true;
      readonly todo?: string | true;
      readonly error?: ErrorInfo;
    } & Where)
  /** The test file as a whole (its process): failed when it could not load or exited badly. */
  | {
      readonly type: 'file';
      readonly file: string;
      readonly passed: boolean;
      readonly durationMs: number;
      readonly error?: ErrorInfo;
    }
  | { readonly type: 'stdout' | 'stderr'; readonly file: string; readonly message: string }
  | { readonly type: 'diagnostic'; readonly message: string };

/** A test event as node:test hands it to a reporter (the fields used here). */
export interface NodeTestEvent {
  readonly type: string;
  readonly data?: Record<string, unknown>;
}

function errorInfo(e: unknown): ErrorInfo | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const err = e as { message?: unknown; stack?: unknown; failureType?: unknown; cause?: unknown };
  // node:test wraps what the test threw (ERR_TEST_FAILURE) and keeps it as the cause.
  const cause =
    err.cause && typeof err.cause === 'object' && 'message' in err.cause
      ? (err.cause as Record<string, unknown>)
      : undefined;
  const src = cause ?? (err as Record<string, unknown>);
  const message =
    typeof src.message === 'string' ? src.message : String(src.message ?? err.message ?? 'failed');
  const show = (v: unknown) => inspect(v, { depth: 6, sorted: true, breakLength: 80 });
  const assertion =
    cause && (cause.code === 'ERR_ASSERTION' || cause.name === 'AssertionError') && 'expected' in cause;
  return {
    message,
    ...(typeof src.stack === 'string' ? { stack: src.stack } : {}),
    ...(typeof err.failureType === 'string' ? { failureType: err.failureType } : {}),
    ...(assertion ? { expected: show(cause.expected), actual: show(cause.actual) } : {}),
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A node:test event as the extension reads it, or undefined for the ones it does not use. `cwd`
 * is the runner's: it names the test of a whole file by the file's path relative to it.
 */
export function reporterEvent(event: NodeTestEvent, cwd: string): ReporterEvent | undefined {
  const d = event.data ?? {};
  const file = str(d.file);
  const where: Where = {
    name: str(d.name),
    nesting: num(d.nesting),
    file,
    line: num(d.line),
    column: num(d.column),
  };
  const details = (d.details ?? {}) as Record<string, unknown>;
  const isFile =
    where.nesting === 0 &&
    !!file &&
    (where.name === relative(cwd, file) || where.name === file) &&
    where.line === 1 &&
    where.column === 1;
  switch (event.type) {
    case 'test:start':
      return isFile ? undefined : { type: 'start', ...where };
    case 'test:pass':
    case 'test:fail': {
      const error = event.type === 'test:fail' ? errorInfo(details.error) : undefined;
      const durationMs = num(details.duration_ms);
      if (isFile)
        return {
          type: 'file',
          file,
          passed: event.type === 'test:pass',
          durationMs,
          ...(error ? { error } : {}),
        };
      const skip = d.skip === true || typeof d.skip === 'string' ? (d.skip as string | true) : undefined;
      const todo = d.todo === true || typeof d.todo === 'string' ? (d.todo as string | true) : undefined;
      return {
        type: event.type === 'test:pass' ? 'pass' : 'fail',
        ...where,
        kind: details.type === 'suite' ? 'suite' : 'test',
        durationMs,
        ...(skip !== undefined ? { skip } : {}),
        ...(todo !== undefined ? { todo } : {}),
        ...(error ? { error } : {}),
      };
    }
    case 'test:stdout':
    case 'test:stderr':
      return {
        type: event.type === 'test:stdout' ? 'stdout' : 'stderr',
        file: str(d.entryFile) || file,
        message: str(d.message),
      };
    case 'test:diagnostic':
      return { type: 'diagnostic', message: str(d.message) };
    default:
      return undefined;
  }
}

const EVENT_TYPES = new Set(['start', 'pass', 'fail', 'file', 'stdout', 'stderr', 'diagnostic']);

/** A line of the reporter's output: its event, or undefined (anything else the process printed). */
export function parseReporterLine(line: string): ReporterEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const e = JSON.parse(line) as { type?: unknown };
    return e && typeof e === 'object' && typeof e.type === 'string' && EVENT_TYPES.has(e.type)
      ? (e as ReporterEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Events → results.

export interface UserTestResult {
  readonly id: string;
  readonly file: string;
  readonly path: PathStep[];
  readonly kind: TestKind;
  readonly line: number;
  readonly column: number;
  readonly outcome: 'passed' | 'failed' | 'skipped';
  readonly durationMs: number;
  /** For a failure: what failed, where (the first frame in the test file, else the test's line), a diff's sides. */
  readonly message?: string;
  readonly location?: SourceLocation;
  readonly expected?: string;
  readonly actual?: string;
}

export interface StartedTest {
  readonly id: string;
  readonly file: string;
  readonly path: PathStep[];
  readonly line: number;
  readonly column: number;
}

/**
 * Follows one file's run: `start()` says which test a `test:start` is (a new item, maybe), and
 * `end()` what a `test:pass`/`test:fail` means for it. Tests are reported in order, a parent's
 * start before its subtests', its end after theirs, so the path of an event at nesting n is the
 * path of the last test started at nesting n.
 */
export class NodeTestRun {
  private readonly stack: PathStep[][] = [];
  /** Per parent path (JSON), how many tests of each name were started (same-named siblings). */
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly file: string;
  private readonly workspace: string | undefined;

  constructor(file: string, workspace: string | undefined) {
    this.file = file;
    this.workspace = workspace;
  }

  start(e: Extract<ReporterEvent, { type: 'start' }>): StartedTest {
    const parent = e.nesting > 0 ? (this.stack[e.nesting - 1] ?? []) : [];
    const key = JSON.stringify(parent);
    const names = this.counts.get(key) ?? new Map<string, number>();
    this.counts.set(key, names);
    const n = (names.get(e.name) ?? 0) + 1;
    names.set(e.name, n);
    const path = [...parent, { name: e.name, n }];
    this.stack.length = e.nesting;
    this.stack[e.nesting] = path;
    return { id: userTestId(this.file, path), file: this.file, path, line: e.line, column: e.column };
  }

  end(e: Extract<ReporterEvent, { type: 'pass' | 'fail' }>): UserTestResult {
    const path = this.stack[e.nesting] ?? [{ name: e.name, n: 1 }];
    const base = {
      id: userTestId(this.file, path),
      file: this.file,
      path,
      kind: e.kind,
      line: e.line,
      column: e.column,
      durationMs: e.durationMs,
    };
    if (e.skip !== undefined || e.todo !== undefined) return { ...base, outcome: 'skipped' };
    if (e.type === 'pass') return { ...base, outcome: 'passed' };
    const error = e.error;
    const at = failureLocation(error?.stack, this.file, this.workspace) ?? {
      file: this.file,
      line: e.line,
      column: e.column,
    };
    return {
      ...base,
      outcome: 'failed',
      message: failureMessage(error),
      location: at,
      ...(error?.expected !== undefined && error.actual !== undefined
        ? { expected: error.expected, actual: error.actual }
        : {}),
    };
  }
}

/** A failure's text: the error's message, and its stack's frames outside Node's internals. */
export function failureMessage(error: ErrorInfo | undefined): string {
  if (!error) return 'failed';
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l) && !/\(node:|at node:|node:internal/.test(l));
  return [error.message.trimEnd(), ...frames].join('\n');
}

/** The failure of a whole file (it did not load, or its process ended badly), with its stderr's tail. */
export function fileFailureMessage(file: string, error: ErrorInfo | undefined, stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  const tail = lines.slice(-30).join('\n');
  const missing = /Cannot find (?:package|module) '(hangar(?:\/testing)?)'/.exec(stderr);
  const hint = missing
    ? `\n\n"${missing[1]}" is not installed where ${file} can import it: install Hangar in the workspace (npm install --save-dev <path or tarball of the Hangar package>), see "Testing your DAGs".`
    : '';
  return `${file} failed as a whole (${error?.message ?? 'its process ended badly'})${tail ? `:\n${tail}` : ''}${hint}`;
}

// ---------------------------------------------------------------------------------------------
// The command line.

/**
 * Node's arguments to run one test file with Hangar's reporter: type stripping on a Node that
 * needs the flag for it (22.6 to 22.17; on by default from 22.18 and in 23.6+), the name patterns of
 * the tests asked for (none: the whole file).
 */
export function nodeTestArgs(o: {
  file: string;
  reporter: string;
  destination?: string;
  patterns: readonly string[];
  nodeVersion: string;
}): string[] {
  return [
    ...(needsStripTypesFlag(o.nodeVersion) && /\.[mc]?ts$/.test(o.file)
      ? ['--experimental-strip-types']
      : []),
    '--enable-source-maps',
    '--test',
    `--test-reporter=${o.reporter}`,
    `--test-reporter-destination=${o.destination ?? 'stdout'}`,
    ...o.patterns.map((p) => `--test-name-pattern=${p}`),
    o.file,
  ];
}

export function needsStripTypesFlag(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return (major === 22 && minor >= 6 && minor < 18) || (major === 23 && minor < 6);
}

/**
 * The folder a test file runs in (`testDag('dags/etl.ts')` is relative to it): the nearest one
 * above the file, up to the workspace, with a hangar.json, else with a package.json, else the
 * workspace (the file's own folder without one).
 */
export function testCwd(
  file: string,
  workspace: string | undefined,
  exists: (path: string) => boolean,
): string {
  const dirs: string[] = [];
  for (let d = dirname(file); ; d = dirname(d)) {
    dirs.push(d);
    if (d === workspace || dirname(d) === d) break;
    if (workspace) {
      const rel = relative(workspace, d);
      if (rel.startsWith('..') || isAbsolute(rel)) break;
    }
  }
  return (
    dirs.find((d) => exists(join(d, 'hangar.json'))) ??
    dirs.find((d) => exists(join(d, 'package.json'))) ??
    workspace ??
    dirname(file)
  );
}
