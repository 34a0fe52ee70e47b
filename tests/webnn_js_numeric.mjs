// node tests/webnn_js_numeric.mjs DIR FEEDS.json: import DIR/model.js with an MLGraphBuilder that
// computes (no browser): every call runs at once, in float64, on the inputs of FEEDS.json
// ({name: nested arrays}); prints the graph's outputs as JSON {name: {shape, data}}. A numeric
// stand-in for WebNN, written from the spec's definitions, to check model.js's calls and arguments.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = resolve(process.argv[2]);
const feeds = JSON.parse(readFileSync(process.argv[3], 'utf8'));

const size = (shape) => shape.reduce((a, b) => a * b, 1);
const strides = (shape) => shape.map((_, i) => size(shape.slice(i + 1)));
const tensor = (shape, data) => {
  if (data.length !== size(shape)) throw new Error(`${data.length} values for shape [${shape}]`);
  return { shape, data };
};
const flat = (value) => (Array.isArray(value) ? value.flatMap(flat) : [Number(value)]);
const dims = (value) => (Array.isArray(value) ? [value.length, ...dims(value[0])] : []);

function broadcast(a, b, f) {  // numpy-style broadcasting of two tensors
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...Array(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) throw new Error(`cannot broadcast [${a.shape}] with [${b.shape}]`);
    return Math.max(d, pb[i]);
  });
  const [sa, sb, so] = [strides(pa), strides(pb), strides(shape)];
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    let ia = 0, ib = 0;
    for (let k = 0; k < rank; k++) {
      const c = Math.floor(i / so[k]) % shape[k];
      ia += (pa[k] === 1 ? 0 : c) * sa[k];
      ib += (pb[k] === 1 ? 0 : c) * sb[k];
    }
    out[i] = f(a.data[ia], b.data[ib]);
  }
  return tensor(shape, out);
}

function transpose(x, permutation) {
  const perm = permutation ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  const shape = perm.map((p) => x.shape[p]);
  const [si, so] = [strides(x.shape), strides(shape)];
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let k = 0; k < shape.length; k++) src += (Math.floor(i / so[k]) % shape[k]) * si[perm[k]];
    out[i] = x.data[src];
  }
  return tensor(shape, out);
}

function matmul(a, b) {  // [..., M, K] x [..., K, N], leading dimensions broadcast
  const [M, K] = a.shape.slice(-2), [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul [${a.shape}] x [${b.shape}]`);
  const la = a.shape.slice(0, -2), lb = b.shape.slice(0, -2), rank = Math.max(la.length, lb.length);
  const lead = Array.from({ length: rank }, (_, k) => Math.max(la[k - rank + la.length] ?? 1, lb[k - rank + lb.length] ?? 1));
  const offset = (l, n) => {  // the matrix of l's leading dimensions that batch n of lead reads (size 1: broadcast)
    const st = strides(l);
    let off = 0;
    for (let k = 0; k < l.length; k++) {
      const c = Math.floor(n / strides(lead)[k + rank - l.length]) % lead[k + rank - l.length];
      off += (l[k] === 1 ? 0 : c) * st[k];
    }
    return off;
  };
  const out = new Float64Array(size(lead) * M * N);
  for (let n = 0; n < size(lead); n++) {
    const oa = offset(la, n) * M * K, ob = offset(lb, n) * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a.data[oa + i * K + k] * b.data[ob + k * N + j];
      out[(n * M + i) * N + j] = s;
    }
  }
  return tensor([...lead, M, N], out);
}

function reduce(x, axes, keep, f, init) {
  const all = axes ?? x.shape.map((_, i) => i);
  const shape = x.shape.map((d, i) => (all.includes(i) ? 1 : d));
  const out = new Float64Array(size(shape)).fill(init);
  const [si, so] = [strides(x.shape), strides(shape)];
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let k = 0; k < shape.length; k++) o += (all.includes(k) ? 0 : Math.floor(i / si[k]) % x.shape[k]) * so[k];
    out[o] = f(out[o], x.data[i]);
  }
  return tensor(keep ? shape : shape.filter((_, i) => !all.includes(i)), out);
}

function erf(x) {  // Taylor series near 0, continued fraction of erfc beyond: ~1e-15
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = t, term = t;
    for (let n = 1; n < 60; n++) { term *= -t * t / n; sum += term / (2 * n + 1); }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
}

const unary = (f) => (x) => tensor(x.shape, x.data.map(f));
const ops = {
  add: (a, b) => broadcast(a, b, (x, y) => x + y),
  sub: (a, b) => broadcast(a, b, (x, y) => x - y),
  mul: (a, b) => broadcast(a, b, (x, y) => x * y),
  div: (a, b) => broadcast(a, b, (x, y) => x / y),
  matmul,
  transpose: (x, o = {}) => transpose(x, o.permutation),
  reshape: (x, newShape) => tensor(newShape, x.data),
  slice: (x, starts, sizes) => {
    const out = new Float64Array(size(sizes)), [si, so] = [strides(x.shape), strides(sizes)];
    for (let i = 0; i < out.length; i++) {
      let src = 0;
      for (let k = 0; k < sizes.length; k++) src += (starts[k] + Math.floor(i / so[k]) % sizes[k]) * si[k];
      out[i] = x.data[src];
    }
    return tensor(sizes, out);
  },
  gather: (x, indices, o = {}) => {
    const axis = o.axis ?? 0, before = x.shape.slice(0, axis), after = x.shape.slice(axis + 1);
    const inner = size(after), out = [];
    for (let b = 0; b < size(before); b++) {
      for (const idx of indices.data) {
        const base = (b * x.shape[axis] + idx) * inner;
        for (let k = 0; k < inner; k++) out.push(x.data[base + k]);
      }
    }
    return tensor([...before, ...indices.shape, ...after], Float64Array.from(out));
  },
  layerNormalization: (x, o = {}) => {
    const axes = o.axes ?? x.shape.map((_, i) => i).slice(1);
    const n = size(axes.map((a) => x.shape[a]));
    const mean = reduce(x, axes, true, (s, v) => s + v, 0);
    mean.data = mean.data.map((s) => s / n);
    const centred = broadcast(x, mean, (v, m) => v - m);
    const variance = reduce(centred, axes, true, (s, v) => s + v * v, 0);
    variance.data = variance.data.map((s) => s / n);
    let y = broadcast(centred, variance, (c, v) => c / Math.sqrt(v + (o.epsilon ?? 1e-5)));
    const shaped = (t) => tensor(x.shape.map((d, i) => (axes.includes(i) ? d : 1)), t.data);
    if (o.scale) y = broadcast(y, shaped(o.scale), (a, s) => a * s);
    if (o.bias) y = broadcast(y, shaped(o.bias), (a, s) => a + s);
    return y;
  },
  softmax: (x, axis) => {
    const max = reduce(x, [axis], true, Math.max, -Infinity);
    const e = broadcast(x, max, (v, m) => Math.exp(v - m));
    return broadcast(e, reduce(e, [axis], true, (s, v) => s + v, 0), (v, s) => v / s);
  },
  reduceSum: (x, o = {}) => reduce(x, o.axes, o.keepDimensions ?? false, (s, v) => s + v, 0),
  reduceMean: (x, o = {}) => {
    const n = size((o.axes ?? x.shape.map((_, i) => i)).map((a) => x.shape[a]));
    const s = reduce(x, o.axes, o.keepDimensions ?? false, (a, v) => a + v, 0);
    return tensor(s.shape, s.data.map((v) => v / n));
  },
  clamp: (x, o = {}) => unary((v) => Math.min(Math.max(v, o.minValue ?? -Infinity), o.maxValue ?? Infinity))(x),
  cast: (x, type) => unary(type.startsWith('float') ? (v) => v : Math.trunc)(x),
  gelu: unary((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
  erf: unary(erf),
  tanh: unary(Math.tanh),
  sqrt: unary(Math.sqrt),
  identity: (x) => x,
};

globalThis.MLGraphBuilder = class {
  input(name, desc) {
    if (!(name in feeds)) throw new Error(`no feed for input ${name}`);
    const shape = dims(feeds[name]);
    if (JSON.stringify(shape) !== JSON.stringify(desc.shape)) throw new Error(`${name}: feed [${shape}], input [${desc.shape}]`);
    return tensor(shape, Float64Array.from(flat(feeds[name])));
  }

  constant(desc, data) {
    return tensor(desc.shape, Float64Array.from(data, Number));
  }

  build(outputs) {
    return { outputs };
  }
};
for (const [op, f] of Object.entries(ops)) globalThis.MLGraphBuilder.prototype[op] = function (...args) { return f(...args); };

const module = await import(pathToFileURL(join(dir, 'model.js')).href);
const bytes = readFileSync(join(dir, 'model.weights'));
const weights = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const graph = await module.build({}, weights, manifest);
console.log(JSON.stringify(Object.fromEntries(Object.entries(graph.outputs).map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data) }]))));
