import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { encodeValue, decodeValue, SensitivityDetector, XComError } from '../../src/runtime/xcom/index.ts';
import { loc } from './helpers.ts';

const L = loc('result', { taskId: 'extract' });
const roundTrip = (v: unknown) => {
  const e = encodeValue(L, v);
  return decodeValue(L, e.format, e.bytes, e.bytesType);
};

test('every supported type round-trips exactly', () => {
  const value = {
    s: 'héllo ✈',
    n: 1.5,
    i: -42,
    t: true,
    nil: null,
    und: undefined,
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    nzero: -0,
    big: 12345678901234567890123n,
    negBig: -5n,
    date: new Date('2024-01-15T14:30:22.123Z'),
    badDate: new Date(NaN),
    buf: Buffer.from([0, 1, 2, 255]),
    u8: new Uint8Array([9, 8, 7]),
    f64: new Float64Array([1.25, -2]),
    ab: new Uint8Array([1, 2, 3]).buffer,
    map: new Map<unknown, unknown>([['a', 1], [2, new Date(0)], [{ k: 1 }, new Set([1n])]]),
    set: new Set(['x', 1, undefined]),
    re: /ab+c/gi,
    arr: [1, undefined, 'x', [new Map()]],
    nested: { deeper: { list: [{ when: new Date(5) }] } },
    hx: { $hx: 'date', v: 'not a tag' },
    empty: {},
  };
  const back = roundTrip(value) as typeof value;
  assert.deepStrictEqual(back, value);
  assert.ok(Buffer.isBuffer(back.buf));
  assert.ok(!Buffer.isBuffer(back.u8) && back.u8 instanceof Uint8Array);
  assert.ok(Object.is(back.nzero, -0));
  assert.ok('und' in back);
  assert.equal(typeof back.big, 'bigint');
  assert.deepEqual(Object.keys(back.hx), ['$hx', 'v']);
});

test('plain JSON stays plain JSON (format json)', () => {
  const e = encodeValue(L, { a: [1, 'b', null, { c: true }] });
  assert.equal(e.format, 'json');
  assert.equal(e.bytes.toString(), '{"a":[1,"b",null,{"c":true}]}');
});

test('top-level bytes are stored raw and come back as the same type', () => {
  const b = Buffer.from('raw bytes');
  const e = encodeValue(L, b);
  assert.equal(e.format, 'bytes');
  assert.equal(e.bytes.buffer, b.buffer, 'no copy');
  assert.ok(Buffer.isBuffer(decodeValue(L, e.format, e.bytes, e.bytesType)));
  const u = new Uint8Array([1, 2]);
  const eu = encodeValue(L, u);
  const back = decodeValue(L, eu.format, eu.bytes, eu.bytesType);
  assert.ok(!Buffer.isBuffer(back));
  assert.deepEqual(back, u);
  for (const top of [undefined, 5n, new Date(1), 'text', 3, null]) assert.deepStrictEqual(roundTrip(top), top);
});

function rejects(v: unknown, pattern: RegExp) {
  assert.throws(
    () => encodeValue(L, v),
    (err: unknown) => {
      assert.ok(err instanceof XComError, String(err));
      assert.equal(err.code, 'unserializable');
      assert.match(err.message, /XCom "result" of task "extract"/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('functions, symbols, class instances, circular structures: clear errors naming task, key and path', () => {
  rejects({ a: { fn: function compute() {} } }, /a function \(compute\) at \$\.a\.fn/);
  rejects([1, Symbol('s')], /a symbol .* at \$\[1\]/);
  class Account {
    id = 1;
    balance() {
      return 0;
    }
  }
  rejects({ acct: new Account() }, /instance of class Account with behaviour \(balance\) at \$\.acct/);
  class Bare {
    x = 1;
  }
  rejects(new Bare(), /instance of class Bare/);
  const cyc: Record<string, unknown> = { name: 'root', child: {} };
  (cyc.child as Record<string, unknown>).parent = cyc;
  rejects(cyc, /circular reference/);
  const cycArr: unknown[] = [];
  cycArr.push(cycArr);
  rejects(cycArr, /circular reference/);
  rejects({ p: Promise.resolve(1) }, /a Promise/);
  rejects({ [Symbol('k')]: 1 }, /symbol keys/);
  rejects(new Error('x'), /an Error/);
  rejects(new WeakMap(), /WeakMap/);
});

test('shared (non-circular) references are fine', () => {
  const shared = { x: 1 };
  assert.deepEqual(roundTrip({ a: shared, b: shared, c: [shared, shared] }), { a: { x: 1 }, b: { x: 1 }, c: [{ x: 1 }, { x: 1 }] });
  // deep but acyclic
  let deep: unknown = 'leaf';
  for (let i = 0; i < 1000; i++) deep = { d: deep };
  assert.deepEqual(roundTrip(deep), deep);
});

test('__proto__ and constructor keys cannot pollute prototypes', () => {
  const evil = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted2": true}}, "m": {"$hx":"map","v":[["__proto__", 1]]}}');
  const back = roundTrip(evil) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).polluted2, undefined);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.ok(Object.hasOwn(back, '__proto__'));
  assert.deepEqual(back['__proto__'], { polluted: true });
  // A typed value (forces the tag walk) with a __proto__ key
  const typed = JSON.parse('{"__proto__": {"polluted3": true}}');
  typed.when = new Date(0);
  const t = roundTrip(typed) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).polluted3, undefined);
  assert.ok(Object.hasOwn(t, '__proto__'));
  // Tampered stored bytes cannot name constructors or run code
  const tampered = Buffer.from('{"$hx":"bytes","t":"constructor","v":""}');
  assert.throws(() => decodeValue(L, 'typed-json', tampered), /unknown bytes type/);
  assert.throws(() => decodeValue(L, 'typed-json', Buffer.from('{"$hx":"function","v":"process.exit(1)"}')), /unknown type tag/);
  assert.throws(() => decodeValue(L, 'json', Buffer.from('{not json')), /corrupt.*not valid JSON/);
});

test('sensitivity detection matches keywords as words', () => {
  const d = new SensitivityDetector();
  for (const s of ['api_key', 'password', 'apiKey', 'AWS_SECRET_ACCESS_KEY', 'db-password', 'authToken', 'user.credentials', 'ssn', 'passwords', 'API_TOKEN', 'privateKey'])
    assert.ok(d.isSensitiveName(s), s);
  for (const s of ['monkey', 'keyboard', 'tokenizer_config', 'secretary', 'keys_pushed', 'passport', 'ssnake', 'turkey'])
    assert.ok(!d.isSensitiveName(s), s);
  const e = encodeValue(L, { config: { db: { password: 'x' } }, keyboard: 1 }, { detector: d });
  assert.deepEqual(e.sensitiveKeys, ['password']);
  const m = encodeValue(L, new Map([['api_key', 'x']]), { detector: d });
  assert.deepEqual(m.sensitiveKeys, ['api_key']);
  assert.deepEqual(encodeValue(L, { monkey: 1, keyboard: 2 }, { detector: d }).sensitiveKeys, []);
  const custom = new SensitivityDetector(['iban']);
  assert.ok(custom.isSensitiveName('customerIban'));
  assert.ok(!custom.isSensitiveName('password'));
});
