/**
 * The XCom browser without a browser: its message validation (both sides), the
 * table and tree formatting, the paged value nodes, and the runtime requests
 * (`xcom/query`, `xcom/read`, `xcom/readRaw`, …) against a real store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import { join } from 'node:path';
import {
  checkResult,
  parseHostMessage,
  parseWebviewMessage,
} from '../../src/protocol/webviews/xcom-browser.ts';
import type {
  XComPage,
  XComRawResult,
  XComReadResult,
  ValueNode,
} from '../../src/protocol/webviews/xcom-browser.ts';
import {
  chainBadges,
  failureText,
  formatBytes,
  formatRatio,
  lastOffset,
  nextOffset,
  normaliseFilter,
  pageRange,
  prevOffset,
  remaining,
  scalarText,
  typeLabel,
} from '../../webview/xcom-browser/format.ts';
import { toJsonText, toNode, valueAt } from '../../src/runtime/server/xcom-view.ts';
import { RuntimeService } from '../../src/runtime/server/service.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { KEY, KEY_ID, OTHER_KEY, loc, seed, workspace } from './seed.ts';
import {
  maskedDocText,
  parseXComDocQuery,
  saveFileName,
  xcomDocParts,
} from '../../src/vscode/xcom-doc-model.ts';

const L = { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -1, key: 'k' };

describe('XCom browser messages', () => {
  test('the host accepts well-formed requests and normalises filters', () => {
    const r = parseWebviewMessage({
      type: 'request',
      id: 3,
      method: 'query',
      params: { filter: { dagId: 'd', keyPrefix: 'p_', key: '' }, offset: 100, limit: 100 },
    });
    assert.deepEqual(r, {
      ok: true,
      value: {
        type: 'request',
        id: 3,
        method: 'query',
        params: { filter: { dagId: 'd', keyPrefix: 'p_' }, offset: 100, limit: 100 },
      },
    });
    assert.equal(parseWebviewMessage({ type: 'ready' }).ok, true);
    assert.equal(
      parseWebviewMessage({
        type: 'request',
        id: 1,
        method: 'read',
        params: { loc: L, path: ['a', 0], offset: 0, reveal: false },
      }).ok,
      true,
    );
    assert.equal(parseWebviewMessage({ type: 'request', id: 1, method: 'sweep', params: {} }).ok, true);
  });

  test('the host rejects malformed messages with a reason', () => {
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{ type: 'eval', code: '1' }, /unknown message type "eval"/],
      [{ type: 'request', id: -1, method: 'query', params: {} }, /whole-number id/],
      [{ type: 'request', id: 1, method: 'dropTables', params: {} }, /unknown method "dropTables"/],
      [
        { type: 'request', id: 1, method: 'query', params: { filter: {}, offset: 0, limit: 100000 } },
        /limit/,
      ],
      [
        { type: 'request', id: 1, method: 'query', params: { filter: { dagId: 5 }, offset: 0, limit: 1 } },
        /dagId must be a string/,
      ],
      [
        { type: 'request', id: 1, method: 'query', params: { filter: { sql: 'x' }, offset: 0, limit: 1 } },
        /unknown field "sql"/,
      ],
      [
        {
          type: 'request',
          id: 1,
          method: 'read',
          params: { loc: { ...L, mapIndex: -2 }, path: [], offset: 0, reveal: false },
        },
        /mapIndex/,
      ],
      [
        {
          type: 'request',
          id: 1,
          method: 'read',
          params: { loc: { ...L, key: '' }, path: [], offset: 0, reveal: false },
        },
        /non-empty/,
      ],
      [
        { type: 'request', id: 1, method: 'read', params: { loc: L, path: [{}], offset: 0, reveal: false } },
        /path step/,
      ],
      [
        { type: 'request', id: 1, method: 'read', params: { loc: L, path: [], offset: 0, reveal: 'yes' } },
        /reveal/,
      ],
      [{ type: 'request', id: 1, method: 'clearRun', params: { dagId: 'd' } }, /runId/],
      [{ type: 'request', id: 1, method: 'setKey', params: { key: 'secret' } }, /params must be \{\}/],
      [{ type: 'request', id: 1, method: 'saveFile', params: { loc: L } }, /saveFile: "reveal"/],
      [
        { type: 'request', id: 1, method: 'saveFile', params: { loc: { ...L, taskId: '' }, reveal: false } },
        /non-empty/,
      ],
      [
        { type: 'request', id: 1, method: 'openDocument', params: { loc: L, reveal: 1 } },
        /openDocument: "reveal"/,
      ],
    ];
    for (const [m, re] of bad) {
      const r = parseWebviewMessage(m);
      assert.equal(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.match(r.error, re);
    }
  });

  test('the webview accepts host messages and rejects malformed ones and results', () => {
    assert.deepEqual(parseHostMessage({ type: 'init', filter: null }), {
      ok: true,
      value: { type: 'init', filter: null },
    });
    assert.equal(parseHostMessage({ type: 'response', id: 1, ok: false, error: 'x' }).ok, true);
    assert.equal(parseHostMessage({ type: 'response', id: 1, ok: false }).ok, false);
    assert.equal(parseHostMessage({ type: 'script', src: 'x' }).ok, false);
    assert.equal(parseHostMessage({ type: 'init', filter: { mapIndex: 'x' } }).ok, false);
    assert.equal(checkResult('query', { total: 1, offset: 0, rows: [{ key: 'k', chain: [] }] }), undefined);
    assert.match(checkResult('query', { total: 1, rows: 'x' }) ?? '', /not a page/);
    assert.match(checkResult('read', { ok: true, masked: false }) ?? '', /no value node/);
    assert.match(checkResult('readRaw', { chain: [] }) ?? '', /integrity/);
    assert.equal(checkResult('saveFile', { bytes: 10, path: '/tmp/x.json' }), undefined);
    assert.equal(checkResult('saveFile', { bytes: 0, path: null }), undefined);
    assert.match(checkResult('saveFile', { bytes: 10 }) ?? '', /path or null/);
    assert.match(checkResult('openDocument', { bytes: -1 }) ?? '', /byte count/);
  });

  test('the host accepts "Save to file…" and "Open as document" for a location', () => {
    const r = parseWebviewMessage({
      type: 'request',
      id: 7,
      method: 'saveFile',
      params: { loc: L, reveal: true },
    });
    assert.deepEqual(r, {
      ok: true,
      value: { type: 'request', id: 7, method: 'saveFile', params: { loc: L, reveal: true } },
    });
    // Extra fields of a location are dropped, not passed on.
    const o = parseWebviewMessage({
      type: 'request',
      id: 8,
      method: 'openDocument',
      params: { loc: { ...L, value: 'x' }, reveal: false },
    });
    assert.deepEqual(o, {
      ok: true,
      value: { type: 'request', id: 8, method: 'openDocument', params: { loc: L, reveal: false } },
    });
  });
});

describe('XCom documents (hangar-xcom: addresses)', () => {
  test('the address carries the location, round-trips, and names the tab after the key', () => {
    const at = {
      dagId: 'etl',
      runId: 'manual__2024-01-01T00:00:00+00:00',
      taskId: 'load',
      mapIndex: 3,
      key: 'a/b c?&=%',
    };
    const parts = xcomDocParts(at);
    assert.equal(parts.path, '/etl/manual__2024-01-01T00:00:00+00:00/load[3]/a_b c?&=%.json');
    assert.deepEqual(parseXComDocQuery(parts.query), at);
    assert.deepEqual(parseXComDocQuery(xcomDocParts(L).query), L);
    assert.doesNotMatch(parts.query, /reveal|value|secret/);
  });

  test('malformed addresses are refused with a reason', () => {
    assert.throws(() => parseXComDocQuery('dag=d&run=r&task=t'), /needs dag, run, task and key/);
    assert.throws(() => parseXComDocQuery('dag=d&run=r&task=t&key=k&map=-2'), /map "-2"/);
    assert.throws(() => parseXComDocQuery('dag=d&run=r&task=t&key=k&map=1.5'), /map "1.5"/);
    assert.throws(() => parseXComDocQuery('dag=d&run=r&task=t&key=k&map=x'), /map "x"/);
  });

  test('a masked document says how to see the value and is JSON; file names are safe', () => {
    const masked = maskedDocText(L);
    assert.match(JSON.parse(masked).hidden, /sensitive/);
    assert.equal(
      saveFileName({ ...L, taskId: 'load', mapIndex: 2, key: '../../etc/passwd' }),
      'load_2..._.._etc_passwd.json',
    );
    assert.equal(saveFileName(L), 't.k.json');
  });
});

describe('XCom browser formatting', () => {
  test('sizes, ratios, pages, dates', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(10 * 1024 * 1024), '10 MiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatRatio(1000, 230), '23%');
    assert.equal(formatRatio(1000, 52), '5.2%');
    assert.equal(formatRatio(0, 10), '—');
    assert.equal(pageRange(0, 100, 100_000), '1–100 of 100,000');
    assert.equal(pageRange(0, 0, 0), 'no XComs');
    assert.equal(prevOffset(0, 100), undefined);
    assert.equal(prevOffset(150, 100), 50);
    assert.equal(nextOffset(0, 100, 100), undefined);
    assert.equal(nextOffset(0, 100, 101), 100);
    assert.equal(lastOffset(100_000, 100), 99_900);
    assert.equal(lastOffset(101, 100), 100);
  });

  test('the backend chain as badges', () => {
    assert.deepEqual(chainBadges(['json', 'gzip', 'aes-256-gcm', 'file']), [
      { label: 'json', kind: 'format' },
      { label: 'gzip', kind: 'compression' },
      { label: 'encrypted', kind: 'encryption' },
      { label: 'file', kind: 'storage' },
    ]);
    assert.deepEqual(
      chainBadges(['typed-json']).map((b) => b.label),
      ['typed-json', 'inline'],
    );
  });

  test('typed values read as what they are', () => {
    assert.equal(scalarText({ t: 'bigint', v: '12345678901234567890' }), '12345678901234567890n');
    assert.equal(typeLabel({ t: 'date', v: '2024-01-01T00:00:00.000Z' }), 'Date');
    assert.equal(
      typeLabel({ t: 'bytes', kind: 'Buffer', hex: '0102', offset: 0, length: 2048 }),
      'Buffer(2.0 KiB)',
    );
    assert.equal(scalarText({ t: 'bytes', kind: 'Buffer', hex: '0102', offset: 0, length: 2048 }), '01 02 …');
    assert.equal(scalarText({ t: 'string', v: 'ab', offset: 0, length: 10 }), '"ab…');
    assert.equal(scalarText({ t: 'string', v: 'ab', offset: 0, length: 2 }), '"ab"');
    assert.equal(remaining({ t: 'array', size: 500, offset: 0, children: [] }, 200), 300);
    assert.equal(failureText('no-key').offerKey, true);
    assert.equal(failureText('tampered').offerKey, false);
    assert.deepEqual(
      normaliseFilter({ dagId: 'd', runId: '', taskId: '', mapIndex: ' 2 ', key: '', keyPrefix: 'p' }),
      { dagId: 'd', mapIndex: 2, keyPrefix: 'p' },
    );
    assert.match(
      String(normaliseFilter({ dagId: '', runId: '', taskId: '', mapIndex: 'x', key: '', keyPrefix: '' })),
      /Map index/,
    );
  });
});

describe('XCom value nodes', () => {
  test('containers are paged and deep ones left for later', () => {
    const big = Array.from({ length: 1000 }, (_, i) => ({ i, inner: { deeper: { deepest: [i] } } }));
    const n = toNode(big, { offset: 0, limit: 200 });
    assert.equal(n.t, 'array');
    if (n.t !== 'array') return;
    assert.equal(n.size, 1000);
    assert.equal(n.children!.length, 200);
    const first = n.children![0]!.node;
    assert.equal(first.t, 'object');
    // Expanded two levels below the item: item → inner → deeper (not loaded: fetched by path on expand)
    const inner = (first as { children: { node: ValueNode }[] }).children[1]!.node as {
      children: { node: ValueNode }[] | null;
    };
    assert.notEqual(inner.children, null);
    const deeper = inner.children![0]!.node as { t: string; size: number; children: unknown };
    assert.deepEqual([deeper.t, deeper.size, deeper.children], ['object', 1, null]);
    const page2 = toNode(big, { offset: 800, limit: 200 });
    assert.equal((page2 as { children: { label: number }[] }).children[0]!.label, 800);
    assert.deepEqual(valueAt(big, [5, 'inner', 'deeper', 'deepest', 0]), 5);
    assert.throws(() => valueAt(big, [5, 'nope']), /no such key/);
  });

  test('types survive: dates, bytes, bigints, maps, sets, strings paged', () => {
    const v = {
      d: new Date('2024-02-03T04:05:06Z'),
      b: Buffer.from([1, 2, 255]),
      n: 2n ** 70n,
      m: new Map([['a', 1]]),
      s: new Set([1, 2]),
      x: NaN,
      long: 'x'.repeat(50_000),
    };
    const n = toNode(v, { offset: 0, limit: 200 }) as {
      children: { label: string; node: ValueNode; mapKey?: ValueNode }[];
    };
    const by = Object.fromEntries(n.children.map((c) => [c.label, c]));
    assert.deepEqual(by.d!.node, { t: 'date', v: '2024-02-03T04:05:06.000Z' });
    assert.deepEqual(by.b!.node, { t: 'bytes', kind: 'Buffer', hex: '0102ff', offset: 0, length: 3 });
    assert.deepEqual(by.n!.node, { t: 'bigint', v: '1180591620717411303424' });
    assert.equal((by.m!.node as { children: { mapKey: ValueNode }[] }).children[0]!.mapKey.t, 'string');
    assert.equal(by.s!.node.t, 'set');
    assert.deepEqual(by.x!.node, { t: 'number', v: 'NaN' });
    const long = by.long!.node as { v: string; length: number };
    assert.equal(long.length, 50_000);
    assert.equal(long.v.length, 5_000); // nested strings: 50 × 100 characters per page
    const top = toNode(v.long, { offset: 20_000, limit: 200 }) as { v: string; offset: number };
    assert.equal(top.offset, 20_000);
    assert.equal(top.v.length, 20_000);
    assert.match(toJsonText(v), /"1180591620717411303424n"/);
    assert.match(toJsonText(v), /"\$bytes": "AQL\/"/);
  });
});

describe('XCom browser requests in the runtime', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('query pages and filters, read decodes compressed and encrypted values, failures say why', async () => {
    const dir = workspace();
    dirs.push(dir);
    const items = [
      ...Array.from({ length: 250 }, (_, i) => ({
        loc: loc(`source_payload_${String(i).padStart(3, '0')}`, { taskId: 'ingest' }),
        value: { i },
      })),
      {
        loc: loc('report', { taskId: 'report' }),
        value: {
          rows: Array.from({ length: 2000 }, (_, i) => ({ i, text: 'the same words again and again' })),
        },
        backend: 'compressed',
      },
      {
        loc: loc('api_token', { taskId: 'auth' }),
        value: { token: 'hunter2-secret' },
        backend: 'encrypted',
        sensitive: true,
      },
      {
        loc: loc('tampered', { taskId: 'auth' }),
        value: { token: 'x' },
        backend: 'encrypted',
        sensitive: true,
      },
      { loc: loc('part', { taskId: 'mapped', mapIndex: 2 }), value: 2 },
    ];
    await seed(dir, items);
    // Flip a ciphertext byte of "tampered".
    const store = await openWorkspaceStore(dir);
    const t = loc('tampered', { taskId: 'auth' });
    const row = (await store.xcoms.get(t.dagId, t.runId, t.taskId, t.key, t.mapIndex))!;
    const bytes = Buffer.from(row.value);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    assert.ok(await store.xcoms.replaceValue(row, row.value, bytes, row.size_stored));
    await store.close();

    const s = new RuntimeService(() => {});
    try {
      await s.handle('runtime/initialize', { workspace: dir, config: {} });
      const all = (await s.handle('xcom/query', { limit: 100 })) as XComPage;
      assert.equal(all.total, 254);
      assert.equal(all.rows.length, 100);
      const last = (await s.handle('xcom/query', { offset: 200, limit: 100 })) as XComPage;
      assert.equal(last.rows.length, 54);
      const prefixed = (await s.handle('xcom/query', {
        dagId: 'demo',
        keyPrefix: 'source_payload_1',
        limit: 1000,
      })) as XComPage;
      assert.equal(prefixed.total, 100);
      assert.ok(prefixed.rows.every((r) => r.key.startsWith('source_payload_1') && r.taskId === 'ingest'));
      const mapped = (await s.handle('xcom/query', { taskId: 'mapped', mapIndex: 2 })) as XComPage;
      assert.deepEqual(
        mapped.rows.map((r) => [r.key, r.mapIndex]),
        [['part', 2]],
      );
      await assert.rejects(s.handle('xcom/query', { limit: 5000 }), /limit/);
      await assert.rejects(s.handle('xcom/read', { loc: { dagId: 'demo', mapIndex: -1 } }), /runId/);

      const report = (await s.handle('xcom/query', { key: 'report' })) as XComPage;
      assert.ok(
        report.rows[0]!.chain.some((c) => ['gzip', 'zstd', 'brotli'].includes(c)),
        `compressed: ${report.rows[0]!.chain}`,
      );
      assert.ok(report.rows[0]!.sizeStored < report.rows[0]!.sizeOriginal);
      const r = (await s.handle('xcom/read', { loc: loc('report', { taskId: 'report' }) })) as XComReadResult;
      assert.ok(r.ok && !r.masked);
      if (r.ok && !r.masked) {
        const rows = (r.node as { children: { node: { size: number; children: unknown[] } }[] }).children[0]!
          .node;
        assert.equal(rows.size, 2000);
        assert.equal(rows.children.length, 50);
      }
      const more = (await s.handle('xcom/read', {
        loc: loc('report', { taskId: 'report' }),
        path: ['rows'],
        offset: 1950,
      })) as XComReadResult;
      assert.ok(
        more.ok &&
          !more.masked &&
          more.node.t === 'array' &&
          more.node.children!.length === 50 &&
          more.node.offset === 1950,
      );

      // No key in this runtime yet: the reason is "no-key".
      const noKey = (await s.handle('xcom/read', {
        loc: loc('api_token', { taskId: 'auth' }),
      })) as XComReadResult;
      assert.ok(!noKey.ok && noKey.reason === 'no-key', JSON.stringify(noKey));
      // Another key under the same id: wrong key (or tampered).
      await s.handle('secrets/set', { xcomKeys: [{ id: KEY_ID, key: OTHER_KEY }] });
      const wrong = (await s.handle('xcom/read', {
        loc: loc('api_token', { taskId: 'auth' }),
      })) as XComReadResult;
      assert.ok(!wrong.ok && wrong.reason === 'wrong-key-or-tampered', JSON.stringify(wrong));
      await s.handle('secrets/set', { xcomKeys: [{ id: KEY_ID, key: KEY }] });
      const masked = (await s.handle('xcom/read', {
        loc: loc('api_token', { taskId: 'auth' }),
      })) as XComReadResult;
      assert.deepEqual([masked.ok, masked.ok && masked.masked], [true, true]);
      assert.ok(!JSON.stringify(masked).includes('hunter2'), 'a masked value sends nothing of it');
      const shown = (await s.handle('xcom/read', {
        loc: loc('api_token', { taskId: 'auth' }),
        reveal: true,
      })) as XComReadResult;
      assert.match(JSON.stringify(shown), /hunter2-secret/);
      await assert.rejects(
        s.handle('xcom/readText', { loc: loc('api_token', { taskId: 'auth' }) }),
        /sensitive/,
      );
      const tampered = (await s.handle('xcom/read', {
        loc: loc('tampered', { taskId: 'auth' }),
      })) as XComReadResult;
      assert.ok(!tampered.ok && tampered.reason === 'wrong-key-or-tampered');
      const raw = (await s.handle('xcom/readRaw', {
        loc: loc('tampered', { taskId: 'auth' }),
      })) as XComRawResult;
      assert.equal(raw.integrity.status, 'authentication');
      const rawOk = (await s.handle('xcom/readRaw', {
        loc: loc('api_token', { taskId: 'auth' }),
      })) as XComRawResult;
      assert.equal(rawOk.integrity.status, 'ok');
      assert.ok(!JSON.stringify(rawOk).includes('hunter2'));

      assert.deepEqual(
        await s.handle('xcom/delete', { loc: loc('part', { taskId: 'mapped', mapIndex: 2 }) }),
        { rows: 1, objects: 0 },
      );
      const cleared = (await s.handle('xcom/clearRun', { dagId: 'demo', runId: 'run_1' })) as {
        rows: number;
      };
      assert.equal(cleared.rows, 253);
      assert.equal(((await s.handle('xcom/query', {})) as XComPage).total, 0);
    } finally {
      await s.shutdown();
    }
  });

  test('the runtime server answers xcom/readText of a large value over its pipe and keeps running', async () => {
    // "Copy value", "Open as document" and "Save to file…" read the whole value's JSON in one response; a
    // few hundred KB once made the server's stdout writer fail (EAGAIN on the pipe) and the runtime exit.
    const dir = workspace();
    dirs.push(dir);
    const rows = Array.from({ length: 40_000 }, (_, i) => ({
      id: i,
      city: 'Lisbon',
      note: 'the same words, over and over',
    }));
    await seed(dir, [{ loc: loc('big'), value: rows, backend: 'compressed' }]);
    const server = spawn(
      process.execPath,
      [join(import.meta.dirname, '..', '..', 'src', 'runtime', 'server', 'main.ts')],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => server.on('exit', (code) => done(code)));
    const rpc = createMessageConnection(
      new StreamMessageReader(server.stdout),
      new StreamMessageWriter(server.stdin),
    );
    rpc.listen();
    const died = exited.then((code) => {
      throw new Error(`the runtime exited (code ${code}); stderr: ${stderr}`);
    });
    died.catch(() => {});
    const request = <T>(method: string, params: unknown) =>
      Promise.race([rpc.sendRequest(method, params) as Promise<T>, died]);
    try {
      await request('runtime/initialize', { workspace: dir, config: {} });
      const at = { dagId: 'demo', runId: 'run_1', taskId: 'extract', mapIndex: -1, key: 'big' };
      for (let i = 0; i < 3; i++) {
        const r = await request<{ text: string }>('xcom/readText', { loc: at });
        assert.ok(r.text.length > 2_000_000, `${r.text.length} characters`);
        assert.equal((JSON.parse(r.text) as unknown[]).length, 40_000);
      }
      const page = await request<XComPage>('xcom/query', { limit: 10 });
      assert.equal(page.total, 1, `the server still answers (stderr: ${stderr})`);
      assert.equal(server.exitCode, null);
    } finally {
      rpc.dispose();
      server.kill('SIGTERM');
      await exited;
    }
  });
});
