/** The webviews' shared request/response client (webview/shared/requests.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byErrorText, requester } from '../../webview/shared/requests.ts';

interface Methods {
  count: { params: { of: string }; result: { n: number } };
}

test('requests are numbered and posted; a response settles its own request with the checked result', async () => {
  const posted: unknown[] = [];
  const rpc = requester<Methods>('test panel', (m) => posted.push(m), (_m, r) => ((r as { n?: unknown }).n === 7 ? { ok: true, value: { n: 7, checked: true } } : { ok: false, error: 'n is not 7' }));
  const a = rpc.request('count', { of: 'a' });
  const b = rpc.request('count', { of: 'b' });
  assert.deepEqual(posted, [
    { type: 'request', id: 1, method: 'count', params: { of: 'a' } },
    { type: 'request', id: 2, method: 'count', params: { of: 'b' } },
  ]);
  rpc.settle({ id: 2, ok: false, error: 'no such thing' });
  rpc.settle({ id: 1, ok: true, result: { n: 7 } });
  assert.deepEqual(await a, { n: 7, checked: true });
  await assert.rejects(b, /no such thing/);
});

test('a malformed result is refused, and a response to no pending request is dropped', async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (s: string) => errors.push(s);
  try {
    const rpc = requester<Methods>('test panel', () => undefined, byErrorText((_m, r) => (typeof (r as { n?: unknown }).n === 'number' ? undefined : 'n must be a number')));
    const p = rpc.request('count', { of: 'x' });
    rpc.settle({ id: 1, ok: true, result: { n: 'seven' } });
    await assert.rejects(p, /n must be a number/);
    rpc.settle({ id: 1, ok: true, result: { n: 1 } }); // already settled
    rpc.settle({ id: 99, ok: true, result: { n: 1 } });
    assert.deepEqual(errors, [
      'Hangar test panel: rejected a malformed response: n must be a number',
      'Hangar test panel: a response to unknown request 1',
      'Hangar test panel: a response to unknown request 99',
    ]);
  } finally {
    console.error = original;
  }
});
