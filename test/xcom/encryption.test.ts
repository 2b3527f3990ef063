import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { associatedData, decodeEnvelope, encodeEnvelope, generateXComKey, Keyring, keysFromEnv, loadKeyring, XComError } from '../../src/runtime/xcom/index.ts';
import type { EncryptionLayer, EnvelopeHeader } from '../../src/runtime/xcom/index.ts';
import { workspace, loc, keyring } from './helpers.ts';

const SECRET = { username: 'svc', password: 'correct horse battery staple', api_key: 'AKIA-EXAMPLE' };

function isAuthError(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof XComError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /XCom "creds" of task "produce"/);
    if (pattern) assert.match(err.message, pattern);
    assert.ok(!err.message.includes('correct horse'), 'no plaintext in errors');
    return true;
  };
}

test('encrypted backend: sensitive values are AES-256-GCM encrypted, others are not; no plaintext or plaintext hash is stored', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'encrypted' }, keyring('k1'));
    const s = await b.serialize(loc('creds'), SECRET);
    assert.deepEqual(s.chain, ['json', 'aes-256-gcm']);
    assert.equal(s.sensitive, true);
    const raw = Buffer.from(s.data).toString('latin1');
    assert.ok(!raw.includes('correct horse'));
    const h = decodeEnvelope(loc('creds'), s.data)!.header;
    const l = h.layers[0] as EncryptionLayer;
    assert.equal(l._xcom_encrypted, true);
    assert.equal(l.encryption_algorithm, 'AES-256-GCM');
    assert.equal(Buffer.from(l.iv, 'base64').byteLength, 12);
    assert.equal(Buffer.from(l.tag, 'base64').byteLength, 16);
    assert.ok(!('checksum' in l), 'no plain hash of the plaintext');
    assert.ok(!JSON.stringify(h).includes('correct horse'));
    assert.deepEqual(h.sensitive_reasons, ['object key "password"', 'object key "api_key"']);
    assert.deepEqual(await b.deserialize(loc('creds'), s.data), SECRET);
    // fresh nonce every time
    const s2 = await b.serialize(loc('creds'), SECRET);
    assert.notEqual((decodeEnvelope(loc('creds'), s2.data)!.header.layers[0] as EncryptionLayer).iv, l.iv);
    // not sensitive → not encrypted; key name → sensitive; explicit marking wins both ways
    assert.deepEqual((await b.serialize(loc('monkey'), { keyboard: 'qwerty' })).chain, ['json']);
    assert.deepEqual((await b.serialize(loc('db_password'), 'x')).chain, ['json', 'aes-256-gcm']);
    assert.deepEqual((await b.serialize(loc('plain'), { a: 1 }, { sensitive: true })).chain, ['json', 'aes-256-gcm']);
    assert.deepEqual((await b.serialize(loc('creds'), SECRET, { sensitive: false })).chain, ['json']);
    // encryptAll
    const all = ws.backend({ backend: 'encrypted', encryption: { encryptAll: true } }, keyring('k1'));
    assert.deepEqual((await all.serialize(loc('plain'), { a: 1 })).chain, ['json', 'aes-256-gcm']);
    // no key at all: a clear error at push time, naming the XCom
    const nokey = ws.backend({ backend: 'encrypted' });
    await assert.rejects(nokey.serialize(loc('creds'), SECRET), isAuthError('no-key', /encrypted backend has no key/));
  } finally {
    ws.close();
  }
});

test('tampered ciphertext, tag, nonce or header: authentication error, never garbage', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'encrypted' }, keyring('k1'));
    const s = await b.serialize(loc('creds'), SECRET);
    const data = Buffer.from(s.data);
    const env = decodeEnvelope(loc('creds'), data)!;
    // flip each bit position class: first, middle, last byte of the ciphertext
    for (const pos of [0, Math.floor(env.payload.byteLength / 2), env.payload.byteLength - 1]) {
      const t = Buffer.from(data);
      t[t.byteLength - env.payload.byteLength + pos]! ^= 0x01;
      await assert.rejects(b.deserialize(loc('creds'), t), isAuthError('authentication', /failed authentication with key "k1"/));
    }
    const layer = env.header.layers[0] as EncryptionLayer;
    const withLayer = (l: Partial<EncryptionLayer>) => encodeEnvelope({ ...env.header, layers: [{ ...layer, ...l }] } as EnvelopeHeader, env.payload);
    const tag = Buffer.from(layer.tag, 'base64');
    tag[0]! ^= 0x80;
    await assert.rejects(b.deserialize(loc('creds'), withLayer({ tag: tag.toString('base64') })), isAuthError('authentication'));
    await assert.rejects(b.deserialize(loc('creds'), withLayer({ iv: randomBytes(12).toString('base64') })), isAuthError('authentication'));
    await assert.rejects(b.deserialize(loc('creds'), withLayer({ iv: randomBytes(8).toString('base64') })), isAuthError('authentication'));
    // claiming it was compressed underneath changes the associated data
    const fake = encodeEnvelope({ ...env.header, chain: ['json', 'gzip', 'aes-256-gcm'], layers: [{ codec: 'gzip', _xcom_compressed: true, algorithm: 'gzip', original_size: 10, compressed_size: 10, compression_ratio: 1 }, layer] } as EnvelopeHeader, env.payload);
    await assert.rejects(b.deserialize(loc('creds'), fake), isAuthError('authentication'));
    // truncated ciphertext
    await assert.rejects(b.deserialize(loc('creds'), data.subarray(0, data.byteLength - 3)), isAuthError('authentication'));
  } finally {
    ws.close();
  }
});

test('swapped rows: a ciphertext copied to another DAG, run, task, map index or key does not decrypt', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'encrypted' }, keyring('k1'));
    const s = await b.serialize(loc('creds'), SECRET);
    for (const other of [loc('creds', { dagId: 'other' }), loc('creds', { runId: 'r2' }), loc('creds', { taskId: 'evil' }), loc('creds', { mapIndex: 0 }), loc('token')]) {
      await assert.rejects(b.deserialize(other, s.data), (err: unknown) => {
        assert.ok(err instanceof XComError && err.code === 'authentication', String(err));
        return true;
      });
    }
  } finally {
    ws.close();
  }
});

test('wrong key, missing key id, no keyring: clear errors', async () => {
  const ws = await workspace();
  try {
    const s = await ws.backend({ backend: 'encrypted' }, keyring('k1')).serialize(loc('creds'), SECRET);
    await assert.rejects(ws.backend({}, keyring('k1')).deserialize(loc('creds'), s.data), isAuthError('authentication'), 'same id, other key material');
    await assert.rejects(ws.backend({}, keyring('k2')).deserialize(loc('creds'), s.data), isAuthError('no-key', /key "k1", which is not in the keyring \(keys: k2\)/));
    await assert.rejects(ws.backend({}).deserialize(loc('creds'), s.data), isAuthError('no-key', /no XCom key is configured/));
  } finally {
    ws.close();
  }
});

test('keyring: primary encrypts, all decrypt; keys from env, key file (outside the workspace, private), passphrase with stored salt, programmatic', async () => {
  const ws = await workspace();
  const keyDir = mkdtempSync(join(tmpdir(), 'hangar-keys-'));
  try {
    const old = keyring('old');
    const s = await ws.backend({ backend: 'encrypted' }, old).serialize(loc('creds'), SECRET);
    const both = new Keyring([{ id: 'new', key: randomBytes(32) }, { id: 'old', key: old.material('old')! }]);
    const b = ws.backend({ backend: 'encrypted' }, both);
    assert.deepEqual(await b.deserialize(loc('creds'), s.data), SECRET);
    const s2 = await b.serialize(loc('creds'), SECRET);
    assert.equal((decodeEnvelope(loc('creds'), s2.data)!.header.layers[0] as EncryptionLayer).key_id, 'new');

    // environment variable
    const k1 = generateXComKey();
    const k2 = randomBytes(32).toString('hex');
    const env = { HANGAR_XCOM_KEYS: `a:${k1}, b:${k2}` };
    const fromEnv = (await loadKeyring({}, { workspaceRoot: ws.root, env }))!;
    assert.equal(fromEnv.primaryId, 'a');
    assert.deepEqual(fromEnv.ids, ['a', 'b']);
    assert.throws(() => keysFromEnv('X', { X: 'a:short' }), (e: Error) => /32 bytes/.test(e.message) && !e.message.includes('short'));
    assert.equal(JSON.stringify(fromEnv), '{"primaryId":"a","ids":["a","b"]}', 'no key material in JSON');

    // key file outside the workspace, mode 600
    const file = join(keyDir, 'xcom-keys.json');
    writeFileSync(file, JSON.stringify({ primary: 'f2', keys: { f1: generateXComKey(), f2: generateXComKey() } }));
    chmodSync(file, 0o600);
    const fromFile = (await loadKeyring({ keyFile: file }, { workspaceRoot: ws.root, env: {} }))!;
    assert.equal(fromFile.primaryId, 'f2');
    chmodSync(file, 0o644);
    await assert.rejects(loadKeyring({ keyFile: file }, { workspaceRoot: ws.root, env: {} }), /readable by other users/);
    const inside = join(ws.root, 'keys.json');
    writeFileSync(inside, '{}');
    chmodSync(inside, 0o600);
    await assert.rejects(loadKeyring({ keyFile: inside }, { workspaceRoot: ws.root, env: {} }), /inside the workspace/);

    // passphrase: scrypt with a salt stored in xcom_keys; same passphrase → same key, other → authentication error
    const p1 = (await loadKeyring({}, { workspaceRoot: ws.root, keys: ws.store.keys, env: { HANGAR_XCOM_PASSPHRASE: 'a long passphrase' } }))!;
    const salts = await ws.store.keys.salts();
    assert.deepEqual(
      salts.map((r) => ({ key_id: r.key_id, kdf: r.kdf, n: r.salt.byteLength, params: JSON.parse(r.params) as unknown })),
      [{ key_id: 'passphrase', kdf: 'scrypt', n: 16, params: { N: 32768, r: 8, p: 1 } }],
    );
    const pb = ws.backend({ backend: 'encrypted' }, p1);
    const ps = await pb.serialize(loc('creds'), SECRET);
    const p2 = (await loadKeyring({ passphrase: 'a long passphrase' }, { workspaceRoot: ws.root, keys: ws.store.keys, env: {} }))!;
    assert.deepEqual(await ws.backend({}, p2).deserialize(loc('creds'), ps.data), SECRET);
    const wrong = (await loadKeyring({ passphrase: 'another passphrase' }, { workspaceRoot: ws.root, keys: ws.store.keys, env: {} }))!;
    await assert.rejects(ws.backend({}, wrong).deserialize(loc('creds'), ps.data), isAuthError('authentication'));
    await assert.rejects(loadKeyring({ passphrase: 'x'.repeat(12) }, { workspaceRoot: ws.root, env: {} }), /needs the metadata store/);
    await assert.rejects(loadKeyring({ passphrase: 'short' }, { workspaceRoot: ws.root, keys: ws.store.keys, env: {} }), /shorter than 8 characters/);
    assert.equal((await ws.store.keys.salts()).length, 1, 'a rejected passphrase stores no salt');
    // A backend configured with the passphrase: its keyring is complete once ready() resolves, and it reads what p1 wrote.
    const configured = ws.backend({ backend: 'encrypted', encryption: { passphrase: 'a long passphrase' } });
    assert.deepEqual(await configured.deserialize(loc('creds'), ps.data), SECRET, 'decrypting waits for the key');
    assert.deepEqual((await configured.ready())!.ids, ['passphrase']);
    assert.throws(() => ws.backend({ encryption: { passphrase: 'short' } }), /shorter than 8 characters/);

    // setKeyring: keys handed over later (SecretStorage)
    const late = ws.backend({ backend: 'encrypted' });
    late.setKeyring(old);
    assert.deepEqual(await late.deserialize(loc('creds'), s.data), SECRET);
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
    ws.close();
  }
});

test('the documented format decrypts with a plain AES-GCM implementation', async () => {
  const ws = await workspace();
  try {
    const kr = keyring('doc');
    const s = await ws.backend({ backend: 'encrypted' }, kr).serialize(loc('creds', { mapIndex: 7 }), SECRET);
    // Independent reading of docs/xcom-format.md: magic, u32 header length, JSON header, payload.
    const buf = Buffer.from(s.data);
    assert.equal(buf.subarray(0, 4).toString('latin1'), 'HXC\x01');
    const n = buf.readUInt32BE(4);
    const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const ct = buf.subarray(8 + n);
    const enc = h.layers[0];
    const fields = ['hangar-xcom', '1', enc.key_id, 'test_custom_backends', 'manual__2024-01-15T14:30:22', 'produce', '7', 'creds', 'json'];
    const aad = Buffer.concat(fields.flatMap((f) => {
      const b = Buffer.from(f, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.byteLength);
      return [len, b];
    }));
    assert.deepEqual(aad, associatedData(loc('creds', { mapIndex: 7 }), 'doc', ['json']));
    const d = createDecipheriv('aes-256-gcm', kr.material('doc')!, Buffer.from(enc.iv, 'base64'));
    d.setAAD(aad);
    d.setAuthTag(Buffer.from(enc.tag, 'base64'));
    const plain = Buffer.concat([d.update(ct), d.final()]);
    assert.deepEqual(JSON.parse(plain.toString('utf8')), SECRET);
  } finally {
    ws.close();
  }
});
