/**
 * A named pool is shared by every process on the store, as Airflow's pools are (their slots are
 * counted from the task instances in the database: airflow/models/pool.py, Pool.slots_stats,
 * occupied = running + queued): two `hangar run` processes on one workspace, each running a
 * DAG whose tasks all use the pool `db` of one slot, never run two of those tasks at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HANGAR_BIN } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const dagFile = (id: string, marks: string) => `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
export const d = dag({ id: '${id}' });
for (const t of ['a', 'b', 'c']) {
  d.task(t, { pool: 'db' }, async () => {
    appendFileSync(${JSON.stringify(marks)}, 'start ${id}.' + t + ' ' + Date.now() + '\\n');
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(${JSON.stringify(marks)}, 'end ${id}.' + t + ' ' + Date.now() + '\\n');
  });
}
`;

function run(dagId: string, root: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [HANGAR_BIN, 'run', dagId, '--workspace', root], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

test(
  'two processes share a named pool of one slot: never two of its tasks at once',
  { timeout: 120_000 },
  async () => {
    const ws = tempWorkspace({}, { pools: { db: 1 } });
    const marks = join(ws.root, 'marks.txt');
    ws.write('dags/one.ts', dagFile('one', marks));
    ws.write('dags/two.ts', dagFile('two', marks));
    try {
      const [a, b] = await Promise.all([run('one', ws.root), run('two', ws.root)]);
      assert.equal(a.code, 0, a.out);
      assert.equal(b.code, 0, b.out);
      const events = readFileSync(marks, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .map(([kind, task, at]) => ({ kind: kind!, task: task!, at: Number(at) }));
      assert.equal(events.length, 12, 'six tasks, each started and ended');
      // Ends before starts at the same millisecond: a slot freed then taken is not an overlap.
      events.sort((x, y) => x.at - y.at || (x.kind === 'end' ? -1 : 1));
      let active = 0;
      for (const e of events) {
        active += e.kind === 'start' ? 1 : -1;
        assert.ok(
          active <= 1,
          `two tasks of pool db at once:\n${events.map((x) => `${x.kind} ${x.task} ${x.at}`).join('\n')}`,
        );
      }
    } finally {
      ws.remove();
    }
  },
);
