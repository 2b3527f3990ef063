#!/usr/bin/env node
// The `hangar` command: the bundled CLI (built by `npm run build`, which `npm install` runs through `prepare`).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  // node:sqlite needs Node >= 22.13. Use the Node the package pins (the `node` dev dependency) when it is there.
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (existsSync(pinned) && !process.env.HANGAR_REEXEC) {
    const r = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, HANGAR_REEXEC: '1' },
    });
    process.exit(r.status ?? 1);
  }
  // package.json declares no engines.node: npm (which may run on an older Node) installs Hangar all the same,
  // and this is where the version matters.
  console.error(
    `hangar: Node ${process.versions.node} is too old; Hangar needs Node >= 22.13 (for node:sqlite). ` +
      'Install a newer Node, or run `npm install` in the Hangar package to get the Node it pins.',
  );
  process.exit(2);
}

const bundle = fileURLToPath(new URL('../dist/runtime/cli.mjs', import.meta.url));
if (!existsSync(bundle)) {
  console.error('hangar: the CLI is not built yet. Run `npm run build` in the Hangar package first.');
  process.exit(2);
}
const { main } = await import(pathToFileURL(bundle).href);
process.exitCode = await main(process.argv.slice(2));
