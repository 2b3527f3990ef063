/**
 * Starting a DAG from a template: `hangar new NAME [--template T]` and the extension's
 * "Hangar: New DAG…" both call createDagFile (no vscode here).
 *
 * The templates are real DAG files under templates/dags/ (type-checked by the repository's
 * tsc run, shipped in the npm package and the .vsix). In each, the DAG's variable is `newDag`,
 * its id `new_dag`, and a `/*cursor*\/` comment marks where the editor's cursor goes (the start
 * of the first task's body); createDagFile replaces the first two and removes the third.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type DagTemplateName = 'etl' | 'sensor' | 'mapping' | 'branching' | 'sftp-sync';

export interface DagTemplate {
  readonly name: DagTemplateName;
  readonly label: string;
  readonly description: string;
}

/** The templates, the default first. */
export const DAG_TEMPLATES: readonly DagTemplate[] = [
  { name: 'etl', label: 'ETL', description: 'extract → transform → load, passing XComs' },
  { name: 'sensor', label: 'Sensor', description: 'a sensor waits for the input, then a task processes it' },
  {
    name: 'mapping',
    label: 'Dynamic task mapping',
    description: 'fan-out over a list (expand), then a fan-in',
  },
  {
    name: 'branching',
    label: 'Branching',
    description: 'a branch task picks a path; a join with none_failed_min_one_success',
  },
  {
    name: 'sftp-sync',
    label: 'SFTP sync',
    description: 'an incremental SFTP → SFTP sync and a report of its summary',
  },
];

export const DEFAULT_DAG_TEMPLATE: DagTemplateName = 'etl';

/** The template folder of a Hangar package (the repository, the npm package or the installed extension). */
export function dagTemplatesFolder(packageRoot: string): string {
  return join(packageRoot, 'templates', 'dags');
}

const CURSOR = '/*cursor*/';
const ID_CHAR = /[A-Za-z0-9_.-]/;
const MAX_ID = 250;

/**
 * Why `name` is not a valid DAG id, or undefined when it is: the rule of `dag({ id })`
 * (src/runtime/dag/dag.ts validateId — letters, digits, `_`, `-`, `.`, not starting with `.`
 * or `-`, at most 250 characters), said with the character that breaks it.
 */
export function dagIdProblem(name: string): string | undefined {
  const rule = "use letters, digits, '_', '-' and '.' (at most 250 characters, no path separators)";
  if (name === '') return `a DAG id cannot be empty: ${rule}`;
  const chars = [...name];
  const bad = chars.findIndex((c) => !ID_CHAR.test(c));
  if (bad >= 0) {
    const c = chars[bad]!;
    const shown = /\s/.test(c) ? JSON.stringify(c).slice(1, -1) || 'a space' : c;
    const what = c === ' ' ? 'a space' : c === '/' || c === '\\' ? `'${c}' (a path separator)` : `'${shown}'`;
    return `invalid DAG id ${JSON.stringify(name)}: ${what} at position ${bad + 1} is not allowed; ${rule}`;
  }
  if (name[0] === '.' || name[0] === '-')
    return `invalid DAG id ${JSON.stringify(name)}: it cannot start with '${name[0]}'; ${rule}`;
  if (name.length > MAX_ID) return `invalid DAG id: ${name.length} characters, more than ${MAX_ID}; ${rule}`;
  return undefined;
}

export function isDagTemplateName(name: string): name is DagTemplateName {
  return DAG_TEMPLATES.some((t) => t.name === name);
}

/** An error of createDagFile: `usage` (a bad name or template) or `exists` (the file is there, no force). */
export class NewDagError extends Error {
  readonly kind: 'usage' | 'exists';
  readonly file: string | undefined;
  constructor(kind: 'usage' | 'exists', message: string, file?: string) {
    super(message);
    this.name = 'NewDagError';
    this.kind = kind;
    this.file = file;
  }
}

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield await async of'.split(
    ' ',
  ),
);

/** The DAG's variable name: the id in camelCase (`daily-sales.v2` → `dailySalesV2`), clear of the template's own names. */
export function dagVariableName(dagId: string, templateText: string): string {
  const words = dagId.split(/[^A-Za-z0-9]+/).filter(Boolean);
  let name = words
    .map((w, i) => (i === 0 ? w[0]!.toLowerCase() + w.slice(1) : w[0]!.toUpperCase() + w.slice(1)))
    .join('');
  if (name === '' || /^[0-9]/.test(name)) name = `dag${name ? name[0]!.toUpperCase() + name.slice(1) : ''}`;
  const taken = new Set(templateText.match(/[A-Za-z_$][\w$]*/g) ?? []);
  taken.delete('newDag');
  if (RESERVED.has(name) || taken.has(name)) name = `${name}Dag`;
  while (taken.has(name)) name = `${name}_`;
  return name;
}

export interface RenderedDag {
  readonly text: string;
  /** Where the first task's body starts, 1-based. */
  readonly line: number;
  readonly column: number;
}

/** A template's text made into the DAG `dagId`'s file. */
export function renderDagTemplate(
  templateText: string,
  dagId: string,
  templateName = 'template',
): RenderedDag {
  const at = templateText.indexOf(CURSOR);
  if (at < 0 || templateText.indexOf(CURSOR, at + 1) >= 0)
    throw new Error(`DAG template ${templateName} must hold exactly one ${CURSOR} marker`);
  const variable = dagVariableName(dagId, templateText);
  const text = templateText
    .replace(/\/\*cursor\*\/ ?/, '\u0000') // the marker and the space a formatter puts after it
    .replace(/\bnewDag\b/g, () => variable)
    .replace(/'new_dag'/g, () => `'${dagId}'`)
    .replace(/\bnew_dag\b/g, () => dagId);
  const offset = text.indexOf('\u0000');
  const before = text.slice(0, offset).split('\n');
  return {
    text: text.replace('\u0000', ''),
    line: before.length,
    column: before.at(-1)!.length + 1,
  };
}

export interface NewDagOptions {
  /** The DAG folder (absolute, as configured). */
  readonly dagsFolder: string;
  /** The DAG id, also the file's name (`NAME.ts`). */
  readonly name: string;
  readonly template?: string;
  /** Replace an existing file. */
  readonly force?: boolean;
  /** The folder of template files (dagTemplatesFolder of the Hangar package). */
  readonly templatesFolder: string;
}

export interface NewDagResult {
  readonly file: string;
  readonly dagId: string;
  readonly template: DagTemplateName;
  /** Where the first task's body starts, 1-based. */
  readonly line: number;
  readonly column: number;
  /** An existing file was replaced (--force). */
  readonly overwritten: boolean;
}

/** Checks the name and template, then writes `<dagsFolder>/<name>.ts` from the template (creating the folder). */
export function createDagFile(options: NewDagOptions): NewDagResult {
  const problem = dagIdProblem(options.name);
  if (problem) throw new NewDagError('usage', problem);
  const template = options.template ?? DEFAULT_DAG_TEMPLATE;
  if (!isDagTemplateName(template))
    throw new NewDagError(
      'usage',
      `unknown template "${template}": use one of ${DAG_TEMPLATES.map((t) => t.name).join(', ')}`,
    );
  const file = join(resolve(options.dagsFolder), `${options.name}.ts`);
  const exists = existsSync(file);
  if (exists && !options.force)
    throw new NewDagError('exists', `${file} already exists (use --force to replace it)`, file);
  const source = join(options.templatesFolder, `${template}.ts`);
  let templateText: string;
  try {
    templateText = readFileSync(source, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the DAG template ${source}: ${(err as Error).message}`);
  }
  const rendered = renderDagTemplate(templateText, options.name, template);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, rendered.text);
  return {
    file,
    dagId: options.name,
    template,
    line: rendered.line,
    column: rendered.column,
    overwritten: exists,
  };
}

/**
 * The DAG folder as the extension sees it before (or without) a runtime: the `hangar.dagsFolder`
 * setting, else hangar.json's `dagsFolder`, else `dags` — loadConfig's rule (src/runtime/config.ts)
 * for this one field, without the rest of the configuration (the extension bundles no store code).
 */
export function configuredDagsFolder(workspace: string, setting?: string): string {
  let folder = setting?.trim() || undefined;
  if (!folder) {
    const file = join(workspace, 'hangar.json');
    if (existsSync(file)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
      }
      const value = (parsed as { dagsFolder?: unknown } | null)?.dagsFolder;
      if (value !== undefined && typeof value !== 'string') throw new Error(`${file}: dagsFolder must be a string`);
      folder = value;
    }
  }
  return resolve(workspace, folder ?? 'dags');
}
