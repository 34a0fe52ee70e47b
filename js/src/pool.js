// Mean pooling over the attention mask, then L2 normalisation (sentence-transformers' Pooling
// with pooling_mode_mean_tokens, then Normalize): counts clamped at 1e-9, norms at 1e-12.
// No Node.js API here: the playground page serves an identical copy (minilm/server/static/).

// hidden: Float32Array [batch, width, dim]; mask: BigInt64Array [batch, width] -> Float32Array rows
export function meanPool(hidden, mask, batch, width, dim) {
  const out = [];
  for (let b = 0; b < batch; b++) {
    const sum = new Float64Array(dim);
    let count = 0;
    for (let t = 0; t < width; t++) {
      if (!mask[b * width + t]) continue;
      count += 1;
      const base = (b * width + t) * dim;
      for (let d = 0; d < dim; d++) sum[d] += hidden[base + d];
    }
    out.push(Float32Array.from(sum, (v) => v / Math.max(count, 1e-9)));
  }
  return out;
}

export function normalize(vector) {
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.max(Math.sqrt(norm), 1e-12);
  return vector.map((v) => v / norm);
}

export function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-12);
}
