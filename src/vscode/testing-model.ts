/**
 * vscode-free logic of the Test Explorer (src/vscode/testing.ts): the tree of test items built
 * from the runtime server's DAG list, and the ids that tell what an item tests.
 */
import type { DagListResult, LoadError, Position } from '../protocol/runtime.ts';

export interface TaskTestNode {
  readonly id: string;
  readonly dagId: string;
  readonly taskId: string;
  readonly position: Position | null;
}

export interface DagTestNode {
  readonly id: string;
  readonly dagId: string;
  readonly position: Position | null;
  readonly tasks: TaskTestNode[];
}

/** One DAG file: its "DAG loads" test, its DAGs and their tasks. */
export interface FileTestNode {
  readonly id: string;
  readonly file: string;
  /** The id of its "DAG loads" test. */
  readonly loadId: string;
  /** Its load errors now (compile, import, validation: the Problems panel's). */
  readonly errors: LoadError[];
  readonly dags: DagTestNode[];
}

/** What a test item's id says it tests. */
export type TestTarget =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'load'; readonly file: string }
  | { readonly kind: 'dag'; readonly dagId: string }
  | { readonly kind: 'task'; readonly dagId: string; readonly taskId: string };

// VS Code forbids \0 in test ids. Ids of DAGs and tasks never hold "/" (letters, digits, _ . -).
export const fileTestId = (file: string): string => `file:${file}`;
export const loadTestId = (file: string): string => `load:${file}`;
export const dagTestId = (dagId: string): string => `dag:${dagId}`;
export const taskTestId = (dagId: string, taskId: string): string => `task:${dagId}/${taskId}`;

export function parseTestId(id: string): TestTarget | undefined {
  const colon = id.indexOf(':');
  if (colon < 0) return undefined;
  const kind = id.slice(0, colon);
  const rest = id.slice(colon + 1);
  if (!rest) return undefined;
  if (kind === 'file' || kind === 'load') return { kind, file: rest };
  if (kind === 'dag') return { kind, dagId: rest };
  const slash = rest.indexOf('/');
  if (kind === 'task' && slash > 0 && slash < rest.length - 1)
    return { kind, dagId: rest.slice(0, slash), taskId: rest.slice(slash + 1) };
  return undefined;
}

/** The test tree: every DAG file looked at (with or without errors), sorted by path; DAGs and tasks in the list's order. */
export function testTree(list: DagListResult): FileTestNode[] {
  const files = new Set<string>([
    ...list.files,
    ...list.dags.map((d) => d.file),
    ...list.errors.map((e) => e.file),
  ]);
  return [...files].sort().map((file) => ({
    id: fileTestId(file),
    file,
    loadId: loadTestId(file),
    errors: list.errors.filter((e) => e.file === file),
    dags: list.dags
      .filter((d) => d.file === file)
      .map((d) => ({
        id: dagTestId(d.dagId),
        dagId: d.dagId,
        position: d.position,
        tasks: d.tasks.map((t) => ({
          id: taskTestId(d.dagId, t.taskId),
          dagId: d.dagId,
          taskId: t.taskId,
          position: t.position,
        })),
      })),
  }));
}

/** The "DAG loads" verdict of a file in a fresh DAG list: its errors (none: it loads). */
export function loadErrorsOf(list: DagListResult, file: string): LoadError[] {
  return list.errors.filter((e) => e.file === file);
}

/** A test's output for the Test Results terminal: CRLF line ends. */
export function testOutput(text: string): string {
  const t = text.replace(/\r?\n/g, '\r\n');
  return t.endsWith('\r\n') || !t ? t : `${t}\r\n`;
}
