// The Node.js vectors against the Python embedder's (tools/make_js_fixtures.py): cosine >= 0.99999
// per text, one by one and as one padded batch; token ids against the Python tokenizer's; text pairs
// with token type ids 1 on the second segment, against the Python graph fed the same types.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cosine, load } from '../src/index.js';
import { modelDir } from './model.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/embeddings.json', import.meta.url), 'utf8'));
const expected = fixture.embeddings_f32_base64.map((b64) => new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer));
const dir = modelDir();
const skip = typeof dir === 'string' ? false : dir.skip;
const model = skip ? null : await load(dir);

function check(vectors, label) {
  assert.equal(vectors.length, fixture.texts.length);
  vectors.forEach((v, i) => {
    assert.equal(v.length, fixture.dim);
    const c = cosine(v, expected[i]);
    assert.ok(c >= 0.99999, `${label}: text ${i} (${JSON.stringify(fixture.texts[i].slice(0, 40))}): cosine ${c}`);
  });
}

test('token ids equal the Python tokenizer', { skip }, () => {
  assert.deepEqual(model.tokenize(fixture.texts), fixture.input_ids);
});

test('one text at a time', { skip }, async () => {
  check(await model.embed(fixture.texts, { batchSize: 1 }), 'batch 1');
});

test('one padded batch, and batches of 5', { skip }, async () => {
  check(await model.embed(fixture.texts, { batchSize: 64 }), 'batch 64');
  check(await model.embed(fixture.texts, { batchSize: 5 }), 'batch 5');
});

test('a single string gives one vector, unit length', { skip }, async () => {
  const v = await model.embed('Hello world');
  assert.ok(v instanceof Float32Array);
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
});

test('text pairs: the token types reach the model', { skip }, async () => {
  const ids = fixture.pairs.map((p) => p.input_ids);
  const tokenTypes = fixture.pairs.map((p) => p.token_type_ids);
  const want = fixture.pairs.map((p) => new Float32Array(new Uint8Array(Buffer.from(p.embedding_f32_base64, 'base64')).buffer));
  const typed = await model.embedIds(ids, { tokenTypes, batchSize: 2 });  // two batches: the types follow their texts
  const untyped = await model.embedIds(ids);
  typed.forEach((v, i) => {
    assert.ok(cosine(v, want[i]) >= 0.99999, `pair ${i}: cosine ${cosine(v, want[i])}`);
    assert.ok(cosine(untyped[i], want[i]) < 0.9999, `pair ${i}: the same without the types, cosine ${cosine(untyped[i], want[i])}`);
  });
  await assert.rejects(model.embedIds([[101, 102]], { tokenTypes: [[0]] }), /1 token types for 2 token ids/);
});
