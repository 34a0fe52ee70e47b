"""The routes of the models with a head (``minilm serve --reranker MODEL`` / ``--classifier MODEL``).

- ``POST /rerank`` (text-embeddings-inference): ``{query, texts, raw_scores=false, return_text=false,
  truncate=true}`` -> ``[{index, score, text?}]``, best first; ``score`` is sigmoid(logit) as TEI gives
  it, the logit with ``raw_scores``.
- ``POST /v1/rerank`` (Cohere / Jina): ``{model?, query, documents: [str | {text}], top_n?,
  return_documents=false}`` -> ``{model, results: [{index, relevance_score, document?: {text}}], usage}``;
  ``relevance_score`` is sigmoid(logit), in [0, 1].
- ``POST /predict`` (TEI): ``{inputs: text | [text, text_pair] | a list of those, raw_scores=false,
  truncate=true}`` -> ``[{label, score}]`` (all labels, best first) per input: the classifier's
  softmax (sigmoid for one label), the logits with ``raw_scores``. Served by ``--classifier``, else by
  the reranker.

They run on the lean path (fast.Service) with the embedding routes' checks (routes.Checks, on the
same tokenizer threads): the API key, 413 for too many inputs, too long a text or more than
``--max-request-tokens`` tokens (counted on the pairs after truncation), 400 for a lone surrogate
naming the text, 429 when the queue is full, the same error bodies and status table; a large
request is tokenized off the event loop in pieces. Each model has its own Batcher (dynamic batching
by token budget on a worker thread).
"""

from __future__ import annotations

from concurrent.futures import Executor
from functools import partial

import numpy as np

from ..errors import ConfigError
from .batcher import Batcher
from .routes import Checks, _optional, too_long
from .status import HTTPError, dumps, invalid


class Encoded(list):
    """A pair's token ids (its length is its token count, as the Batcher counts) with its token types."""

    def __init__(self, ids: list[int], types: list[int]):
        super().__init__(ids)
        self.types = types


class HeadRunner:
    """What the Batcher calls: ``encode_ids`` of Encoded items -> logits ``[n, labels]``."""

    encode_packed = None  # padded calls: Batcher._encode then runs encode_ids

    def __init__(self, model):
        self.model, self.dim = model, model.num_labels

    def encode_ids(self, items: list[Encoded], normalize=None) -> np.ndarray:
        return self.model._run([(list(x), x.types) for x in items], batch_size=max(1, len(items)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def encode(model, items: list, truncate: bool, name) -> list[Encoded]:
    """Pairs (tuples) and texts to Encoded, in order; truncate=false refuses what the model would cut."""
    at = {kind: [i for i, x in enumerate(items) if isinstance(x, tuple) == kind] for kind in (True, False)}
    found = dict(zip(at[True], model.tokenizer.pair_encodings([items[i] for i in at[True]]) if at[True] else []))
    found |= dict(zip(at[False], model.tokenizer.encodings([items[i] for i in at[False]]) if at[False] else []))
    if not truncate:
        cut = [i for i in sorted(found) if found[i].overflowing]
        if cut:
            raise too_long(name(cut[0]), model.max_length)
    return [Encoded(found[i].ids, found[i].type_ids) for i in range(len(items))]


def make_head_routes(reranker, classifier, settings, metrics, pool: Executor) -> tuple[dict, list[Batcher]]:
    """{path: handler} for the lean path, and the batchers to start and stop with the app; ``pool``:
    the tokenizer threads of large requests, shared with the embedding routes."""
    routes, batchers = {}, []

    def batcher_of(model) -> Batcher:
        batcher = Batcher(HeadRunner(model), settings.max_batch_tokens, settings.max_wait_ms, settings.max_queue, metrics)
        batchers.append(batcher)
        return batcher

    def checks_of(model) -> Checks:
        return Checks(model, settings, pool, partial(encode, model))

    if reranker is not None:
        if reranker.num_labels != 1:
            raise ConfigError(f"{reranker.path}: --reranker needs a cross-encoder with one label; this one has "
                              f"{reranker.num_labels} ({', '.join(reranker.labels)}): serve it with --classifier")
        ranking, ranking_checks = batcher_of(reranker), checks_of(reranker)

        async def scores(body, documents_key: str):
            if not isinstance(body, dict) or "query" not in body or documents_key not in body:
                raise invalid(f"the body must be a JSON object with 'query' and '{documents_key}'")
            query, docs = body["query"], body[documents_key]
            if not isinstance(query, str):
                raise invalid("query must be a string")
            if not isinstance(docs, list) or not docs:
                raise HTTPError(400, f"{documents_key} must be a non-empty list") if isinstance(docs, list) else \
                    invalid(f"{documents_key} must be a list of strings")
            docs = [d["text"] if isinstance(d, dict) and isinstance(d.get("text"), str) else d for d in docs]
            if not all(isinstance(d, str) for d in docs):
                raise invalid(f"{documents_key} must be a list of strings" + (" or {'text': ...} objects" if documents_key == "documents" else ""))
            name = f"{documents_key}[{{}}]".format  # texts[3]: the pair of the query and that document
            ranking_checks.text(query, "query")
            ranking_checks.texts(docs, name, documents_key)
            truncate = _optional(body, "truncate", bool, True)
            encoded = await ranking_checks.encoded([(query, d) for d in docs], truncate, name)
            logits = await ranking.embed(encoded)
            return docs, logits[:, 0], sum(map(len, encoded))

        async def tei_rerank(body) -> bytes:
            docs, logits, _ = await scores(body, "texts")
            raw, with_text = _optional(body, "raw_scores", bool, False), _optional(body, "return_text", bool, False)
            values = logits if raw else sigmoid(logits)
            order = sorted(range(len(docs)), key=lambda i: -values[i])
            return dumps([{"index": i, "score": float(values[i])} | ({"text": docs[i]} if with_text else {}) for i in order])

        async def v1_rerank(body) -> bytes:
            docs, logits, tokens = await scores(body, "documents")
            top_n, with_docs = _optional(body, "top_n", int), _optional(body, "return_documents", bool, False)
            model = _optional(body, "model", str)
            if top_n is not None and top_n < 1:
                raise HTTPError(400, "top_n must be a positive integer")
            values = sigmoid(logits)
            order = sorted(range(len(docs)), key=lambda i: -values[i])[:top_n]
            results = [{"index": i, "relevance_score": float(values[i])} | ({"document": {"text": docs[i]}} if with_docs else {})
                       for i in order]
            return dumps({"model": model or reranker.path.name, "results": results,
                          "usage": {"total_tokens": tokens}, "meta": {"billed_units": {"search_units": 1}}})

        routes |= {"/rerank": tei_rerank, "/v1/rerank": v1_rerank}

    predictor = classifier if classifier is not None else reranker
    if predictor is not None:
        if predictor is reranker:
            predicting, checks = ranking, ranking_checks
        else:
            predicting, checks = batcher_of(predictor), checks_of(predictor)

        async def tei_predict(body) -> bytes:
            if not isinstance(body, dict) or "inputs" not in body:
                raise invalid("the body must be a JSON object with an 'inputs' field")
            raw_inputs = body["inputs"]
            single = isinstance(raw_inputs, str) or _is_pair(raw_inputs)
            items = [raw_inputs] if single else raw_inputs
            if not isinstance(items, list) or not items:
                raise invalid("inputs must be a text, a [text, text_pair] pair, or a non-empty list of them")
            if not all(isinstance(x, str) or _is_pair(x) for x in items):
                raise invalid("inputs must be a text, a [text, text_pair] pair, or a list of them")
            items = [tuple(x) if isinstance(x, list) else x for x in items]
            checks.count(len(items))
            for i, x in enumerate(items):
                for text, side in zip(x, (" text", " text_pair")) if isinstance(x, tuple) else ((x, ""),):
                    checks.text(text, f"input {i}{side}")
            encoded = await checks.encoded(items, _optional(body, "truncate", bool, True))
            logits = await predicting.embed(encoded)
            fn = "none" if _optional(body, "raw_scores", bool, False) else None
            values = predictor.function(fn)(logits)
            out = [[{"label": predictor.labels[j], "score": float(row[j])} for j in np.argsort(-row, kind="stable")]
                   for row in np.asarray(values, np.float32)]
            return dumps(out[0] if single else out)

        routes["/predict"] = tei_predict
    return routes, batchers


def _is_pair(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(t, str) for t in value)
