/** DOM helpers every panel's webview uses (built with DOM APIs only: no HTML strings, nothing inline). */
import { inertText } from '../../src/protocol/inert.ts';

/**
 * Shown text is inert (src/protocol/inert.ts): ANSI escapes removed, bidi controls and other
 * controls visible. Applied to every string child of `el`/`svg` and to the attributes a user sees.
 */
export const inert = inertText;
const SHOWN_ATTRS = new Set(['title', 'aria-label', 'placeholder', 'description', 'label', 'alt']);
const shown = (children: (Node | string)[]) => children.map((c) => (typeof c === 'string' ? inertText(c) : c));
const attr = (k: string, v: string) => (SHOWN_ATTRS.has(k) ? inertText(v) : v);

/** Sets a node's text, inert. */
export function setText(node: Node, text: string): void {
  node.textContent = inertText(text);
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, ...children: (Node | string)[]): HTMLElementTagNameMap[K];
export function el(tag: string, attrs?: Record<string, string>, ...children: (Node | string)[]): HTMLElement;
export function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, attr(k, v));
  e.append(...shown(children));
  return e;
}

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element; numbers become attribute text as they are. */
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, attr(k, String(v)));
  e.append(...shown(children));
  return e;
}

export function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** A `vscode-button` that calls `onClick`. */
export function button(label: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLElement {
  const b = el('vscode-button', attrs, label);
  b.addEventListener('click', onClick);
  return b;
}

/** Shows a line in the panel's `#status` element, styled as an error when asked. */
export function status(text: string, isError = false): void {
  const s = byId('status');
  s.textContent = inertText(text);
  s.classList.toggle('error', isError);
}

export const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
