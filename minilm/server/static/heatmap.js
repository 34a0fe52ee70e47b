// The cosine similarity heatmap as an HTML table: a diverging colour scale from -1 (blue) through
// 0 (white) to 1 (red), matplotlib's RdBu_r (as `minilm similarity --plot`), row labels "i. text",
// column labels i. Each cell carries data-i, data-j and data-value (6 decimals) for tests.
const RDBU_R = ['#053061', '#2166ac', '#4393c3', '#92c5de', '#d1e5f0', '#f7f7f7', '#fddbc7', '#f4a582', '#d6604d', '#b2182b', '#67001f'];

function rgb(hex) { return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)); }

export function colour(value) {
  const x = (Math.max(-1, Math.min(1, value)) + 1) / 2 * (RDBU_R.length - 1);
  const i = Math.min(Math.floor(x), RDBU_R.length - 2);
  const [a, b] = [rgb(RDBU_R[i]), rgb(RDBU_R[i + 1])];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * (x - i)));
  return `rgb(${c.join(', ')})`;
}

export function renderHeatmap(container, texts, matrix) {
  const el = (tag, props = {}, ...children) => {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  };
  const table = el('table', { id: 'heatmap-table' });
  table.append(el('thead', {}, el('tr', {}, el('th'), ...texts.map((_, j) => el('th', { scope: 'col', title: texts[j] }, String(j + 1))))));
  const body = el('tbody');
  matrix.forEach((row, i) => {
    const label = el('th', { scope: 'row', title: texts[i] }, `${i + 1}. ${texts[i]}`);
    const cells = row.map((value, j) => {
      const td = el('td', { className: 'cell', title: `${texts[i]}\n${texts[j]}\ncosine ${value.toFixed(4)}` }, value.toFixed(3));
      Object.assign(td.dataset, { i: String(i), j: String(j), value: value.toFixed(6) });
      td.style.background = colour(value);
      td.style.color = Math.abs(value) > 0.6 ? '#fff' : '#111';
      return td;
    });
    body.append(el('tr', {}, label, ...cells));
  });
  table.append(body);
  const bar = el('div', { className: 'bar' });
  bar.style.background = `linear-gradient(to right, ${RDBU_R.join(', ')})`;
  container.replaceChildren(table, el('div', { className: 'legend' }, el('span', {}, '-1'), bar, el('span', {}, '1'), el('span', {}, 'cosine similarity')));
}

export function cosineMatrix(vectors) {
  const unit = vectors.map((v) => { const n = Math.hypot(...v) || 1e-12; return Array.from(v, (x) => x / n); });
  return unit.map((a) => unit.map((b) => a.reduce((s, x, k) => s + x * b[k], 0)));
}
