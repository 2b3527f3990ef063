/**
 * A small, safe subset of Jinja for Airflow-style templates: `{{ expression }}`
 * with variables, attribute and index access, calls of whitelisted functions and
 * methods, literals, `~`/`+`/`-`, and filters (`| upper`, `| default('x')`, `| ds`…).
 * `{# comments #}` are dropped. Statements (`{% … %}`) are not supported.
 * Nothing is evaluated as code; only own properties are reachable, so templates
 * cannot climb to prototypes or constructors. An unknown variable is an error.
 */
import { TemplateDateTime, isoformat } from './datetime.ts';

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'var'; name: string }
  | { t: 'get'; obj: Node; prop: Node }
  | { t: 'call'; fn: Node; args: Node[] }
  | { t: 'bin'; op: string; a: Node; b: Node }
  | { t: 'filter'; base: Node; name: string; args: Node[] };

class UnknownName extends TemplateError {}

type Token = { k: 'id' | 'num' | 'str' | 'op'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ k: 'id', v: m[0] });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ k: 'num', v: m[0] });
      i += m[0].length;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[j + 1]!;
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new TemplateError(`unterminated string in "${src}"`);
      out.push({ k: 'str', v: s });
      i = j + 1;
    } else if ('.[](),|~+-'.includes(c)) {
      out.push({ k: 'op', v: c });
      i++;
    } else {
      throw new TemplateError(`unexpected character "${c}" in "${src}"`);
    }
  }
  return out;
}

function parse(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const isOp = (v: string) => toks[p]?.k === 'op' && toks[p]!.v === v;
  const expect = (v: string) => {
    if (!isOp(v)) throw new TemplateError(`expected "${v}" in "${src}"`);
    p++;
  };
  const args = (): Node[] => {
    const list: Node[] = [];
    expect('(');
    while (!isOp(')')) {
      list.push(expr());
      if (!isOp(')')) expect(',');
    }
    expect(')');
    return list;
  };
  const primary = (): Node => {
    const t = peek();
    if (!t) throw new TemplateError(`unexpected end of expression "${src}"`);
    let node: Node;
    if (t.k === 'num') {
      p++;
      node = { t: 'lit', v: Number(t.v) };
    } else if (t.k === 'str') {
      p++;
      node = { t: 'lit', v: t.v };
    } else if (t.k === 'id') {
      p++;
      if (t.v === 'true' || t.v === 'True') node = { t: 'lit', v: true };
      else if (t.v === 'false' || t.v === 'False') node = { t: 'lit', v: false };
      else if (t.v === 'none' || t.v === 'None' || t.v === 'null') node = { t: 'lit', v: null };
      else node = { t: 'var', name: t.v };
    } else if (isOp('(')) {
      p++;
      node = expr();
      expect(')');
    } else if (isOp('-')) {
      p++;
      node = { t: 'bin', op: '-', a: { t: 'lit', v: 0 }, b: primary() };
    } else {
      throw new TemplateError(`unexpected "${t.v}" in "${src}"`);
    }
    for (;;) {
      if (isOp('.')) {
        p++;
        const name = peek();
        if (name?.k !== 'id') throw new TemplateError(`expected a name after "." in "${src}"`);
        p++;
        node = { t: 'get', obj: node, prop: { t: 'lit', v: name.v } };
      } else if (isOp('[')) {
        p++;
        const prop = expr();
        expect(']');
        node = { t: 'get', obj: node, prop };
      } else if (isOp('(')) {
        node = { t: 'call', fn: node, args: args() };
      } else break;
    }
    return node;
  };
  const filtered = (): Node => {
    let node = primary();
    while (isOp('|')) {
      p++;
      const name = peek();
      if (name?.k !== 'id') throw new TemplateError(`expected a filter name after "|" in "${src}"`);
      p++;
      node = { t: 'filter', base: node, name: name.v, args: isOp('(') ? args() : [] };
    }
    return node;
  };
  const expr = (): Node => {
    let node = filtered();
    while (isOp('~') || isOp('+') || isOp('-')) {
      const op = toks[p++]!.v;
      node = { t: 'bin', op, a: node, b: filtered() };
    }
    return node;
  };
  const node = expr();
  if (p !== toks.length) throw new TemplateError(`unexpected "${toks[p]!.v}" in "${src}"`);
  return node;
}

const STRING_METHODS: Record<string, (s: string, ...a: any[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s) => s.trim(),
  replace: (s, a: string, b: string) => s.split(String(a)).join(String(b)),
  split: (s, sep?: string) => (sep === undefined ? s.trim().split(/\s+/) : s.split(String(sep))),
  startswith: (s, x: string) => s.startsWith(String(x)),
  endswith: (s, x: string) => s.endsWith(String(x)),
};

const DATETIME_METHODS = new Set(['isoformat', 'strftime', 'timestamp', 'in_timezone', 'in_tz']);

function toText(v: unknown): string {
  if (v === undefined) return '';
  if (v === null) return 'None';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof TemplateDateTime) return v.toString();
  if (v instanceof Date) return isoformat(v);
  return JSON.stringify(v, (_k, val) => (val instanceof TemplateDateTime ? val.toString() : val));
}

function asDate(v: unknown, filter: string): Date {
  if (v instanceof TemplateDateTime) return v.date;
  if (v instanceof Date) return v;
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new Date(v);
  throw new TemplateError(`filter "${filter}" needs a date, got ${toText(v)}`);
}

const FILTERS: Record<string, (v: unknown, ...a: unknown[]) => unknown> = {
  upper: (v) => toText(v).toUpperCase(),
  lower: (v) => toText(v).toLowerCase(),
  trim: (v) => toText(v).trim(),
  string: (v) => toText(v),
  int: (v) => Math.trunc(Number(v)) || 0,
  float: (v) => Number(v) || 0,
  length: (v) => (typeof v === 'string' || Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  join: (v, sep = '') => (Array.isArray(v) ? v.map(toText).join(String(sep)) : toText(v)),
  replace: (v, a, b) => toText(v).split(String(a)).join(String(b)),
  tojson: (v) => JSON.stringify(v, (_k, val) => (val instanceof TemplateDateTime ? val.toString() : val)),
  default: (v, d = '') => (v === undefined || v === null ? d : v),
  ds: (v) => isoformat(asDate(v, 'ds')).slice(0, 10),
  ds_nodash: (v) => isoformat(asDate(v, 'ds_nodash')).slice(0, 10).replaceAll('-', ''),
  ts: (v) => isoformat(asDate(v, 'ts')),
  ts_nodash: (v) => isoformat(asDate(v, 'ts_nodash')).slice(0, 19).replace(/[-:]/g, ''),
  ts_nodash_with_tz: (v) => isoformat(asDate(v, 'ts_nodash_with_tz')).replace(/[-:]/g, '').replace(/\.\d+/, ''),
};

function evaluate(node: Node, scope: Record<string, unknown>, src: string): unknown {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'var':
      if (!Object.hasOwn(scope, node.name)) throw new UnknownName(`unknown template variable "${node.name}" in "{{ ${src} }}"`);
      return scope[node.name];
    case 'get': {
      const obj = evaluate(node.obj, scope, src);
      const prop = evaluate(node.prop, scope, src);
      return getProp(obj, prop, src);
    }
    case 'call': {
      const args = node.args.map((a) => evaluate(a, scope, src));
      if (node.fn.t === 'get') {
        const obj = evaluate(node.fn.obj, scope, src);
        const name = String(evaluate(node.fn.prop, scope, src));
        if (typeof obj === 'string' && Object.hasOwn(STRING_METHODS, name)) return STRING_METHODS[name]!(obj, ...args);
        if (obj instanceof TemplateDateTime && DATETIME_METHODS.has(name)) {
          return (obj as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
        }
      }
      const fn = evaluate(node.fn, scope, src);
      if (typeof fn !== 'function') throw new TemplateError(`"${describe(node.fn)}" is not a function in "{{ ${src} }}"`);
      try {
        return (fn as (...a: unknown[]) => unknown)(...args);
      } catch (err) {
        throw new TemplateError(`${describe(node.fn)}(): ${(err as Error).message} in "{{ ${src} }}"`);
      }
    }
    case 'bin': {
      const a = evaluate(node.a, scope, src);
      const b = evaluate(node.b, scope, src);
      if (node.op === '~') return toText(a) + toText(b);
      if (node.op === '+') return typeof a === 'number' && typeof b === 'number' ? a + b : toText(a) + toText(b);
      if (typeof a !== 'number' || typeof b !== 'number') throw new TemplateError(`"-" needs numbers in "{{ ${src} }}"`);
      return a - b;
    }
    case 'filter': {
      const f = FILTERS[node.name];
      if (!f || !Object.hasOwn(FILTERS, node.name)) throw new TemplateError(`unknown filter "${node.name}" in "{{ ${src} }}"`);
      let base: unknown;
      try {
        base = evaluate(node.base, scope, src);
      } catch (err) {
        if (node.name === 'default' && err instanceof UnknownName) base = undefined;
        else throw err;
      }
      return f(base, ...node.args.map((a) => evaluate(a, scope, src)));
    }
  }
}

function getProp(obj: unknown, prop: unknown, src: string): unknown {
  const key = typeof prop === 'number' ? prop : String(prop);
  if (obj instanceof TemplateDateTime) {
    if (['year', 'month', 'day', 'hour', 'minute', 'second', 'microsecond'].includes(String(key))) {
      return (obj as unknown as Record<string, unknown>)[String(key)];
    }
  } else if (Array.isArray(obj) && typeof key === 'number') {
    if (key < 0 || key >= obj.length) throw new UnknownName(`index ${key} out of range in "{{ ${src} }}"`);
    return obj[key];
  } else if (obj !== null && typeof obj === 'object' && Object.hasOwn(obj, key)) {
    return (obj as Record<string | number, unknown>)[key];
  }
  if (typeof obj === 'string' && Object.hasOwn(STRING_METHODS, String(key))) return undefined;
  throw new UnknownName(`unknown attribute "${String(key)}" in "{{ ${src} }}"`);
}

function describe(n: Node): string {
  if (n.t === 'var') return n.name;
  if (n.t === 'get') return `${describe(n.obj)}.${n.prop.t === 'lit' ? String(n.prop.v) : '[…]'}`;
  return 'expression';
}

const cache = new Map<string, Node>();

/** Renders `{{ … }}` expressions in a string. */
export function renderTemplate(template: string, scope: Record<string, unknown>): string {
  if (!template.includes('{')) return template;
  if (/\{%/.test(template)) throw new TemplateError(`template statements ({% … %}) are not supported: "${template}"`);
  const withoutComments = template.replace(/\{#[\s\S]*?#\}/g, '');
  if (/\{\{(?![\s\S]*?\}\})/.test(withoutComments)) throw new TemplateError(`unclosed "{{" in template "${template}"`);
  return withoutComments.replace(/\{\{([\s\S]*?)\}\}/g, (_m, inner: string) => {
    const src = inner.trim();
    let node = cache.get(src);
    if (!node) {
      node = parse(src);
      if (cache.size > 10_000) cache.clear();
      cache.set(src, node);
    }
    return toText(evaluate(node, scope, src));
  });
}

/** Renders every string inside a value (arrays and plain objects, recursively), as Airflow's template fields. */
export function renderDeep<T>(value: T, scope: Record<string, unknown>): T {
  if (typeof value === 'string') return renderTemplate(value, scope) as T;
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, scope)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, scope);
    return out as T;
  }
  return value;
}
