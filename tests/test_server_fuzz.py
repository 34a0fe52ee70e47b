"""Schemathesis against the server's own /openapi.json, every route: valid and invalid bodies, no 500,
every error in the documented shape (the ErrorResponse schema the document declares for 4XX / 5XX),
the documented status codes and content types. Then hypothesis with what a schema does not generate:
bytes that are not JSON or not UTF-8, lone surrogates, nesting past the parsers' limits. Bounded:
FUZZ_EXAMPLES cases per route and mode (``MINILM_FUZZ_EXAMPLES`` raises it for a longer run)."""

from __future__ import annotations

import json
import os

import httpx
import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from test_server import running  # noqa: E402

from minilm.server.app import Settings, create_app  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("MINILM_FUZZ_EXAMPLES", "40"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@pytest.fixture(scope="module")
def live(ort_embedder):
    limits = Settings(max_inputs=16, max_input_chars=2000, max_request_tokens=4096, max_body_bytes=65536, api_key=None)
    with running(create_app(ort_embedder, limits)) as url:
        yield url


OPERATIONS = [("/v1/embeddings", "POST"), ("/embed", "POST"), ("/similarity", "POST"), ("/tokenize", "POST"),
              ("/health", "GET"), ("/info", "GET"), ("/metrics", "GET"), ("/search", "POST")]


@pytest.fixture(scope="module")
def api(live):
    return schemathesis.openapi.from_url(live + "/openapi.json")


def test_the_fuzzed_operations_are_every_route_of_the_document(api):
    assert sorted((op.ok().path, op.ok().method.upper()) for op in api.get_all_operations()) == sorted(OPERATIONS)


@pytest.mark.parametrize("path,method,mode", [(p, m, mode) for p, m in OPERATIONS for mode in GenerationMode
                                              if mode == GenerationMode.POSITIVE or m == "POST"])  # a GET has nothing to negate
def test_every_route_answers_in_its_documented_shape(api, live, path, method, mode):
    @given(api[path][method].as_strategy(mode))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(case):
        response = case.call(base_url=live, timeout=30)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["code"] == response.status_code and error["message"]
    fuzz()


ANY_CHAR = st.characters(exclude_categories=())  # lone surrogates included: json.dumps sends them as "\ud800"
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(ANY_CHAR, max_size=40),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
BODIES = st.one_of(
    st.binary(max_size=200),  # not JSON, bad UTF-8
    st.builds(lambda v: json.dumps({"input": v}).encode(), JSON_VALUES),
    st.builds(lambda v: json.dumps({"inputs": v}).encode(), JSON_VALUES),
    st.builds(lambda a, b: json.dumps({"inputs": {"source_sentence": a, "sentences": b}}).encode(), JSON_VALUES, JSON_VALUES),
    st.builds(lambda a, b: json.dumps({"query": a, "k": b}).encode(), JSON_VALUES, JSON_VALUES),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 3000)),  # nesting past orjson's limit and json's stack
)


@pytest.mark.parametrize("path", [p for p, m in OPERATIONS if m == "POST"])
def test_hostile_bodies_get_an_error_of_ours_never_a_500(live, path):
    @given(BODIES)
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(body):
        r = httpx.post(live + path, content=body, headers={"content-type": "application/json"}, timeout=30)
        assert r.status_code < 500, (r.status_code, r.text)
        if r.status_code >= 400:
            assert r.json()["error"]["code"] == r.status_code and r.json()["error"]["message"]
    fuzz()
