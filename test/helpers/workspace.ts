import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface TempWorkspace {
  readonly root: string;
  readonly dags: string;
  write(rel: string, text: string): string;
  remove(): void;
}

/** A fresh workspace folder per test, with DAG files written into dags/. */
export function tempWorkspace(files: Record<string, string> = {}, config?: object): TempWorkspace {
  const root = mkdtempSync(join(tmpdir(), 'hangar-test-'));
  const dags = join(root, 'dags');
  mkdirSync(dags, { recursive: true });
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  if (config) write('hangar.json', JSON.stringify(config));
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  return { root, dags, write, remove: () => rmSync(root, { recursive: true, force: true }) };
}
