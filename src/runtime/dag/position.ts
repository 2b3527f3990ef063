/** Where in a DAG file something was defined, for errors that name the file and line. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const FRAME = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?\s*$/;

let callerFilter: ((file: string) => boolean) | undefined;

/** The loader says which files are user code (DAG files and their modules). */
export function setUserFileFilter(filter: ((file: string) => boolean) | undefined): void {
  callerFilter = filter;
}

/** The first stack frame that belongs to user code (source-mapped when source maps are on). */
export function callerPosition(): SourcePosition | undefined {
  if (!callerFilter) return undefined;
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    const m = FRAME.exec(line);
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith('file://')) file = decodeURIComponent(new URL(file).pathname);
    if (callerFilter(file)) return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

export function formatPosition(p: SourcePosition | undefined): string {
  return p ? `${p.file}:${p.line}:${p.column}` : '<unknown position>';
}
