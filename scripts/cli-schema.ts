/**
 * Writes the JSON Schemas of `hangar … --json` (declared in src/runtime/cli/schemas.ts)
 * to docs/cli-schema/. test/cli/schema.test.ts fails when the files and the declarations differ.
 *   node scripts/cli-schema.ts          write them
 *   node scripts/cli-schema.ts --check  exit 1 when they are out of date
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OUTPUTS, schemaDocument } from '../src/runtime/cli/schemas.ts';
import type { OutputName } from '../src/runtime/cli/schemas.ts';

export const SCHEMA_DIR = join(import.meta.dirname, '..', 'docs', 'cli-schema');

export function schemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of Object.keys(OUTPUTS) as OutputName[]) {
    files.set(`${name}.json`, JSON.stringify(schemaDocument(name), null, 2) + '\n');
  }
  return files;
}

if (import.meta.main) {
  const files = schemaFiles();
  if (process.argv.includes('--check')) {
    const stale = [...files].filter(
      ([f, text]) => !existsSync(join(SCHEMA_DIR, f)) || readFileSync(join(SCHEMA_DIR, f), 'utf8') !== text,
    );
    const extra = existsSync(SCHEMA_DIR)
      ? readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json') && !files.has(f))
      : [];
    for (const f of [...stale.map(([f]) => f), ...extra])
      console.error(`docs/cli-schema/${f} is out of date: run npm run cli-schema`);
    process.exit(stale.length || extra.length ? 1 : 0);
  }
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const f of readdirSync(SCHEMA_DIR))
    if (f.endsWith('.json') && !files.has(f)) rmSync(join(SCHEMA_DIR, f));
  for (const [f, text] of files) writeFileSync(join(SCHEMA_DIR, f), text);
  console.log(`wrote ${files.size} schemas to docs/cli-schema/`);
}
