// minilm-js: sentence embeddings in Node.js from a model exported by `minilm export --out DIR/model.onnx`
// (DIR then also holds tokenizer.json and minilm_export.json), run by onnxruntime-node.
//
//   import { load } from 'minilm-js';
//   const model = await load('DIR');             // or load('x.onnx', { tokenizer: 'tokenizer.json' })
//   const vectors = await model.embed(['Hello world', 'Another text']);   // Float32Array per text
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { makeTokenizer, pad } from './tokenize.js';
import { meanPool, normalize } from './pool.js';

export { cosine } from './pool.js';

export function loadTokenizer(path, maxLength) {
  return makeTokenizer(JSON.parse(readFileSync(path, 'utf8')), maxLength);
}

function paths(location, options) {
  const model = statSync(location).isDirectory() ? join(location, 'model.onnx') : location;
  const folder = dirname(model);
  const tokenizer = options.tokenizer
    ? (statSync(options.tokenizer).isDirectory() ? join(options.tokenizer, 'tokenizer.json') : options.tokenizer)
    : join(folder, 'tokenizer.json');
  if (!existsSync(tokenizer)) {
    throw new Error(`${tokenizer}: not found; export with \`minilm export --out ${model}\` (it writes tokenizer.json beside the model) or pass { tokenizer }`);
  }
  const settingsPath = join(folder, 'minilm_export.json');
  const settings = existsSync(settingsPath) ? JSON.parse(readFileSync(settingsPath, 'utf8')) : {};
  return { model, tokenizer, settings };
}

export async function load(location, options = {}) {
  const { model, tokenizer, settings } = paths(location, options);
  const maxLength = options.maxLength ?? settings.max_seq_length ?? 256;
  const normalizeOutput = options.normalize ?? settings.normalize ?? true;
  if ((settings.pooling ?? 'mean') !== 'mean') throw new Error(`${model}: pooling ${settings.pooling} is not supported (mean only)`);
  const tok = loadTokenizer(tokenizer, maxLength);
  const sessionOptions = options.threads ? { intraOpNumThreads: options.threads } : {};
  const session = await ort.InferenceSession.create(model, sessionOptions);
  const output = session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : session.outputNames[0];

  async function embedBatch(idsList, typesList) {
    const { batch, width, inputIds, mask, typeIds } = pad(idsList, tok.padId, typesList);
    const shape = [batch, width];
    const feeds = {
      input_ids: new ort.Tensor('int64', inputIds, shape),
      attention_mask: new ort.Tensor('int64', mask, shape),
    };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', typeIds, shape);
    const hidden = (await session.run(feeds, [output]))[output];
    const dim = hidden.dims[2];
    const rows = meanPool(hidden.data, mask, batch, width, dim);
    return normalizeOutput ? rows.map(normalize) : rows;
  }

  // token id lists (with [CLS] ... [SEP]) -> one Float32Array each; tokenTypes: a type id per token
  // of each list (a pair's second segment 1), default all 0
  async function embedIds(idsList, { batchSize = 32, tokenTypes = null } = {}) {
    const out = [];
    for (let i = 0; i < idsList.length; i += batchSize) {
      out.push(...(await embedBatch(idsList.slice(i, i + batchSize), tokenTypes && tokenTypes.slice(i, i + batchSize))));
    }
    return out;
  }

  return {
    session, tokenizer: tok, maxLength, embedIds,
    tokenize: (texts) => texts.map(tok.encode),
    // texts -> one Float32Array per text, in order; batches of batchSize padded to their longest
    async embed(texts, { batchSize = 32 } = {}) {
      const single = typeof texts === 'string';
      const out = await embedIds((single ? [texts] : texts).map(tok.encode), { batchSize });
      return single ? out[0] : out;
    },
  };
}
