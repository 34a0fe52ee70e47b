// The Node.js vectors against the Python embedder's (tools/make_js_fixtures.py): cosine >= 0.99999
// per text, one by one and as one padded batch; token ids against the Python tokenizer's.
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
