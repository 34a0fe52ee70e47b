// The rerank panel, shown when the server has a cross-encoder (minilm serve --reranker MODEL): the
// documents, one per line, ordered by POST /rerank {query, texts, return_text}, best first.
const $ = (id) => document.getElementById(id);
const EXAMPLE = { query: 'Where do cats sleep?', documents: ['The cat sits on the mat', 'The weather is sunny today',
  'A feline rests on the carpet', 'Python is a programming language'] };

export function startRerank(model, post, say) {
  $('rerank-panel').hidden = false;
  $('rerank-query').value = EXAMPLE.query;
  $('documents').value = EXAMPLE.documents.join('\n');
  say('rerank-status', `order documents by the cross-encoder ${model} (POST /rerank)`);
  $('rerank-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const texts = $('documents').value.split('\n').map((t) => t.trim()).filter(Boolean);
    if (!texts.length) return say('rerank-status', 'enter at least one document, one per line', true);
    say('rerank-status', 'reranking…');
    try {
      const ranked = await post('/rerank', { query: $('rerank-query').value, texts, return_text: true });
      $('ranked').replaceChildren(...ranked.map((r) => {
        const li = document.createElement('li');
        Object.assign(li.dataset, { index: String(r.index), score: r.score.toFixed(6) });
        li.append(Object.assign(document.createElement('span'), { className: 'score', textContent: r.score.toFixed(3) }), r.text);
        return li;
      }));
      say('rerank-status', `${ranked.length} documents ranked for “${$('rerank-query').value}”`);
    } catch (err) {
      say('rerank-status', `rerank failed: ${err.message}`, true);
    }
  });
}
