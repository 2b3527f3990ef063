/**
 * `hangar VERB --help` and `hangar help VERB` print that verb's usage (issue #15's first hour:
 * every verb used to print the whole help), and every verb has usage lines in the help.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, main } from '../../src/runtime/cli/main.ts';

async function help(argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, (s) => lines.push(s));
  return { code, text: lines.join('\n') };
}

test('hangar VERB --help prints that verb usage, for every verb; hangar help VERB the same', async () => {
  const whole = await help(['--help']);
  assert.equal(whole.code, 0);
  for (const verb of Object.keys(COMMANDS)) {
    const { code, text } = await help([verb, '--help']);
    assert.equal(code, 0, verb);
    const usage = text.slice(0, text.indexOf('\nOptions:'));
    assert.match(usage, new RegExp(`^Usage:\\n {2}hangar ${verb}\\b`), `${verb} has usage lines:\n${text}`);
    // Only this verb's lines: each line is its own or indented under one of its own.
    for (const line of usage.split('\n').slice(1)) {
      if (line.trim())
        assert.match(line, new RegExp(`^( {2}hangar ${verb}\\b| {20,}\\S)`), `${verb}: ${line}`);
    }
    assert.match(text, /--workspace DIR/);
    assert.ok(text.length < whole.text.length / 2, `${verb}: not the whole help`);
    assert.equal((await help(['help', verb])).text, text);
  }
  const logs = await help(['logs', '-h']);
  assert.match(logs.text, /^Usage:\n {2}hangar logs RUN TASK \[--try N\] \[--map-index N\]/);
  const xcom = (await help(['xcom', 'get', '--help'])).text;
  assert.match(xcom, /hangar xcom get --dag DAG --run RUN --task TASK/);
  assert.match(xcom, /hangar xcom rotate-key/);
});

test('hangar help with an unknown verb is a usage error naming it', async () => {
  assert.equal((await help(['help', 'nope'])).code, 2);
  assert.equal((await help(['nope', '--help'])).code, 2);
});

test('hangar --version and -V print the package version alone (for scripts), whatever else is on the line', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  for (const argv of [['--version'], ['-V'], ['list', '--version'], ['--version', '--json']]) {
    const { code, text } = await help(argv);
    assert.equal(code, 0, argv.join(' '));
    assert.equal(text, pkg.version, argv.join(' '));
  }
});
