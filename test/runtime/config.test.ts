/**
 * hangar.json's "scheduler" block: defaults, and a clear error naming the file and the
 * option for each bad value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfig } from '../../src/runtime/config.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

test('scheduler options: defaults (heartbeat timeout 30 s, as Airflow scheduler_health_check_threshold) and values from hangar.json', () => {
  const ws = tempWorkspace();
  try {
    assert.deepEqual(loadConfig(ws.root).scheduler, {
      dagsArePausedAtCreation: false,
      gracePeriodSeconds: 30,
      pollSeconds: 5,
      heartbeatTimeoutSeconds: 30,
    });
    ws.write('hangar.json', JSON.stringify({ scheduler: { heartbeatTimeoutSeconds: 2, pollSeconds: 0.5 } }));
    assert.deepEqual(loadConfig(ws.root).scheduler, {
      dagsArePausedAtCreation: false,
      gracePeriodSeconds: 30,
      pollSeconds: 0.5,
      heartbeatTimeoutSeconds: 2,
    });
  } finally {
    ws.remove();
  }
});

test('scheduler options: each bad value is refused with the file and the option named', () => {
  const ws = tempWorkspace();
  const file = join(ws.root, 'hangar.json');
  try {
    const cases: [unknown, RegExp][] = [
      ['every minute', /scheduler must be an object/],
      [{ heartbeatTimeoutSeconds: 0.5 }, /scheduler\.heartbeatTimeoutSeconds must be a number ≥ 1/],
      [{ heartbeatTimeoutSeconds: '30' }, /scheduler\.heartbeatTimeoutSeconds must be a number ≥ 1/],
      [{ pollSeconds: 0 }, /scheduler\.pollSeconds must be a number > 0/],
      [{ gracePeriodSeconds: -1 }, /scheduler\.gracePeriodSeconds must be a number ≥ 0/],
      [{ dagsArePausedAtCreation: 'yes' }, /scheduler\.dagsArePausedAtCreation must be true or false/],
    ];
    for (const [scheduler, re] of cases) {
      ws.write('hangar.json', JSON.stringify({ scheduler }));
      assert.throws(
        () => loadConfig(ws.root),
        (err: Error) => err.message.startsWith(file + ':') && re.test(err.message),
        JSON.stringify(scheduler),
      );
    }
  } finally {
    ws.remove();
  }
});

test('queue options of the distributed executor: pollMs defaults to 1000 ms; a bad value names the file and the option', () => {
  const ws = tempWorkspace();
  try {
    const base = { executor: 'distributed', queue: { redis: 'redis://127.0.0.1:6379' }, logs: { remote: 's3://hangar/logs' } };
    ws.write('hangar.json', JSON.stringify(base));
    assert.equal(loadConfig(ws.root).distributed!.pollMs, 1000);
    ws.write('hangar.json', JSON.stringify({ ...base, queue: { ...base.queue, pollMs: 250 } }));
    assert.equal(loadConfig(ws.root).distributed!.pollMs, 250);
    for (const bad of [0, 2.5, '1000']) {
      ws.write('hangar.json', JSON.stringify({ ...base, queue: { ...base.queue, pollMs: bad } }));
      assert.throws(
        () => loadConfig(ws.root),
        (err: Error) =>
          err.message.startsWith(join(ws.root, 'hangar.json')) &&
          err.message.includes(`queue.pollMs must be a whole number of milliseconds ≥ 10, not ${JSON.stringify(bad)}`),
      );
    }
  } finally {
    ws.remove();
  }
});
