/**
 * Hangar's node:test reporter (`node --test --test-reporter=<this module>`), run by the Test
 * Explorer's "Your tests" (src/vscode/user-tests.ts): one JSON line per event the extension uses
 * (src/vscode/user-tests-model.ts, `reporterEvent`). Built to dist/user-tests-reporter.mjs.
 */
import { reporterEvent } from './user-tests-model.ts';
import type { NodeTestEvent } from './user-tests-model.ts';

export default async function* hangarReporter(source: AsyncIterable<NodeTestEvent>): AsyncGenerator<string> {
  const cwd = process.cwd();
  for await (const event of source) {
    const e = reporterEvent(event, cwd);
    if (e) yield `${JSON.stringify(e)}\n`;
  }
}
