"""The OpenVINO executor's two compiled forms (runtime/openvino_exec.py): a call alone (one batch, or a
run() while no other is in flight) on the LATENCY form, batches in flight together on the THROUGHPUT
form, each compiled only when first needed, and vectors within bf16's bound of each other."""

from __future__ import annotations

import numpy as np
import pytest

import minilm
from minilm.runtime import precision as prec
import threading


pytestmark = pytest.mark.skipif(not prec.engine_installed(),
                                reason="could not import 'openvino' (pip install 'minilm[openvino]')")
TEXTS = ["the cat sat on the mat", "a dog is a good animal", "where is the cat", "the box is red",
         "a much longer sentence about cats, dogs and the red box they share in the old house"] * 8


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    return minilm.load(precision="bf16", threads=2)


def test_a_call_alone_runs_on_the_latency_form_and_batches_on_the_throughput_form(model):
    executor = model.executor("sentence_embedding", True)
    assert set(executor._compiled) == set()  # nothing compiled before a call needs it
    many = model.encode(TEXTS, batch_size=4)  # ten batches in flight, two at a time
    assert set(executor._compiled) == {"THROUGHPUT"}
    one = model.encode(TEXTS[:3])  # one batch
    assert set(executor._compiled) == {"LATENCY", "THROUGHPUT"}
    feeds = model._feeds(model.tokenizer.encode(TEXTS[:3]))
    (alone,) = executor.run_many([feeds])  # run_many of a single batch: LATENCY too
    assert np.abs(alone["sentence_embedding"] - one).max() <= 1e-6
    cosine = np.sum(one * many[:3], axis=1)
    assert cosine.min() >= 0.9999


def test_run_alone_is_latency_and_overlapping_runs_are_throughput(model):
    executor = model.executor("sentence_embedding", True)
    feeds = model._feeds(model.tokenizer.encode(TEXTS))
    alone = executor.run(feeds)["sentence_embedding"]
    assert set(executor._compiled) == {"LATENCY"}
    inside, release = threading.Event(), threading.Event()
    own_request = executor._request

    class Held:  # the first call stays in flight until the second has run
        def __init__(self, request):
            self.request = request

        def infer(self, *args, **kwargs):
            inside.set()
            release.wait(30)
            return self.request.infer(*args, **kwargs)

    def request(hint):
        return Held(own_request(hint)) if threading.current_thread() is first else own_request(hint)

    executor._request = request
    first = threading.Thread(target=executor.run, args=(feeds,))
    first.start()
    assert inside.wait(30)
    overlapping = executor.run(feeds)["sentence_embedding"]  # another thread's call is in flight
    release.set()
    first.join(30)
    assert set(executor._compiled) == {"LATENCY", "THROUGHPUT"}
    assert np.sum(alone * overlapping, axis=1).min() >= 0.9999


def test_one_thread_compiles_one_form(tmp_path, monkeypatch):
    """On one thread LATENCY and THROUGHPUT are the same one-stream model: it is compiled once."""
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    model = minilm.load(precision="bf16", threads=1)
    executor = model.executor("sentence_embedding", True)
    one, many = model.encode(TEXTS[:3]), model.encode(TEXTS, batch_size=4)
    assert set(executor._compiled) == {"THROUGHPUT"}
    assert np.sum(one * many[:3], axis=1).min() >= 0.9999
