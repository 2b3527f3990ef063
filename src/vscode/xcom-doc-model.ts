/**
 * Addresses of XCom values opened as read-only documents (`hangar-xcom:` scheme),
 * without vscode so they are unit-tested. The address carries the XCom's
 * location only, never its value; whether a sensitive value is shown is decided
 * by the host from what the user revealed in this session (see
 * src/vscode/panels/xcom-documents.ts), so an address copied or restored later
 * shows a masked notice, not the secret.
 */
import type { XComLoc } from '../protocol/webviews/xcom-values.ts';

export const XCOM_SCHEME = 'hangar-xcom';

/** A name usable in a path segment (the tab title): `/` and `\` become `_`. */
const segment = (s: string) => s.replace(/[/\\]/g, '_');

/** Path (readable; the tab shows `<key>.json`) and query (the exact location) of an XCom document. */
export function xcomDocParts(loc: XComLoc): { path: string; query: string } {
  const task = `${loc.taskId}${loc.mapIndex >= 0 ? `[${loc.mapIndex}]` : ''}`;
  const q = new URLSearchParams({ dag: loc.dagId, run: loc.runId, task: loc.taskId, map: String(loc.mapIndex), key: loc.key });
  return { path: `/${segment(loc.dagId)}/${segment(loc.runId)}/${segment(task)}/${segment(loc.key)}.json`, query: q.toString() };
}

/** The location of an XCom document's query; throws for anything else. */
export function parseXComDocQuery(query: string): XComLoc {
  const q = new URLSearchParams(query);
  const dagId = q.get('dag');
  const runId = q.get('run');
  const taskId = q.get('task');
  const key = q.get('key');
  const mapText = q.get('map') ?? '-1';
  const mapIndex = Number(mapText);
  if (!dagId || !runId || !taskId || !key) throw new Error(`Not a Hangar XCom address: ?${query} (needs dag, run, task and key)`);
  if (!/^-?\d+$/.test(mapText) || !Number.isSafeInteger(mapIndex) || mapIndex < -1) throw new Error(`Not a Hangar XCom address: map "${mapText}" is not a whole number ≥ -1`);
  return { dagId, runId, taskId, mapIndex, key };
}

/** What a sensitive value's document shows until the user reveals it (valid JSON, so the document still reads as JSON). */
export function maskedDocText(loc: XComLoc): string {
  return `${JSON.stringify(
    {
      hidden: 'This XCom is sensitive. Reveal it in the XCom browser, then use "Open as document" there to see it here.',
      dagId: loc.dagId,
      runId: loc.runId,
      taskId: loc.taskId,
      mapIndex: loc.mapIndex,
      key: loc.key,
    },
    null,
    2,
  )}\n`;
}

/** A file name for "Save to file…": the key, made safe, with .json. */
export function saveFileName(loc: XComLoc): string {
  const base = `${loc.taskId}${loc.mapIndex >= 0 ? `_${loc.mapIndex}` : ''}.${loc.key}`.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 200);
  return `${base}.json`;
}
