import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  composeTransformers,
  maskToken,
  passThrough,
  replaceBytes,
  replaceText,
  whitespaceToUnderscore,
} from '../../src/runtime/sync/transform.ts';
import type { Transformer } from '../../src/runtime/sync/types.ts';

const point = { id: 'dir/file.txt', size: 0, mtimeMs: 0 };

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

async function run(ts: Transformer[], parts: Uint8Array[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of composeTransformers(ts, chunks(parts), point)) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

/** Every split of `input` into two chunks, plus one-byte chunks and the whole. */
function splits(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [[input]];
  for (let i = 0; i <= input.length; i++) out.push([input.subarray(0, i), input.subarray(i)]);
  out.push([...input].map((b) => Buffer.from([b])));
  return out;
}

/** Every split of `input` into three chunks. */
function splits3(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= input.length; i++)
    for (let j = i; j <= input.length; j++) out.push([input.subarray(0, i), input.subarray(i, j), input.subarray(j)]);
  return out;
}

describe('token replacement across chunk boundaries', () => {
  const input = Buffer.from('Thepassword: password;passwordpassword pass word passwor d.password');
  const expected = input.toString().replaceAll('password', '********');

  it('maskToken finds `password` split at every possible boundary (2 and 3 chunks, 1-byte chunks)', async () => {
    for (const parts of [...splits(input), ...splits3(input)]) {
      const got = (await run([maskToken('password')], parts)).toString();
      assert.equal(got, expected, `split ${JSON.stringify(parts.map((p) => p.toString()))}`);
    }
  });

  it('replaceBytes with a longer replacement and overlapping candidates', async () => {
    const text = Buffer.from('aaaabaaab aab ab aaab');
    const want = text.toString().replaceAll('aab', '<X>');
    for (const parts of [...splits(text), ...splits3(text)]) {
      assert.equal((await run([replaceBytes('aab', '<X>')], parts)).toString(), want);
    }
  });

  it('replaceText finds a multi-byte token split inside a character', async () => {
    const text = Buffer.from('mot de passe: 密码, 密码密码 and 密 码 and 😀密码😀');
    const want = text.toString().replaceAll('密码', '**');
    for (const parts of [...splits(text), ...splits3(text)]) {
      assert.equal((await run([replaceText('密码', '**')], parts)).toString(), want);
      assert.equal((await run([replaceBytes('密码', '**')], parts)).toString(), want);
    }
  });

  it('a token at the very end, and a partial token at the end, are handled', async () => {
    assert.equal((await run([maskToken('password')], [Buffer.from('xpass'), Buffer.from('word')])).toString(), 'x********');
    assert.equal((await run([maskToken('password')], [Buffer.from('xpass'), Buffer.from('wor')])).toString(), 'xpasswor');
    assert.equal((await run([maskToken('password')], [])).toString(), '');
  });

  it('replaceBytes equals a whole-buffer replacement on random data with tokens, cut into random chunks', async () => {
    const tok = Buffer.from('password');
    const rep = Buffer.from('********');
    // Deterministic pseudo-random generator, so a failure can be reproduced.
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < 30; i++) {
        pieces.push(randomBytes(rnd(200)));
        const k = rnd(4);
        // whole tokens, partial tokens and runs of them, to cross every seam
        pieces.push(k === 0 ? tok : k === 1 ? tok.subarray(0, 1 + rnd(7)) : k === 2 ? Buffer.concat([tok, tok]) : Buffer.from('pass'));
      }
      const input = Buffer.concat(pieces);
      const expected = Buffer.from(input.toString('latin1').split(tok.toString('latin1')).join(rep.toString('latin1')), 'latin1');
      const parts: Buffer[] = [];
      for (let at = 0; at < input.length; ) {
        const n = rnd(4) === 0 ? rnd(8) : 1 + rnd(300);
        parts.push(input.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(await run([maskToken('password')], parts), expected, `round ${round}`);
    }
  });

  it('rejects an empty token with a clear error', () => {
    assert.throws(() => replaceBytes('', 'x'), /token must not be empty/);
    assert.throws(() => replaceText('', 'x'), /token must not be empty/);
  });
});

describe('UTF-8 text transforms decode in streaming mode', () => {
  // 1-, 2-, 3- and 4-byte characters and Unicode whitespace (NBSP, ideographic space, em space).
  const text = 'a é\u00a0中\u3000😀\t\u2003x\r\ny 𝄞 end';
  const input = Buffer.from(text, 'utf8');
  const expected = text.replace(/\s/g, '_');

  it('whitespaceToUnderscore is correct with a multi-byte character split at every boundary', async () => {
    for (const parts of [...splits(input), ...splits3(input)]) {
      const got = await run([whitespaceToUnderscore()], parts);
      assert.equal(got.toString('utf8'), expected, `split at ${parts.map((p) => p.length).join('+')}`);
      assert.ok(!got.includes(Buffer.from([0xef, 0xbf, 0xbd])), 'no U+FFFD replacement characters');
    }
  });

  it('composes: whitespace to underscore, then masking, across every boundary', async () => {
    const src = Buffer.from('my password\u00a0is 密 password!');
    const want = src.toString().replace(/\s/g, '_').replaceAll('password', '********');
    for (const parts of splits3(src)) {
      assert.equal((await run([whitespaceToUnderscore(), maskToken('password')], parts)).toString(), want);
    }
  });

  it('fails clearly on invalid UTF-8 instead of corrupting it (naming the file)', async () => {
    const bad = Buffer.from([0x61, 0x20, 0xff, 0xfe, 0x62]);
    await assert.rejects(run([whitespaceToUnderscore()], [bad]), /"dir\/file\.txt" is not valid UTF-8/);
    const replaced = await run([whitespaceToUnderscore({ invalid: 'replace' })], [bad]);
    assert.equal(replaced.toString(), 'a_\ufffd\ufffdb');
  });

  it('a truncated character at the end of the file is an error, not silent loss', async () => {
    const truncated = Buffer.from('ok 😀').subarray(0, 5);
    await assert.rejects(run([whitespaceToUnderscore()], [truncated]), /not valid UTF-8/);
  });
});

describe('binary pass-through', () => {
  it('returns the same bytes whatever the chunking, without decoding', async () => {
    const data = randomBytes(10_000);
    const parts = [data.subarray(0, 1), data.subarray(1, 4097), data.subarray(4097)];
    assert.deepEqual(await run([passThrough()], parts), data);
    assert.deepEqual(await run([], parts), data);
  });

  it('byte token replacement leaves invalid UTF-8 around the token intact', async () => {
    const data = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('password'), Buffer.from([0xc3])]);
    const want = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('********'), Buffer.from([0xc3])]);
    for (const parts of splits(data)) assert.deepEqual(await run([maskToken('password')], parts), want);
  });
});
