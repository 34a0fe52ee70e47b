#!/usr/bin/env node
// node src/cli.js MODEL_DIR_OR_ONNX "text" ... -> one JSON line per text: {"index", "text", "embedding"}
import { load } from './index.js';

const [location, ...texts] = process.argv.slice(2);
if (!location || !texts.length) {
  console.error('usage: minilm-js MODEL_DIR_OR_ONNX TEXT [TEXT ...]   (export the model with: minilm export --out DIR/model.onnx)');
  process.exit(2);
}
const model = await load(location);
const vectors = await model.embed(texts);
texts.forEach((text, index) => console.log(JSON.stringify({ index, text, embedding: Array.from(vectors[index]) })));
