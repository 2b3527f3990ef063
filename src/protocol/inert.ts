/**
 * Text from DAGs, tasks and logs made inert for display (issue #16): ANSI escape
 * sequences (SGR colours, OSC 8 hyperlinks and the rest) are removed, bidirectional
 * controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C) are shown as visible
 * `⟦U+202E⟧` marks instead of reordering the text around them, and other C0 controls
 * but tab, newline and carriage return are shown as their Control Pictures (␛, ␀…).
 * Used by every webview (webview/shared/dom.ts), log documents and notifications.
 * Markup needs nothing here: it is never parsed (text nodes, plain strings).
 */

// CSI (ESC [ … final), OSC (ESC ] … BEL or ST), and two-character escapes (ESC + one of @–_).
const ANSI_RE =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]/g;
const BIDI_RE = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;
const CONTROL_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;
const ANY_RE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u009B\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/;

export function inertText(s: string): string {
  if (!ANY_RE.test(s)) return s;
  return s
    .replace(ANSI_RE, '')
    .replace(BIDI_RE, (c) => `⟦U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟧`)
    .replace(CONTROL_RE, (c) => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0)));
}

/** `inertText`, cut to `max` characters (an ellipsis says so): for hovers, tooltips and notifications. */
export function inertLine(s: string, max: number): string {
  const t = inertText(s.length > max * 4 ? s.slice(0, max * 4) : s);
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Plain text as Markdown that renders as that text: every Markdown punctuation character escaped, HTML's `<` and `&` too. */
export function markdownText(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>&~"']/g, (c) =>
    c === '<' ? '&lt;' : c === '&' ? '&amp;' : c === '>' ? '&gt;' : `\\${c}`,
  );
}
