/**
 * The "Get started with Hangar" walkthrough (package.json `contributes.walkthroughs`): every
 * step's button runs a command that exists, every step completes on an event VS Code knows, and
 * every markdown page exists and is in the .vsix (`vsce ls`, which applies .vscodeignore as
 * `npm run package` does).
 *
 * Completion events are the ones VS Code's walkthrough service handles
 * (src/vs/workbench/contrib/welcomeGettingStarted/browser/gettingStartedService.ts, registerDoneListeners):
 * onCommand, onContext, onView, onSettingChanged, onLink, onEvent, (on)extensionInstalled, (on)stepSelected.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: unknown; svg?: unknown };
  completionEvents?: string[];
}
interface Walkthrough {
  id: string;
  title: string;
  description: string;
  steps: Step[];
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; walkthroughs?: Walkthrough[] };
};
const walkthroughs = pkg.contributes.walkthroughs ?? [];
const steps = walkthroughs.flatMap((w) => w.steps);
const contributed = new Set(pkg.contributes.commands.map((c) => c.command));

/** VS Code's own commands a step may run (opening a folder or a terminal is not Hangar's to do). */
const VSCODE_COMMANDS = new Set(['workbench.action.files.openFolder', 'workbench.action.terminal.new']);
const COMPLETION_EVENTS = new Set([
  'onCommand',
  'onContext',
  'onView',
  'onSettingChanged',
  'onLink',
  'onEvent',
  'extensionInstalled',
  'onExtensionInstalled',
  'stepSelected',
  'onStepSelected',
]);

const commandLinks = (markdown: string): string[] =>
  [...markdown.matchAll(/\]\(command:([A-Za-z0-9_.-]+)(?:\?[^)]*)?\)/g)].map((m) => m[1]!);

function packagedFiles(): Set<string> {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'ls', '--no-dependencies'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `vsce ls failed: ${r.stderr}`);
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

describe('walkthrough', () => {
  it("takes a first-time user from a workspace to a run, the grid, an XCom and a key, each step's button a real command", () => {
    assert.equal(walkthroughs.length, 1);
    const [w] = walkthroughs;
    assert.ok(w!.id && w!.title && w!.description);
    const buttons = steps.map((s) => commandLinks(s.description)[0]);
    assert.deepEqual(buttons, [
      'workbench.action.files.openFolder',
      'hangar.runDag',
      'hangar.showGrid',
      'hangar.openXComBrowser',
      'hangar.setEncryptionKey',
    ]);
    assert.equal(new Set(steps.map((s) => s.id)).size, steps.length, 'step ids are unique');
    for (const step of steps) {
      assert.ok(step.title.trim(), `${step.id}: a title`);
      // Step descriptions are not full markdown: ``code`` (doubled) is preformatted, a single backtick is shown as is.
      assert.doesNotMatch(
        step.description,
        /(?<!`)`(?!`)/,
        `${step.id}: write code as \`\`code\`\` in a step description`,
      );
      const links = commandLinks(step.description);
      assert.ok(links.length > 0, `${step.id}: a button (a command: link in its description)`);
      for (const c of links) {
        if (c.startsWith('hangar.'))
          assert.ok(contributed.has(c), `${step.id}: ${c} is in contributes.commands`);
        else
          assert.ok(
            VSCODE_COMMANDS.has(c),
            `${step.id}: ${c} is neither Hangar's nor a known VS Code command`,
          );
      }
    }
  });

  it('every step completes on an event VS Code knows, its own button among them', () => {
    for (const step of steps) {
      const events = step.completionEvents ?? [];
      assert.ok(events.length > 0, `${step.id}: completion events (else it is done when merely selected)`);
      for (const e of events) {
        const kind = e.slice(0, e.includes(':') ? e.indexOf(':') : undefined);
        assert.ok(COMPLETION_EVENTS.has(kind), `${step.id}: "${e}" is not a walkthrough completion event`);
      }
      const button = commandLinks(step.description)[0]!;
      assert.ok(events.includes(`onCommand:${button}`), `${step.id}: pressing ${button} completes it`);
    }
  });

  it('every markdown page exists, and is packaged with what it links to', () => {
    const packaged = packagedFiles();
    assert.ok(packaged.has('package.json'), 'vsce ls lists the package');
    for (const step of steps) {
      const page = step.media.markdown;
      assert.ok(page, `${step.id}: a markdown page`);
      assert.ok(existsSync(join(ROOT, page)), `${page} exists`);
      assert.ok(packaged.has(page), `${page} is in the .vsix (.vscodeignore)`);
      const text = readFileSync(join(ROOT, page), 'utf8');
      assert.match(text, /^# \S/, `${page} starts with a heading`);
      for (const c of commandLinks(text))
        assert.ok(contributed.has(c) || VSCODE_COMMANDS.has(c), `${page}: ${c}`);
      const relative = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1]!)
        .filter((href) => !/^(https?:|command:|#)/.test(href));
      for (const href of relative) {
        const target = join(page, '..', href).replace(/\\/g, '/');
        assert.ok(packaged.has(target), `${page} links to ${href}, which is not packaged`);
      }
    }
  });
});
