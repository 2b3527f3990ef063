/** `hangar completion bash|zsh|fish`: the bash script exercised in a real bash, ids read from a fixture workspace. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempWorkspace } from '../helpers/workspace.ts';
import { HANGAR_BIN, hangar } from '../helpers/cli.ts';

const DAGS = {
  'dags/alpha.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'alpha_etl' });
const a = d.task('extract', async () => 1);
d.task('load', { inputs: { a } }, async () => 2);
`,
  'dags/beta.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'beta_report' });
d.task('render', async () => 'ok');
`,
};

test('completion: bash completes verbs, flags, values, DAG ids, run ids (with their colons) and task ids from the workspace', () => {
  const ws = tempWorkspace(DAGS);
  const bin = mkdtempSync(join(tmpdir(), 'hangar-bin-'));
  try {
    // `hangar` on the PATH, as after npm install -g / npm link.
    writeFileSync(join(bin, 'hangar'), `#!/bin/sh\nexec '${process.execPath}' '${HANGAR_BIN}' "$@"\n`);
    chmodSync(join(bin, 'hangar'), 0o755);
    const script = hangar(['completion', 'bash']);
    assert.equal(script.code, 0, script.stderr);
    writeFileSync(join(bin, 'hangar.bash'), script.stdout);
    const complete = (line: string): string[] => {
      const r = spawnSync(
        'bash',
        ['-c', `source '${join(bin, 'hangar.bash')}'; complete -p hangar; COMP_LINE="$1"; COMP_POINT=\${#COMP_LINE}; _hangar_complete; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', line],
        { cwd: ws.root, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
      );
      assert.equal(r.status, 0, r.stderr);
      const [registration, ...out] = r.stdout.split('\n').filter((l) => l !== '');
      assert.equal(registration, 'complete -o default -F _hangar_complete hangar');
      return out;
    };
    assert.deepEqual(complete('hangar ru'), ['run', 'runs']);
    assert.deepEqual(complete('hangar xcom '), ['list', 'get', 'lineage', 'clear', 'sweep', 'rotate-key', 'gen-key']);
    assert.deepEqual(complete('hangar db '), ['backup', 'verify', 'restore', 'migrate', 'check', 'copy']);
    assert.deepEqual(complete('hangar db check --sto'), ['--store']);
    // No store yet: the DAG files are parsed once to find the ids.
    assert.ok(!existsSync(join(ws.root, '.hangar', 'hangar.db')));
    assert.deepEqual(complete('hangar run '), ['alpha_etl', 'beta_report']);
    assert.deepEqual(complete('hangar run al'), ['alpha_etl']);
    assert.deepEqual(complete('hangar test alpha_etl '), ['extract', 'load']);
    assert.deepEqual(complete('hangar render alpha_etl '), ['extract', 'load']);
    assert.deepEqual(complete('hangar render alpha_etl load --ru'), ['--run', '--run-type']);
    assert.deepEqual(complete('hangar runs --dag b'), ['beta_report']);
    assert.deepEqual(complete('hangar runs -o '), ['table', 'json', 'yaml', 'plain']);
    assert.deepEqual(complete('hangar runs --state f'), ['failed']);
    assert.deepEqual(complete('hangar runs --ru'), ['--run', '--run-type']);
    assert.deepEqual(complete('hangar config get paral'), ['parallelism']);

    assert.equal(hangar(['run', 'alpha_etl', '--date', '2024-01-15', '--workspace', ws.root]).code, 0);
    assert.equal(hangar(['run', 'beta_report', '--date', '2024-01-16', '--workspace', ws.root]).code, 0);
    assert.deepEqual(complete('hangar tasks '), ['manual__2024-01-16T00:00:00+00:00', 'manual__2024-01-15T00:00:00+00:00']);
    assert.deepEqual(complete('hangar tasks --dag alpha_etl '), ['manual__2024-01-15T00:00:00+00:00']);
    // bash splits words at ':' — the candidates are what follows the last one.
    assert.deepEqual(complete('hangar logs manual__2024-01-15T00:0'), ['00:00+00:00']);
    assert.deepEqual(complete('hangar logs manual__2024-01-15T00:00:00+00:00 '), ['extract', 'load']);
    assert.deepEqual(complete('hangar mark manual__2024-01-16T00:00:00+00:00 render '), ['success', 'failed']);
    assert.deepEqual(complete(`hangar xcom get --workspace ${ws.root} --dag alpha_etl --task l`), ['load']);
  } finally {
    ws.remove();
    rmSync(bin, { recursive: true, force: true });
  }
});

test('completion: zsh and fish scripts call the same completer; an unknown shell is a usage error', () => {
  const zsh = hangar(['completion', 'zsh']);
  assert.equal(zsh.code, 0);
  assert.match(zsh.stdout, /^#compdef hangar/);
  assert.match(zsh.stdout, /__complete -- "\$\{\(@\)words\[2,CURRENT\]\}"/);
  const fish = hangar(['completion', 'fish']);
  assert.equal(fish.code, 0);
  assert.match(fish.stdout, /complete -c hangar -f -a '\(__hangar_complete\)'/);
  const ps = hangar(['completion', 'powershell']);
  assert.equal(ps.code, 2);
  assert.match(ps.stderr, /hangar completion needs the shell: bash, zsh or fish, not "powershell"/);
});
