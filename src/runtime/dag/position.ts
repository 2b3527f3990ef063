import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where in a DAG file something was defined, for errors that name the file and line. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

let callerFilter: ((file: string) => boolean) | undefined;

/** The loader says which compiled files are user code (the DAG file being imported). */
export function setUserFileFilter(filter: ((file: string) => boolean) | undefined): void {
  callerFilter = filter;
}

/**
 * A position in compiled code, mapped back to the TypeScript source only when
 * read: defining thousands of tasks stays cheap, and errors still name the .ts line.
 */
class LazyPosition implements SourcePosition {
  private readonly url: string;
  private readonly rawLine: number;
  private readonly rawColumn: number;
  private mapped: SourcePosition | undefined;

  constructor(url: string, line: number, column: number) {
    this.url = url;
    this.rawLine = line;
    this.rawColumn = column;
  }

  private resolve(): SourcePosition {
    if (this.mapped) return this.mapped;
    const fallback = { file: this.url.startsWith('file:') ? fileURLToPath(this.url) : this.url, line: this.rawLine, column: this.rawColumn };
    try {
      const map = findSourceMap(this.url) ?? findSourceMap(fallback.file);
      const entry = map?.findEntry(this.rawLine - 1, this.rawColumn - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
      if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
        const src = entry.originalSource;
        this.mapped = { file: src.startsWith('file:') ? fileURLToPath(src) : src, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
        return this.mapped;
      }
    } catch {
      // fall back to the compiled position
    }
    this.mapped = fallback;
    return fallback;
  }

  get file(): string {
    return this.resolve().file;
  }
  get line(): number {
    return this.resolve().line;
  }
  get column(): number {
    return this.resolve().column;
  }
  toJSON(): SourcePosition {
    return { ...this.resolve() };
  }
}

/** The first stack frame in user code, captured without formatting the whole stack. */
export function callerPosition(): SourcePosition | undefined {
  if (!callerFilter) return undefined;
  const filter = callerFilter;
  const originalPrepare = Error.prepareStackTrace;
  const originalLimit = Error.stackTraceLimit;
  let found: SourcePosition | undefined;
  try {
    Error.stackTraceLimit = 20;
    Error.prepareStackTrace = (_err, sites) => {
      for (const site of sites) {
        const file = site.getFileName();
        if (file && filter(file)) {
          found = new LazyPosition(file, site.getLineNumber() ?? 0, site.getColumnNumber() ?? 0);
          break;
        }
      }
      return '';
    };
    const holder: { stack?: string } = {};
    Error.captureStackTrace(holder, callerPosition);
    void holder.stack;
  } finally {
    Error.prepareStackTrace = originalPrepare;
    Error.stackTraceLimit = originalLimit;
  }
  return found;
}

export function formatPosition(p: SourcePosition | undefined): string {
  return p ? `${p.file}:${p.line}:${p.column}` : '<unknown position>';
}
