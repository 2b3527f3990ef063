/**
 * Text contrast in a webview frame (WCAG 2 formula, computed styles): what the
 * theme checks measure. Shared by test/e2e/themes.e2e.ts and the panels' own
 * suites (grid.e2e.ts).
 */
import type { Frame } from 'playwright-core';
import type { Workbench } from './harness.ts';

/**
 * What is measured: the text element, and (for SVG) the shape behind it; otherwise the first opaque
 * background up the tree. A selector `host >>> inner` looks inside `host`'s shadow root (the native
 * input of a vscode-textfield).
 */
export interface Spec {
  name: string;
  text: string;
  bg?: string;
}
/** Runs in the webview frame: the contrast ratio of each spec's text. A plain JS string: the tests' tsconfig has no DOM types. */
const MEASURE = `(specs) => {
  const parse = (c) => {
    const m = /^rgba?\\(([^)]+)\\)$/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (t, b) => ({ r: t.r * t.a + b.r * (1 - t.a), g: t.g * t.a + b.g * (1 - t.a), b: t.b * t.a + b.b * (1 - t.a), a: 1 });
  const find = (sel) => {
    let el = null;
    let root = document;
    for (const part of sel.split(' >>> ')) {
      el = root ? root.querySelector(part) : null;
      root = el ? el.shadowRoot : null;
    }
    return el;
  };
  const backdrop = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement || (e.parentNode && e.parentNode.host) || null) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let acc = { r: 255, g: 255, b: 255, a: 1 };
    for (const l of layers.reverse()) acc = over(l, acc);
    return acc;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const hex = (c) => '#' + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  return specs.map(({ name, text, bg }) => {
    const el = find(text);
    if (!el) return { name, error: 'no element ' + text };
    const cs = getComputedStyle(el);
    const svg = el instanceof SVGElement;
    const fgRaw = svg ? cs.fill : cs.color;
    let back;
    if (bg) {
      const shape = find(bg);
      const fill = shape ? parse(getComputedStyle(shape).fill) : null;
      if (!fill) return { name, error: 'no fill behind ' + text };
      back = over(fill, backdrop(shape.closest('div, body')));
    } else back = backdrop(el);
    const fg0 = parse(fgRaw);
    if (!fg0) return { name, error: 'unreadable colour ' + fgRaw };
    const fg = over({ ...fg0, a: fg0.a * Number(cs.opacity || 1) }, back);
    const [hi, lo] = [lum(fg), lum(back)].sort((a, b) => b - a);
    return { name, fg: hex(fg), bg: hex(back), ratio: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100 };
  });
}`;

export interface Measured {
  name: string;
  fg?: string;
  bg?: string;
  ratio?: number;
  error?: string;
}

export async function measure(frame: Frame, specs: Spec[]): Promise<Measured[]> {
  return (await frame.evaluate(`(${MEASURE})(${JSON.stringify(specs)})`)) as Measured[];
}

/** Lines naming every measurement below 4.5:1 (or that could not be measured). */
export function contrastFailures(where: string, list: Measured[]): string[] {
  return list.flatMap((m) => (m.error || m.ratio === undefined ? [`${where} · ${m.name}: ${m.error}`] : m.ratio < 4.5 ? [`${where} · ${m.name}: ${m.ratio}:1 (${m.fg} on ${m.bg})`] : []));
}

/** The webview frame (the inner #active-frame) that has `selector`. */
export async function panelFrame(vs: Workbench, selector: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of vs.page.frames()) {
      if (f.name() !== 'active-frame' && !f.url().includes('fake.html')) continue;
      if (await f.$(selector).catch(() => null)) return f;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no webview frame shows ${selector}`);
}

