// @huggingface/tokenizers over our tokenizer.json against the ids sentence-transformers fed the
// model for the 240 golden texts (tests/fixtures/golden: empty, CJK, emoji, control characters,
// texts past 256 tokens, ...). Needs no model, only the tokenizer.json beside it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadTokenizer } from '../src/index.js';
import { modelDir } from './model.js';

const golden = JSON.parse(readFileSync(new URL('../../tests/fixtures/golden/all-MiniLM-L6-v2.json', import.meta.url), 'utf8'));
const dir = modelDir();
const skip = typeof dir === 'string' ? false : dir.skip;

test('golden token ids (240 texts)', { skip }, () => {
  const tok = loadTokenizer(join(dir, 'tokenizer.json'), golden.max_seq_length);
  const wrong = golden.texts.map((t, i) => [i, t]).filter(([i, t]) => JSON.stringify(tok.encode(t)) !== JSON.stringify(golden.input_ids[i]));
  assert.deepEqual(wrong.map(([i, t]) => `${i}: ${JSON.stringify(t.slice(0, 30))}`), []);
});
