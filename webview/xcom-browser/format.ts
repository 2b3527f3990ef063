/**
 * What the XCom browser writes in its cells and tree: sizes, ratios, badges,
 * page ranges, type labels. No DOM: unit-tested with node:test.
 */
import type { ContainerNode, DecodeFailure, ValueNode, XComFilter } from '../../src/protocol/webviews/xcom-browser.ts';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Stored size as a share of the original: "23%" (lower is better), "—" without an original size. */
export function formatRatio(original: number, stored: number): string {
  if (!(original > 0) || !(stored >= 0)) return '—';
  const r = (stored / original) * 100;
  return `${r < 10 ? r.toFixed(1) : Math.round(r)}%`;
}

export type BadgeKind = 'format' | 'compression' | 'encryption' | 'storage';
export interface Badge {
  label: string;
  kind: BadgeKind;
}

/** The backend chain as badges: format, compression, encryption, where it is stored (inline when not offloaded). */
export function chainBadges(chain: readonly string[]): Badge[] {
  const out: Badge[] = [];
  let offloaded = false;
  for (const c of chain) {
    if (c === 'json' || c === 'typed-json' || c === 'bytes') out.push({ label: c, kind: 'format' });
    else if (c === 'gzip' || c === 'zstd' || c === 'brotli') out.push({ label: c, kind: 'compression' });
    else if (c === 'aes-256-gcm') out.push({ label: 'encrypted', kind: 'encryption' });
    else if (c === 'file' || c === 's3') {
      out.push({ label: c, kind: 'storage' });
      offloaded = true;
    } else out.push({ label: c, kind: 'format' });
  }
  if (!offloaded) out.push({ label: 'inline', kind: 'storage' });
  return out;
}

/** "1–100 of 100,000" (or "no XComs"). */
export function pageRange(offset: number, count: number, total: number): string {
  if (total === 0) return 'no XComs';
  if (count === 0) return `none of ${total.toLocaleString('en-US')} on this page`;
  return `${(offset + 1).toLocaleString('en-US')}–${(offset + count).toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`;
}

/** Offset of the previous / next page, or undefined when there is none. */
export function prevOffset(offset: number, pageSize: number): number | undefined {
  return offset > 0 ? Math.max(0, offset - pageSize) : undefined;
}
export function nextOffset(offset: number, count: number, total: number): number | undefined {
  return offset + count < total ? offset + count : undefined;
}
/** Offset of the last page. */
export function lastOffset(total: number, pageSize: number): number {
  return total <= 0 ? 0 : Math.floor((total - 1) / pageSize) * pageSize;
}

/** "2024-03-01 12:00:05" (UTC) from an ISO date. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').slice(0, 19);
}

/** The type label shown next to a value in the tree. */
export function typeLabel(n: ValueNode): string {
  switch (n.t) {
    case 'array':
      return `Array(${n.size})`;
    case 'object':
      return `Object{${n.size}}`;
    case 'map':
      return `Map(${n.size})`;
    case 'set':
      return `Set(${n.size})`;
    case 'bytes':
      return `${n.kind}(${formatBytes(n.length)})`;
    case 'string':
      return n.length > 200 ? `string(${n.length.toLocaleString('en-US')} chars)` : 'string';
    case 'date':
      return 'Date';
    case 'bigint':
      return 'BigInt';
    case 'regexp':
      return 'RegExp';
    default:
      return n.t;
  }
}

/** A scalar's text, as the tree shows it ("…" when more of a string or of bytes is not loaded). */
export function scalarText(n: ValueNode): string {
  switch (n.t) {
    case 'null':
      return 'null';
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(n.v);
    case 'number':
      return String(n.v);
    case 'bigint':
      return `${n.v}n`;
    case 'date':
      return n.v ?? 'Invalid Date';
    case 'regexp':
      return n.v;
    case 'string':
      return JSON.stringify(n.v).slice(0, -1) + (n.offset + n.v.length < n.length ? '…' : '"');
    case 'bytes':
      return `${(n.hex.match(/../g) ?? []).join(' ')}${n.offset + n.hex.length / 2 < n.length ? ' …' : ''}`;
    default:
      return '';
  }
}

export function isContainer(n: ValueNode): n is ContainerNode {
  return n.t === 'array' || n.t === 'object' || n.t === 'map' || n.t === 'set';
}

/** How many children / characters / bytes of a node are still not loaded after the ones shown. */
export function remaining(n: ValueNode, shown: number): number {
  if (isContainer(n)) return Math.max(0, n.size - n.offset - shown);
  if (n.t === 'string') return Math.max(0, n.length - n.offset - shown);
  if (n.t === 'bytes') return Math.max(0, n.length - n.offset - shown);
  return 0;
}

/** What the browser says when a value cannot be decoded, and whether setting a key may help. */
export function failureText(reason: DecodeFailure): { title: string; offerKey: boolean } {
  switch (reason) {
    case 'no-key':
      return { title: 'Cannot decrypt: no key. The key this value was encrypted with is not set in this workspace.', offerKey: true };
    case 'wrong-key-or-tampered':
      return { title: 'Cannot decrypt: wrong key or tampered. The key with this id does not open it: it is another key, or the stored bytes were changed.', offerKey: true };
    case 'tampered':
      return { title: 'Cannot decode: tampered or corrupt. The stored bytes do not match their checksum or format.', offerKey: false };
    case 'missing':
      return { title: 'Cannot decode: the offloaded file or object is missing.', offerKey: false };
    default:
      return { title: 'Cannot decode this value.', offerKey: false };
  }
}

/** The filter with empty fields dropped and the map index parsed ("" → none); an error text for a bad map index. */
export function normaliseFilter(f: { dagId: string; runId: string; taskId: string; mapIndex: string; key: string; keyPrefix: string }): XComFilter | string {
  const out: XComFilter = {};
  if (f.dagId) out.dagId = f.dagId;
  if (f.runId) out.runId = f.runId;
  if (f.taskId) out.taskId = f.taskId;
  if (f.key) out.key = f.key;
  if (f.keyPrefix) out.keyPrefix = f.keyPrefix;
  const m = f.mapIndex.trim();
  if (m) {
    if (!/^-?\d+$/.test(m) || Number(m) < -1) return 'Map index: a whole number, -1 for unmapped tasks';
    out.mapIndex = Number(m);
  }
  return out;
}
