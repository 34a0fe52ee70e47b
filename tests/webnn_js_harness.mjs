// node tests/webnn_js_harness.mjs DIR: import DIR/model.js with a recording MLGraphBuilder (no
// browser), run build() on DIR's weights and manifest, print every builder call as JSON.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = resolve(process.argv[2]);
const calls = [];
let count = 0;
globalThis.MLGraphBuilder = class {
  constructor(context) { this.context = context; }
};
const proxy = new Proxy({}, {
  get: (_, op) => (...args) => {
    const describe = (a) => (a && a.operand !== undefined ? { operand: a.operand }
      : ArrayBuffer.isView(a) ? { typed: a.constructor.name, length: a.length }
        : Array.isArray(a) ? a.map(describe)
          : a && typeof a === 'object' ? Object.fromEntries(Object.entries(a).map(([k, x]) => [k, describe(x)])) : a);
    calls.push({ op, args: args.map(describe) });
    if (op === 'build') return { built: true };
    if (op === 'split') return Array.from({ length: Array.isArray(args[1]) ? args[1].length : args[1] }, () => ({ operand: count++ }));
    return { operand: count++ };
  },
});
globalThis.MLGraphBuilder = function MLGraphBuilder() { return proxy; };
const module = await import(pathToFileURL(join(dir, 'model.js')).href);
const bytes = readFileSync(join(dir, 'model.weights'));
const weights = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const graph = await module.build({}, weights, manifest);
console.log(JSON.stringify({ name: module.name, inputs: module.inputs, outputs: module.outputs, built: graph.built === true, calls }));
