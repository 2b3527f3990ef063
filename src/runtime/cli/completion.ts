/**
 * Shell completion: `hangar completion bash|zsh|fish` prints a script; the script
 * asks `hangar __complete -- WORD…` (the words after `hangar`, the last one being
 * completed) for candidates, one per line. Verbs, subcommands, flags and their
 * values come from the tables below; DAG, run and task ids from the workspace's
 * store (read-only; a workspace with DAG files but no store yet is loaded once).
 *
 * A new verb completes its positionals by adding an entry to POSITIONALS (and
 * SUBCOMMANDS when it has subcommands).
 */
import { existsSync } from 'node:fs';
import { Store } from '../store/store.ts';
import { loadConfig } from '../config.ts';
import { Runtime } from '../runtime.ts';
import { FORMATS, UsageError } from './output.ts';
import { effectiveConfig, CONFIG_KEYS } from './inspect.ts';
import type { Ctx } from './common.ts';
import { DAG_TEMPLATES } from '../new-dag.ts';

export const COMPLETION_HELP = `  completion bash|zsh|fish         Print a shell completion script (verbs, flags, DAG/run/task ids)`;

type Kind = 'dag' | 'run' | 'task' | 'tasks' | 'config-key' | readonly string[];

const SUBCOMMANDS: Record<string, readonly string[]> = {
  xcom: ['list', 'get', 'lineage', 'clear', 'sweep', 'rotate-key', 'gen-key'],
  sensors: ['stats'],
  bench: ['xcom'],
  config: ['list', 'get'],
  dags: ['pause', 'unpause', 'errors', 'reparse'],
  variables: ['list', 'get', 'set', 'delete', 'import', 'export'],
  assets: ['list', 'events', 'update'],
  db: ['backup', 'verify', 'restore', 'migrate', 'check', 'copy'],
  completion: ['bash', 'zsh', 'fish'],
};

/** What each positional argument of a verb (or `verb sub`) is; `tasks`: any number of task ids. */
const POSITIONALS: Record<string, readonly Kind[]> = {
  run: ['dag'],
  trigger: ['dag'],
  test: ['dag', 'task'],
  render: ['dag', 'task'],
  backfill: ['dag'],
  'dags pause': ['dag'],
  'dags unpause': ['dag'],
  'sensors stats': ['dag'],
  tasks: ['run'],
  logs: ['run', 'task'],
  clear: ['run', 'tasks'],
  mark: ['run', 'task', ['success', 'failed']],
  'config get': ['config-key'],
};

const RUN_STATES = ['queued', 'running', 'success', 'failed'];
const TASK_STATES = [
  'none',
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'up_for_reschedule',
  'skipped',
  'upstream_failed',
  'removed',
];

/** Values of the options that take one (options not listed complete as files, by the shell). */
function optionValues(option: string, verb: string): Kind | undefined {
  switch (option) {
    case 'dag':
      return 'dag';
    case 'run':
      return 'run';
    case 'task':
      return 'task';
    case 'output':
    case 'o':
      return FORMATS;
    case 'state':
      return verb === 'runs' ? RUN_STATES : TASK_STATES;
    case 'run-type':
      return ['manual', 'scheduled', 'backfill', 'test', 'asset_triggered'];
    case 'executor':
      return ['isolated', 'in-process'];
    case 'algorithm':
      return ['gzip', 'zstd', 'brotli'];
    case 'template':
      return DAG_TEMPLATES.map((t) => t.name);
    default:
      return undefined;
  }
}

/** Ids read from a workspace's store (SQLite or PostgreSQL), lazily. */
class WorkspaceIds {
  private store: Promise<Store | undefined> | undefined;
  private readonly workspace: string;
  constructor(workspace: string) {
    this.workspace = workspace;
  }

  private open(): Promise<Store | undefined> {
    return (this.store ??= (async () => {
      try {
        const config = loadConfig(this.workspace);
        if (
          config.storeTarget.kind === 'sqlite' &&
          !existsSync(config.storePath) &&
          !existsSync(config.dagsFolder)
        )
          return undefined;
        const store = await Store.open(config.storeTarget);
        if ((await store.dags.list()).length === 0 && existsSync(config.dagsFolder)) {
          // The store knows no DAG yet: parse the DAG files once (what `hangar list` does), which records them.
          const rt = await Runtime.open(this.workspace);
          try {
            await rt.loadDags();
          } finally {
            await rt.close();
          }
        }
        return store;
      } catch {
        return undefined; // no candidates rather than an error in the middle of a command line
      }
    })());
  }

  /** What `read` answers, or nothing when the store cannot be read. */
  private async ask(read: (store: Store) => Promise<string[]>): Promise<string[]> {
    const store = await this.open();
    if (!store) return [];
    try {
      return await read(store);
    } catch {
      return [];
    }
  }

  dags(): Promise<string[]> {
    return this.ask(async (s) => (await s.dags.list()).map((d) => d.dag_id).sort());
  }
  runs(dagId?: string): Promise<string[]> {
    return this.ask(async (s) => (await s.runs.list({ dagId, limit: 500 })).map((r) => r.run_id));
  }
  tasksOfDag(dagId: string): Promise<string[]> {
    return this.ask(async (s) => {
      const dag = (await s.dags.list()).find((d) => d.dag_id === dagId);
      try {
        return dag ? (JSON.parse(dag.task_ids) as string[]) : [];
      } catch {
        return [];
      }
    });
  }
  async tasksOfRun(runId: string, dagId?: string): Promise<string[]> {
    const dags = dagId ? [dagId] : await this.ask((s) => s.runs.dagsOfRun(runId));
    const tasks = await Promise.all(dags.map((d) => this.tasksOfDag(d)));
    return [...new Set(tasks.flat())];
  }
  async close(): Promise<void> {
    const store = await this.store;
    await store?.close();
  }
}

/** The CLI's verbs and options (from main.ts's tables). */
export interface CommandTable {
  readonly verbs: readonly string[];
  readonly options: Readonly<Record<string, { readonly type: string; readonly short?: string }>>;
}

/** Candidates for the last of `words` (the words after `hangar`; the last may be empty). */
export async function complete(words: readonly string[], table: CommandTable): Promise<string[]> {
  const verbs = table.verbs.filter((v) => !v.startsWith('_'));
  const takesValue = new Set<string>();
  const flags: string[] = [];
  for (const [name, o] of Object.entries(table.options)) {
    flags.push(`--${name}`);
    if (o.type === 'string') takesValue.add(name);
    if (o.short) {
      flags.push(`-${o.short}`);
      if (o.type === 'string') takesValue.add(o.short);
    }
  }
  flags.sort();
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const positionals: string[] = [];
  const options: Record<string, string> = {};
  let pendingOption: string | undefined;
  for (const w of before) {
    if (pendingOption !== undefined) {
      options[pendingOption] = w;
      pendingOption = undefined;
    } else if (w.startsWith('--') && w.includes('='))
      options[w.slice(2, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    else if (w.startsWith('-') && w !== '-') {
      const name = w.replace(/^--?/, '');
      if (takesValue.has(name)) pendingOption = name;
    } else positionals.push(w);
  }
  const [verb = '', ...rest] = positionals;
  const subs = SUBCOMMANDS[verb];
  const key = subs && rest.length > 0 ? `${verb} ${rest[0]}` : verb;
  const args = subs && rest.length > 0 ? rest.slice(1) : rest;
  const ids = new WorkspaceIds(options.workspace ?? process.cwd());
  try {
    let kind: Kind | undefined;
    if (pendingOption !== undefined) kind = optionValues(pendingOption, verb);
    else if (current.startsWith('-')) return flags.filter((f) => f.startsWith(current));
    else if (positionals.length === 0) kind = verbs;
    else if (subs && rest.length === 0) kind = subs;
    else {
      const spec = POSITIONALS[key] ?? [];
      kind = spec[args.length] ?? (spec.at(-1) === 'tasks' ? 'tasks' : undefined);
    }
    let candidates: string[] = [];
    if (kind === undefined) candidates = [];
    else if (typeof kind !== 'string') candidates = [...kind];
    else if (kind === 'dag') candidates = await ids.dags();
    else if (kind === 'run') candidates = await ids.runs(options.dag);
    else if (kind === 'config-key')
      candidates = [
        ...new Set([
          ...CONFIG_KEYS,
          ...effectiveConfig(options.workspace ?? process.cwd(), {}).map((s) => s.key),
        ]),
      ].sort();
    else {
      // A task: of the DAG named before it (test DAG TASK, --dag), or of the run (logs/mark/clear RUN TASK).
      const spec = POSITIONALS[key] ?? [];
      const dagArg = spec.indexOf('dag');
      const runArg = spec.indexOf('run');
      if (dagArg >= 0 && args[dagArg]) candidates = await ids.tasksOfDag(args[dagArg]);
      else if (runArg >= 0 && args[runArg]) candidates = await ids.tasksOfRun(args[runArg], options.dag);
      else if (options.run) candidates = await ids.tasksOfRun(options.run, options.dag);
      else if (options.dag) candidates = await ids.tasksOfDag(options.dag);
    }
    return candidates.filter((c) => c.startsWith(current));
  } finally {
    await ids.close();
  }
}

// ---- the scripts ------------------------------------------------------------------

const BASH = `# hangar completion for bash: source it, e.g. from ~/.bashrc:
#   source <(hangar completion bash)
_hangar_complete() {
  local line="\${COMP_LINE:0:COMP_POINT}" words cur
  read -ra words <<< "$line"
  [[ "$line" =~ [[:space:]]$ ]] && words+=("")
  cur="\${words[-1]}"
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$("\${words[0]}" __complete -- "\${words[@]:1}" 2>/dev/null)" -- "$cur"))
  # Run ids hold ':' (a word break for bash): drop what bash already has before the last break.
  if [[ "$cur" == *[:=]* && "$COMP_WORDBREAKS" == *:* ]]; then
    local prefix="\${cur%"\${cur##*[:=]}"}"
    COMPREPLY=("\${COMPREPLY[@]#"$prefix"}")
  fi
}
complete -o default -F _hangar_complete hangar
`;

const ZSH = `#compdef hangar
# hangar completion for zsh: put it on your fpath as _hangar, or:
#   source <(hangar completion zsh)
_hangar() {
  local -a candidates
  candidates=("\${(@f)$("\${words[1]}" __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  (( \${#candidates} )) && [[ -n "\${candidates[1]}" ]] && compadd -Q -- "\${candidates[@]}" || _files
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then _hangar "$@"; else compdef _hangar hangar; fi
`;

const FISH = `# hangar completion for fish: save it as ~/.config/fish/completions/hangar.fish, or:
#   hangar completion fish | source
function __hangar_complete
  set -l words (commandline -opc) (commandline -ct)
  $words[1] __complete -- $words[2..-1] 2>/dev/null
end
complete -c hangar -f -a '(__hangar_complete)'
`;

export async function completionCommand(ctx: Ctx): Promise<number> {
  const shell = ctx.args[0];
  if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish')
    throw new UsageError(
      `hangar completion needs the shell: bash, zsh or fish${shell ? `, not "${shell}"` : ''}`,
    );
  ctx.out((shell === 'bash' ? BASH : shell === 'zsh' ? ZSH : FISH).trimEnd());
  return 0;
}
