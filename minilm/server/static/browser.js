// Embeddings computed in this browser, from the server's model exported for it (GET /model/...):
// onnxruntime-web (wasm, vendored in /static/vendor/) or WebNN (navigator.ml) through the module
// written by `minilm export --format webnn-js`. Tokenization and pooling are the Node package's
// own files (js/src/tokenize.js, js/src/pool.js; identical copies here).
import { makeTokenizer, pad } from './tokenize.js';
import { meanPool, normalize } from './pool.js';

async function get(url, headers, kind = 'json') {
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return kind === 'json' ? response.json() : response.arrayBuffer();
}

export async function ortEmbedder(headers) {
  const ort = await import('./vendor/ort.wasm.bundle.min.mjs');
  ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation; one is plenty for a few sentences
  ort.env.wasm.wasmPaths = new URL('./vendor/', import.meta.url).href;
  const [model, tokJson, settings] = await Promise.all([get('/model/model.onnx', headers, 'bytes'),
    get('/model/tokenizer.json', headers), get('/model/minilm_export.json', headers)]);
  const tok = makeTokenizer(tokJson, settings.max_seq_length);
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  // token id lists, and optionally a token type per token (a pair's second segment 1) -> vectors
  const ids = async (idsList, typesList = null) => {
    const { batch, width, inputIds, mask, typeIds } = pad(idsList, tok.padId, typesList);
    const shape = [batch, width];
    const feeds = { input_ids: new ort.Tensor('int64', inputIds, shape), attention_mask: new ort.Tensor('int64', mask, shape),
      token_type_ids: new ort.Tensor('int64', typeIds, shape) };
    const hidden = (await session.run(feeds, ['last_hidden_state'])).last_hidden_state;
    return meanPool(hidden.data, mask, batch, width, hidden.dims[2]).map(normalize);
  };
  return Object.assign(async (texts) => ids(texts.map(tok.encode)), { ids });
}

export async function webnnEmbedder(headers, seqLen) {
  const context = await navigator.ml.createContext();
  const module = await import('/model/webnn/model.js');
  const [weights, manifest, tokJson] = await Promise.all([get('/model/webnn/model.weights', headers, 'bytes'),
    get('/model/webnn/manifest.json', headers), get('/model/webnn/tokenizer.json', headers)]);
  const graph = await module.build(context, weights, manifest);
  const tok = makeTokenizer(tokJson, seqLen);
  const width = module.inputs.input_ids.shape[1];  // static shapes: batch 1, sequence seqLen
  const ids = async (idsList, typesList = null) => {  // as ortEmbedder's: one text per dispatch
    const out = [];
    for (const [row, list] of idsList.entries()) {
      const inputIds = new BigInt64Array(width).fill(BigInt(tok.padId));
      const mask = new BigInt64Array(width);
      const typeIds = new BigInt64Array(width);
      list.forEach((id, k) => { inputIds[k] = BigInt(id); mask[k] = 1n; typeIds[k] = BigInt(typesList ? typesList[row][k] : 0); });
      out.push(await run(context, graph, module, { input_ids: inputIds, attention_mask: mask, token_type_ids: typeIds }));
    }
    return out;
  };
  return Object.assign(async (texts) => ids(texts.map(tok.encode)), { ids });
}

// one dispatch: MLTensor API (current spec), or compute() (older browsers)
async function run(context, graph, module, feeds) {
  const name = module.outputs[0];
  if (typeof context.dispatch === 'function') {
    const inputs = {};
    for (const [key, data] of Object.entries(feeds)) {
      inputs[key] = await context.createTensor({ ...module.inputs[key], writable: true });
      context.writeTensor(inputs[key], data);
    }
    const output = await context.createTensor({ ...module.outputShapes[name], readable: true });
    context.dispatch(graph, inputs, { [name]: output });
    return new Float32Array(await context.readTensor(output));
  }
  const size = module.outputShapes[name].shape.reduce((a, b) => a * b, 1);
  const result = await context.compute(graph, feeds, { [name]: new Float32Array(size) });
  return result.outputs[name];
}
