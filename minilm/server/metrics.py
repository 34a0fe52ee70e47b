"""Prometheus metrics in the text exposition format (a few counters, two gauges, histograms).

Requests are counted by route template (``/model/{name}``, never the raw path: ``fast.route_of``
maps every path no route matches to ``UNMATCHED``), so the set of series is bounded by the routes;
label values are escaped as the text format requires all the same.
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
UNMATCHED = "unmatched"  # the route label of every path no route serves (404s)


def label(value) -> str:
    """A label value in the text format: backslash, double quote and line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Histogram:
    def __init__(self, buckets):
        self.buckets, self.counts, self.sum, self.count = buckets, [0] * len(buckets), 0.0, 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{b}"}} {c}' for b, c in zip(self.buckets, self.counts)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        out += [f"{name}_sum{{{labels}}} {self.sum}", f"{name}_count{{{labels}}} {self.count}"]
        return out


class Metrics:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.batch_size = _Histogram(BATCH_BUCKETS)
        self.batch_seconds = _Histogram(LATENCY_BUCKETS)
        self.tokens = 0
        self.queue_depth = 0
        self.batches_running = 0

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(route, status)] += 1
            self.latency.setdefault(route, _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_batch(self, texts: int, tokens: int, seconds: float) -> None:
        with self.lock:
            self.batch_size.observe(texts)
            self.batch_seconds.observe(seconds)
            self.tokens += tokens

    def render(self) -> str:
        with self.lock:
            lines = ["# TYPE minilm_requests_total counter"]
            counts = sorted(self.requests.items())
            lines += [f'minilm_requests_total{{route="{label(r)}",status="{s}"}} {n}' for (r, s), n in counts]
            lines += ["# TYPE minilm_errors_total counter"]
            lines += [f'minilm_errors_total{{route="{label(r)}",status="{s}"}} {n}' for (r, s), n in counts if s >= 400]
            lines += ["# TYPE minilm_queue_depth gauge", f"minilm_queue_depth {self.queue_depth}",
                      "# TYPE minilm_batches_running gauge", f"minilm_batches_running {self.batches_running}",
                      "# TYPE minilm_tokens_total counter", f"minilm_tokens_total {self.tokens}",
                      "# TYPE minilm_batch_size histogram", *self.batch_size.lines("minilm_batch_size"),
                      "# TYPE minilm_batch_seconds histogram", *self.batch_seconds.lines("minilm_batch_seconds"),
                      "# TYPE minilm_request_seconds histogram"]
            for route, hist in sorted(self.latency.items()):
                lines += hist.lines("minilm_request_seconds", f'route="{label(route)}"')
            return "\n".join(lines) + "\n"
