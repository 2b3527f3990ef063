/**
 * Finds the id strings of a DAG file and what each one names, without the
 * TypeScript compiler: a small tokenizer (strings, templates, comments,
 * regular expressions, identifiers, punctuation) and one pass that keeps a
 * stack of open brackets, each knowing the call it belongs to (`ctx.xcom.pull`,
 * `.after`, `dag`) and, inside an object literal, the property being written.
 *
 * It tolerates what a buffer looks like while typing (an unclosed string or
 * call) and reads a 50-task file in well under a millisecond; the compiler API
 * would add ~9 MB to the extension bundle and a full parse per keystroke for
 * the same answer. What it cannot know (an id built at run time: `'t' + i`,
 * `` `t${i}` ``) is marked dynamic and never checked.
 */

export type SiteKind =
  /** A task id expected to exist in the DAG of this part of the file. */
  | 'task'
  /** A task id of another DAG (an external-task sensor's `externalTaskId`). */
  | 'externalTask'
  /** A DAG id (`externalDagId`). */
  | 'dag'
  | 'connection'
  | 'pool'
  /** A variable key (`ctx.variables.get('k')`, `{{ var.value.k }}` in a string). */
  | 'variable'
  /** A worker queue (`queue: '…'`). */
  | 'queue'
  /** An asset URI (`asset('s3://…')`). */
  | 'asset'
  /** Where a task id is defined (`dag.task('x', …)`, `sensor(dag, 'x', …)`). */
  | 'taskDef'
  /** Where a DAG id is defined (`dag({ id: 'x' })`). */
  | 'dagDef';

export interface Site {
  readonly kind: SiteKind;
  /** The string's value (its text without quotes; escapes resolved). */
  readonly value: string;
  /** Offsets of the literal, quotes included. */
  readonly start: number;
  readonly end: number;
  /** Offsets of the value inside the quotes (what completion and rename replace). */
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Part of an id built at run time (`'t' + i`, a template with `${…}`): never checked nor renamed. */
  readonly dynamic: boolean;
  /** For `externalTask`: the sibling `externalDagId` (undefined when it is not a plain string). */
  readonly dagId?: string;
  /** Why this string names what it names, for details: `.after()`, `ctx.xcom.pull()`, `pool:`. */
  readonly via: string;
  /**
   * For a `taskDef` written inside a task group's function (`d.group('extract', (g) => g.task('a', …))`):
   * the prefix the groups put before the id (`extract.`), so the task's id is `prefix + value`.
   */
  readonly prefix?: string;
  /** For `variable`: read with a fallback (`get('k', 'x')`), so a missing variable is no error. */
  readonly optional?: boolean;
}

type TokKind = 'ident' | 'string' | 'template' | 'punct' | 'number' | 'regex';

interface Tok {
  kind: TokKind;
  text: string;
  start: number;
  end: number;
  /** string: the decoded value; template: set only when it has no `${`. */
  value?: string;
  /** template with substitutions (its head, middles and tail are all one dynamic token each). */
  dynamic?: boolean;
  /** string: closed by its quote. */
  closed?: boolean;
}

const SENSOR_FNS = new Set([
  'sensor',
  'fileSensor',
  's3KeySensor',
  'sftpSensor',
  'dateTimeSensor',
  'timeSensor',
  'timeDeltaSensor',
  'externalTaskSensor',
]);
const XCOM_TASK_FNS = new Set(['pull', 'keys', 'pullPrefix', 'readRecords', 'openFile', 'clear']);
/** `ctx.variables.…` methods whose first argument is a variable key. */
const VARIABLE_FNS = new Set(['get', 'getJson', 'set', 'setJson', 'delete']);
const EXPR_KEYWORDS = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

function isIdStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
}
function isIdPart(c: number): boolean {
  return isIdStart(c) || (c >= 48 && c <= 57);
}

/** Tokens of a TypeScript (or JSON) text; never throws, whatever the text. */
export function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  const n = text.length;
  /** Brace depths at which a template's `${` was opened. */
  const templates: number[] = [];
  let braces = 0;
  let i = 0;
  const regexAllowed = (): boolean => {
    const p = toks[toks.length - 1];
    if (!p) return true;
    if (p.kind === 'punct') return !(p.text === ')' || p.text === ']' || p.text === '}');
    if (p.kind === 'ident') return EXPR_KEYWORDS.has(p.text);
    return false;
  };
  const readTemplate = (from: number, head: boolean): void => {
    // from: just after ` (head) or after the } closing a substitution.
    let j = from;
    let value = '';
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 96 /* ` */) {
        toks.push({
          kind: 'template',
          text: text.slice(from - 1, j + 1),
          start: from - 1,
          end: j + 1,
          value: head ? value : undefined,
          dynamic: !head,
          closed: true,
        });
        i = j + 1;
        return;
      }
      if (c === 36 /* $ */ && text.charCodeAt(j + 1) === 123 /* { */) {
        toks.push({
          kind: 'template',
          text: text.slice(from - 1, j + 2),
          start: from - 1,
          end: j + 2,
          value: head ? value : undefined,
          dynamic: true,
        });
        templates.push(braces);
        braces++;
        i = j + 2;
        return;
      }
      if (c === 92 /* \ */) {
        value += text[j + 1] ?? '';
        j += 2;
        continue;
      }
      value += text[j];
      j++;
    }
    toks.push({
      kind: 'template',
      text: text.slice(from - 1),
      start: from - 1,
      end: n,
      value: head ? value : undefined,
      dynamic: !head,
      closed: false,
    });
    i = n;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff || c === 0xa0 || c === 11 || c === 12) {
      i++;
      continue;
    }
    if (c === 47 /* / */) {
      const d = text.charCodeAt(i + 1);
      if (d === 47) {
        const e = text.indexOf('\n', i);
        i = e < 0 ? n : e;
        continue;
      }
      if (d === 42) {
        const e = text.indexOf('*/', i + 2);
        i = e < 0 ? n : e + 2;
        continue;
      }
      if (regexAllowed()) {
        let j = i + 1;
        let cls = false;
        while (j < n) {
          const r = text.charCodeAt(j);
          if (r === 10) break;
          if (r === 92) j++;
          else if (r === 91) cls = true;
          else if (r === 93) cls = false;
          else if (r === 47 && !cls) break;
          j++;
        }
        j++;
        while (j < n && isIdPart(text.charCodeAt(j))) j++;
        toks.push({ kind: 'regex', text: text.slice(i, j), start: i, end: j });
        i = j;
        continue;
      }
    }
    if (c === 39 || c === 34 /* ' " */) {
      let j = i + 1;
      let value = '';
      let closed = false;
      while (j < n) {
        const r = text.charCodeAt(j);
        if (r === c) {
          closed = true;
          j++;
          break;
        }
        if (r === 10 || r === 13) break; // unterminated: ends at the line's end (typing)
        if (r === 92) {
          const e = text[j + 1] ?? '';
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
          continue;
        }
        value += text[j];
        j++;
      }
      toks.push({ kind: 'string', text: text.slice(i, j), start: i, end: j, value, closed });
      i = j;
      continue;
    }
    if (c === 96) {
      readTemplate(i + 1, true);
      continue;
    }
    if (isIdStart(c)) {
      let j = i + 1;
      while (j < n && isIdPart(text.charCodeAt(j))) j++;
      toks.push({ kind: 'ident', text: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (c >= 48 && c <= 57) {
      let j = i + 1;
      while (j < n && (isIdPart(text.charCodeAt(j)) || text.charCodeAt(j) === 46)) j++;
      toks.push({ kind: 'number', text: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    // Punctuation; the few multi-character ones that matter here.
    const two = text.slice(i, i + 2);
    if (two === '?.' && !(text.charCodeAt(i + 2) >= 48 && text.charCodeAt(i + 2) <= 57)) {
      toks.push({ kind: 'punct', text: '.', start: i, end: i + 2 });
      i += 2;
      continue;
    }
    if (two === '=>' || two === '++' || two === '+=') {
      toks.push({ kind: 'punct', text: two, start: i, end: i + 2 });
      i += 2;
      continue;
    }
    if (text.slice(i, i + 3) === '...') {
      toks.push({ kind: 'punct', text: '...', start: i, end: i + 3 });
      i += 3;
      continue;
    }
    const ch = text[i]!;
    if (ch === '{') braces++;
    if (ch === '}') {
      if (templates.length && templates[templates.length - 1] === braces - 1) {
        templates.pop();
        braces--;
        readTemplate(i + 1, false);
        continue;
      }
      braces = Math.max(0, braces - 1);
    }
    toks.push({ kind: 'punct', text: ch, start: i, end: i + 1 });
    i++;
  }
  return toks;
}

interface Frame {
  open: '(' | '[' | '{';
  /** For `(`: the member chain of the callee (`['ctx', 'xcom', 'pull']`; `?` for a part that is not a name). */
  callee: string[];
  arg: number;
  /** For `{`: the property whose value is being read. */
  key?: string;
  /** For `{`: its plain-string properties (filled as the pass goes; read after it). */
  props?: Map<string, Tok>;
  /** The enclosing frame. */
  parent?: Frame;
  /** For a `x.group(…)` call: its id (arg 0) when a plain string, null when built at run time. */
  groupLabel?: string | null;
  /** For a `x.group(…)` call: `prefixGroupId: false` in its options. */
  noPrefix?: boolean;
}

/** The callee's member chain, reading back from the token before `(` (skips `<…>` type arguments). */
function calleeOf(toks: Tok[], open: number): string[] {
  let j = open - 1;
  if (toks[j]?.text === '>' && toks[j]?.kind === 'punct') {
    let depth = 0;
    for (; j >= 0; j--) {
      const t = toks[j]!;
      if (t.kind !== 'punct') continue;
      if (t.text === '>') depth++;
      else if (t.text === '<' && --depth === 0) break;
      else if (t.text === ';') return [];
    }
    j--;
  }
  const chain: string[] = [];
  while (j >= 0) {
    const t = toks[j]!;
    if (t.kind === 'ident') chain.unshift(t.text);
    else if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) {
      chain.unshift('?');
      break;
    } else break;
    if (toks[j - 1]?.kind === 'punct' && toks[j - 1]!.text === '.') j -= 2;
    else break;
  }
  return chain;
}

const last = <T>(a: readonly T[]): T | undefined => a[a.length - 1];

/** The id strings of a DAG file and what each names. */
export function scan(text: string): Site[] {
  const toks = tokenize(text);
  const sites: Site[] = [];
  /** Each candidate string with its frame, the frame's argument index and key then, and its parent's. */
  const pending: {
    k: number;
    frame: Frame;
    arg: number;
    key?: string;
    parentArg: number;
    parentKey?: string;
  }[] = [];
  const note = (k: number, f: Frame) => {
    const p = f.parent;
    pending.push({ k, frame: f, arg: f.arg, key: f.key, parentArg: p?.arg ?? 0, parentKey: p?.key });
  };
  const stack: Frame[] = [];
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.kind === 'punct') {
      if (t.text === '(' || t.text === '[' || t.text === '{') {
        const prev = toks[k - 1];
        const isCall =
          t.text === '(' &&
          prev !== undefined &&
          (prev.kind === 'ident' || (prev.kind === 'punct' && prev.text === '>')) &&
          !EXPR_KEYWORDS.has(prev.text) &&
          prev.text !== 'if' &&
          prev.text !== 'for' &&
          prev.text !== 'while' &&
          prev.text !== 'switch';
        const frame: Frame = {
          open: t.text,
          callee: isCall ? calleeOf(toks, k) : [],
          arg: 0,
          props: t.text === '{' ? new Map() : undefined,
          parent: last(stack),
        };
        stack.push(frame);
      } else if (t.text === ')' || t.text === ']' || t.text === '}') {
        // Pop to the matching bracket (a missing one while typing does not derail the rest).
        const want = t.text === ')' ? '(' : t.text === ']' ? '[' : '{';
        const at = stack.map((f) => f.open).lastIndexOf(want);
        if (at >= 0) stack.length = at;
      } else if (t.text === ',') {
        const f = last(stack);
        if (f) {
          f.arg++;
          f.key = undefined;
        }
      } else if (t.text === ';') {
        // A statement ends: only braces (blocks) can still be open.
        while (stack.length && last(stack)!.open !== '{') stack.pop();
      }
      continue;
    }
    const f = last(stack);
    // A task group's id and its `prefixGroupId: false` (what prefixes the ids of the tasks defined in it).
    if (f && isGroupCall(f) && f.arg === 0 && f.groupLabel === undefined && (t.kind === 'string' || t.kind === 'template')) {
      const plus = (x: Tok | undefined) => x?.kind === 'punct' && (x.text === '+' || x.text === '+=');
      const plain = !t.dynamic && t.value !== undefined && !plus(toks[k - 1]) && !plus(toks[k + 1]);
      f.groupLabel = plain ? t.value! : null;
    }
    if (f?.open === '{' && f.key === 'prefixGroupId' && t.kind === 'ident' && t.text === 'false' && f.parent && isGroupCall(f.parent) && f.parent.arg === 1)
      f.parent.noPrefix = true;
    // A property name: `key:` right after `{` or `,` in an object literal.
    if (
      f?.open === '{' &&
      (t.kind === 'ident' || t.kind === 'string') &&
      toks[k + 1]?.text === ':' &&
      toks[k + 1]?.kind === 'punct'
    ) {
      const p = toks[k - 1];
      if (p && p.kind === 'punct' && (p.text === '{' || p.text === ',')) {
        f.key = t.kind === 'ident' ? t.text : t.value;
        k++;
        continue;
      }
    }
    if ((t.kind === 'string' || (t.kind === 'template' && !t.dynamic)) && f) {
      if (f.open === '{' && f.key) f.props!.set(f.key, t);
      note(k, f);
    } else if (t.kind === 'template' && f && t.text.startsWith('`')) {
      // A template with substitutions, noted once (at its head): dynamic.
      if (f.open === '{' && f.key) f.props!.set(f.key, t);
      note(k, f);
    }
  }
  // Classify (after the pass: an object's sibling properties are all known now).
  for (const { k, frame, arg, key, parentArg, parentKey } of pending) {
    const parent = frame.parent;
    const what = classify({ ...frame, arg, key }, parent && { ...parent, arg: parentArg, key: parentKey });
    if (!what) continue;
    const tok = toks[k]!;
    // Part of a concatenation: an id built at run time.
    const plus = (x: Tok | undefined) => x?.kind === 'punct' && (x.text === '+' || x.text === '+=');
    let dynamic = tok.dynamic === true || plus(toks[k - 1]) || plus(toks[k + 1]);
    let prefix: string | undefined;
    if (what.kind === 'taskDef') {
      const p = groupPrefix(frame);
      if (p === null) dynamic = true;
      else if (p !== '') prefix = p;
    }
    let site = makeSite(tok, what, dynamic);
    if (prefix !== undefined) site = { ...site, prefix };
    // A read with a fallback (the frame's last argument index, after the pass): never an error.
    if (what.kind === 'variable' && frame.open === '(' && frame.arg >= 1 && /^get(Json)?$/.test(last(frame.callee)!))
      site = { ...site, optional: true };
    sites.push(site);
  }
  sites.push(...templateVariables(toks));
  return sites.sort((a, b) => a.start - b.start || a.valueStart - b.valueStart);
}

/**
 * Variable keys read by the templates in strings: `{{ var.value.k }}`, `{{ var.json.k.field }}`,
 * `{{ var.value.get('k', 'x') }}` (Airflow's VariableAccessor; src/runtime/templating/context.ts).
 * Offsets are the source's (the raw token text is searched: a key has no escapes). A key cut by
 * a substitution (`var.value.${x}`, `'… var.value.k' + x`) is dynamic.
 */
function templateVariables(toks: Tok[]): Site[] {
  const out: Site[] = [];
  const plus = (x: Tok | undefined) => x?.kind === 'punct' && (x.text === '+' || x.text === '+=');
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.kind !== 'string' && t.kind !== 'template') continue;
    const raw = t.text;
    if (!raw.includes('{')) continue;
    // The expression parts: from `{{` (or `{%`) to the matching close, or the string's end while typing.
    const open = /\{[{%]/g;
    for (let m = open.exec(raw); m; m = open.exec(raw)) {
      const closeAt = raw.indexOf(m[0] === '{{' ? '}}' : '%}', m.index + 2);
      const endAt = closeAt < 0 ? raw.length : closeAt;
      const body = raw.slice(m.index + 2, endAt);
      const re = /\bvar\s*\.\s*(value|json)\s*(?:\.\s*get\s*\(\s*\\?(['"])([\w.-]*)|\.\s*([A-Za-z_]\w*)?|\[\s*\\?(['"])([\w.-]*))/g;
      for (let v = re.exec(body); v; v = re.exec(body)) {
        const key = v[3] ?? v[4] ?? v[6] ?? '';
        if (v[4] === 'get') continue; // `var.value.get` still being typed
        const keyEnd = m.index + 2 + v.index + v[0].length;
        const valueStart = t.start + keyEnd - key.length;
        const valueEnd = t.start + keyEnd;
        const after = raw.slice(keyEnd);
        const closingQuote = t.closed === true ? 1 : 0;
        const atEnd = keyEnd >= raw.length - closingQuote;
        // Cut by a substitution or a concatenation: the key is built at run time.
        const dynamic = after.startsWith('${') || (atEnd && plus(toks[k + 1]));
        const optional = v[3] !== undefined && /^\s*\\?['"]\s*,/.test(after);
        out.push({
          kind: 'variable',
          value: key,
          start: t.start,
          end: t.end,
          valueStart,
          valueEnd,
          dynamic,
          via: `var.${v[1]}`,
          ...(optional ? { optional } : {}),
        });
      }
      if (closeAt < 0) break;
      open.lastIndex = closeAt + 2;
    }
  }
  return out;
}

function isGroupCall(f: Frame): boolean {
  return f.open === '(' && f.callee.length > 1 && last(f.callee) === 'group';
}

/**
 * The prefix task groups put before the id of a task defined at `frame` (Airflow's
 * TaskGroup.child_id / group_id): '' outside groups, null when a group's id is built at run time.
 * Reads the groups the definition is written in (the group's function), innermost last.
 */
function groupPrefix(frame: Frame): string | null {
  const groups: Frame[] = [];
  for (let f = frame.parent; f; f = f.parent) if (isGroupCall(f) && f.arg >= 1) groups.unshift(f);
  let id: string | null = null;
  let prefixes = false;
  for (const g of groups) {
    if (typeof g.groupLabel !== 'string') return null;
    id = id !== null && prefixes ? `${id}.${g.groupLabel}` : g.groupLabel;
    prefixes = !g.noPrefix;
  }
  return id !== null && prefixes ? `${id}.` : '';
}

interface What {
  kind: SiteKind;
  via: string;
  dagId?: string;
  dagIdDynamic?: boolean;
}

function classify(f: Frame, parent: Frame | undefined): What | undefined {
  if (f.open === '(') return classifyCall(f.callee, f.arg, false);
  if (f.open === '[' && parent?.open === '(') {
    const name = last(parent.callee);
    if (name === 'pullMany' && parent.arg === 0) return { kind: 'task', via: 'ctx.xcom.pullMany()' };
    const w = classifyCall(parent.callee, parent.arg, true);
    return w?.kind === 'task' ? w : undefined;
  }
  if (f.open === '[' && parent?.open === '{' && (parent.key === 'taskIds' || parent.key === 'taskId'))
    return { kind: 'task', via: `${parent.key}:` };
  if (f.open !== '{' || !f.key) return undefined;
  const call = parent?.open === '(' ? parent.callee : [];
  const fn = last(call);
  switch (f.key) {
    case 'taskIds':
    case 'taskId':
      return fn && XCOM_TASK_FNS.has(fn) ? { kind: 'task', via: `${f.key}:` } : undefined;
    case 'externalDagId':
      return { kind: 'dag', via: 'externalDagId:' };
    case 'externalTaskId': {
      const d = f.props?.get('externalDagId');
      if (!d) return { kind: 'externalTask', via: 'externalTaskId:', dagIdDynamic: true };
      return {
        kind: 'externalTask',
        via: 'externalTaskId:',
        dagId: d.value,
        dagIdDynamic: d.kind === 'template' && d.dynamic === true,
      };
    }
    case 'pool':
      return { kind: 'pool', via: 'pool:' };
    case 'queue':
      return { kind: 'queue', via: 'queue:' };
    case 'id':
      return fn === 'dag' ? { kind: 'dagDef', via: 'dag({ id })' } : undefined;
    case 'source':
    case 'destination':
      return fn === 'sftpSyncTasks' ? { kind: 'connection', via: `sftpSyncTasks({ ${f.key} })` } : undefined;
    default:
      return undefined;
  }
}

function classifyCall(callee: string[], arg: number, inArray: boolean): What | undefined {
  const fn = last(callee);
  if (!fn) return undefined;
  if (fn === 'before' || fn === 'after')
    return callee.length > 1 ? { kind: 'task', via: `.${fn}()` } : undefined;
  if (fn === 'chain') return { kind: 'task', via: 'chain()' };
  if (inArray) return undefined;
  if (XCOM_TASK_FNS.has(fn) && arg === 0 && callee.includes('xcom'))
    return { kind: 'task', via: `ctx.xcom.${fn}()` };
  if (VARIABLE_FNS.has(fn) && arg === 0 && callee.length > 1 && callee[callee.length - 2] === 'variables')
    return { kind: 'variable', via: `ctx.variables.${fn}()` };
  if (fn === 'asset' && arg === 0 && callee.length === 1) return { kind: 'asset', via: 'asset()' };
  if (fn === 'connection' && arg === 0 && callee.length > 1)
    return { kind: 'connection', via: 'ctx.connection()' };
  if (fn === 'task' && arg === 0 && callee.length > 1) return { kind: 'taskDef', via: '.task()' };
  if (SENSOR_FNS.has(fn) && arg === 1) return { kind: 'taskDef', via: `${fn}()` };
  return undefined;
}

function makeSite(tok: Tok, what: What, dynamic: boolean): Site {
  const quoted = tok.kind === 'string' || tok.kind === 'template';
  const valueStart = quoted ? tok.start + 1 : tok.start;
  let valueEnd = tok.closed === false ? tok.end : tok.end - 1;
  let value = tok.value ?? '';
  if (tok.closed === false) {
    // Still being typed: the id is what looks like one, not the rest of the line.
    const m = /^[\w.-]*/.exec(value)![0];
    valueEnd = valueStart + m.length;
    value = m;
  }
  return {
    kind: what.kind,
    value,
    start: tok.start,
    end: tok.end,
    valueStart,
    valueEnd: Math.max(valueStart, valueEnd),
    dynamic,
    dagId: what.dagIdDynamic ? undefined : what.dagId,
    via: what.via,
  };
}

/** A DAG's `startDate` computed from the clock: where, and what reads the clock. */
export interface ClockStartDate {
  /** Offsets of the `startDate` value expression. */
  readonly start: number;
  readonly end: number;
  /** What reads the clock (`new Date()`, `Date.now()`), and the variable it came through, if any. */
  readonly clock: string;
  readonly via?: string;
}

/**
 * `startDate` values of `dag({ … })` that read the clock when the file is parsed (`new Date()`,
 * `Date.now()`, `new Date(Date.now() - …)`), directly or through a `const` of the same file
 * initialised so. Airflow's FAQ ("What's the deal with start_date?", airflow-core/docs/faq.rst)
 * recommends against a dynamic start_date: every parse gives another one.
 */
export function clockStartDates(text: string): ClockStartDate[] {
  if (!text.includes('startDate')) return [];
  const toks = tokenize(text);
  const out: ClockStartDate[] = [];
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.kind !== 'ident' || t.text !== 'startDate' || toks[k + 1]?.text !== ':') continue;
    const prev = toks[k - 1];
    if (prev?.kind !== 'punct' || (prev.text !== '{' && prev.text !== ',')) continue;
    const open = enclosingBrace(toks, k);
    if (open < 1 || toks[open - 1]?.text !== '(' || !isDagCallee(toks, open - 1)) continue;
    const [from, to] = expressionAt(toks, k + 2);
    if (from > to) continue;
    let clock = readsClock(toks, from, to);
    let via: string | undefined;
    if (!clock && from === to && toks[from]!.kind === 'ident') {
      // `startDate: start` with `const start = new Date(…)` in the file.
      const name = toks[from]!.text;
      for (let j = 0; j < from; j++) {
        const d = toks[j]!;
        if (d.kind === 'ident' && (d.text === 'const' || d.text === 'let' || d.text === 'var') && toks[j + 1]?.text === name && toks[j + 2]?.text === '=') {
          const [a, b] = expressionAt(toks, j + 3);
          clock = a <= b ? readsClock(toks, a, b) : undefined;
          if (clock) via = name;
        }
      }
    }
    if (clock) out.push({ start: toks[from]!.start, end: toks[to]!.end, clock, ...(via ? { via } : {}) });
  }
  return out;
}

/** The `{` that opens the object literal a token at index k is in (-1: none). */
function enclosingBrace(toks: Tok[], k: number): number {
  let depth = 0;
  for (let j = k - 1; j >= 0; j--) {
    const t = toks[j]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '}' || t.text === ')' || t.text === ']') depth++;
    else if (t.text === '{' || t.text === '(' || t.text === '[') {
      if (depth === 0) return t.text === '{' ? j : -1;
      depth--;
    }
  }
  return -1;
}

function isDagCallee(toks: Tok[], paren: number): boolean {
  const chain = calleeOf(toks, paren);
  return chain.length > 0 && chain[chain.length - 1] === 'dag';
}

/** The token range [from, to] of the expression starting at `from`: up to a `,`, `;` or closing bracket at its depth. */
function expressionAt(toks: Tok[], from: number): [number, number] {
  let depth = 0;
  let j = from;
  for (; j < toks.length; j++) {
    const t = toks[j]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && (t.text === ',' || t.text === ';')) break;
  }
  return [from, j - 1];
}

/** `new Date()` (no arguments) or `Date.now()` among the tokens [from, to]. */
function readsClock(toks: Tok[], from: number, to: number): string | undefined {
  for (let j = from; j <= to; j++) {
    const t = toks[j]!;
    if (t.kind !== 'ident' || t.text !== 'Date') continue;
    if (toks[j + 1]?.text === '.' && toks[j + 2]?.text === 'now' && toks[j + 3]?.text === '(') return 'Date.now()';
    if (toks[j - 1]?.text === 'new' && (toks[j + 1]?.text !== '(' || toks[j + 2]?.text === ')')) return 'new Date()';
  }
  return undefined;
}
