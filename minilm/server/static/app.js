// The playground: sentences -> cosine similarity heatmap (embedded by the server, or in this
// browser with onnxruntime-web or WebNN, then checked against the server), search over the
// server's --index, and reranking by its --reranker (rerank.js).
import { cosineMatrix, renderHeatmap } from './heatmap.js';
import { startRerank } from './rerank.js';

const EXAMPLES = ['This is a sample sentence to encode', 'The cat sits on the mat', 'A feline rests on the carpet',
  'The weather is sunny today', 'Python is a programming language'];  // minilm.compare.EXAMPLES
const $ = (id) => document.getElementById(id);
const engines = {};  // engine name -> promise of (texts -> vectors)
let info = {};

function headers() {
  const key = $('api-key').value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function post(url, body) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers() }, body: JSON.stringify(body) });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error?.message || `HTTP ${response.status}`);
  return data;
}

const serverEmbed = (texts) => post('/embed', { inputs: texts, normalize: true });

function engine(name) {
  if (name === 'server') return Promise.resolve(serverEmbed);
  if (!engines[name]) {
    engines[name] = import('./browser.js').then((m) => (name === 'ort' ? m.ortEmbedder(headers()) : m.webnnEmbedder(headers(), info.webnn_seq_len)));
    engines[name].catch(() => delete engines[name]);
  }
  return engines[name];
}

function say(id, text, error = false) {
  $(id).textContent = text;
  $(id).className = error ? 'error' : '';
}

async function compare() {
  const texts = $('texts').value.split('\n').map((t) => t.trim()).filter(Boolean);
  if (texts.length < 2) return say('compare-status', 'enter at least two sentences, one per line', true);
  const name = $('engine').value;
  say('compare-status', name === 'server' ? 'embedding…' : 'loading the model into this browser (about 90 MB, once)…');
  try {
    const started = performance.now();
    const vectors = await (await engine(name))(texts);
    const ms = performance.now() - started;
    renderHeatmap($('heatmap'), texts, cosineMatrix(vectors));
    let note = `${texts.length} sentences embedded by ${$('engine').selectedOptions[0].textContent} in ${ms.toFixed(0)} ms`;
    if (name !== 'server') {  // the same vectors as the server's?
      const reference = await serverEmbed(texts);
      const worst = Math.min(...vectors.map((v, i) => cosineMatrix([v, reference[i]])[0][1]));
      note += `; against the server's vectors: lowest cosine ${worst.toFixed(6)}`;
      $('heatmap').dataset.agreement = worst.toFixed(8);
    }
    $('heatmap').dataset.engine = name;
    say('compare-status', note);
  } catch (err) {
    say('compare-status', `failed: ${err.message}`, true);
  }
}

async function search(event) {
  event.preventDefault();
  say('search-status', 'searching…');
  try {
    const data = await post('/search', { query: $('query').value, k: Number($('k').value) || 5 });
    $('results').replaceChildren(...data.results.map((r) => {
      const li = document.createElement('li');
      Object.assign(li.dataset, { id: String(r.id), score: r.score.toFixed(6) });
      const score = Object.assign(document.createElement('span'), { className: 'score', textContent: r.score.toFixed(3) });
      li.append(score, r.text);
      return li;
    }));
    say('search-status', `${data.results.length} results for “${data.query}”`);
  } catch (err) {
    say('search-status', `search failed: ${err.message}`, true);
  }
}

// 'available' (a context was made), 'unsupported' (navigator.ml exists, no context), or 'missing'
async function webnnStatus() {
  if (!('ml' in navigator) || typeof navigator.ml?.createContext !== 'function') {
    return { state: 'missing', text: 'not available in this browser (navigator.ml is missing)' };
  }
  try {
    await navigator.ml.createContext();
    return { state: 'available', text: 'navigator.ml is available' };
  } catch (err) {
    return { state: 'unsupported', text: `navigator.ml exists but cannot make a context (${err.message})` };
  }
}

async function start() {
  $('texts').value = EXAMPLES.join('\n');
  const webnn = await webnnStatus();
  document.body.dataset.webnn = webnn.state;
  $('webnn-status').replaceChildren(Object.assign(document.createElement('span'),
    { className: webnn.state === 'available' ? 'ok' : 'no', textContent: `WebNN: ${webnn.text}` }));
  $('engine').querySelector('[value=webnn]').disabled = webnn.state !== 'available';
  info = await (await fetch('/playground.json')).json();
  $('model').textContent = `model: ${info.model} (${info.dim} dims)`;
  if (!info.vendored) {
    const ort = $('engine').querySelector('[value=ort]');
    ort.disabled = true;
    ort.textContent += ' — not installed: run scripts/vendor-web.sh';
  }
  $('search-form').querySelectorAll('input, button').forEach((e) => { e.disabled = !info.search; });
  say('search-status', info.search ? 'search the server’s index (minilm serve --index PATH)'
    : 'search is off: start the server with --index PATH (an index built by minilm index)');
  $('compare').addEventListener('click', compare);
  $('search-form').addEventListener('submit', search);
  if (info.reranker) startRerank(info.reranker, post, say);
  document.body.dataset.ready = 'true';
  await compare();
}

start();
