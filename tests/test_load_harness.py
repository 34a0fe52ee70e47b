"""benchmarks/load.py's pure parts: the server's CPU time from /proc and the offline measurement."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import load  # noqa: E402


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc only")
def test_cpu_seconds_counts_this_process():
    before, start = load.cpu_seconds(os.getpid()), time.process_time()
    while time.process_time() - start < 0.3:
        pass
    spent = load.cpu_seconds(os.getpid()) - before
    assert 0.2 <= spent <= 1.0  # clock ticks of 10 ms


def test_cpu_seconds_of_a_gone_process_is_nan():
    assert math.isnan(load.cpu_seconds(2 ** 22 + 12345))  # above Linux's pid_max


def test_offline_rate_and_single_call_percentiles():
    calls = []

    class Model:
        def encode(self, texts, batch_size=32):
            calls.append(len(texts))
            time.sleep(0.002 if len(texts) == 1 else 0.05)
            return np.zeros((len(texts), 4), np.float32)

    rate, cpu = load.offline_rate(Model(), ["a"] * 400)
    p50, p99 = load.single_calls(Model(), ["a"] * 400)
    assert calls[0] == 400 and calls[1:] == [1] * 300          # the whole list, then 300 one-text calls
    assert 100 < rate <= 8000 and 0 <= cpu < 1e-3                # 400 texts in >= 50 ms; sleeping costs no CPU
    assert 0.002 <= p50 <= p99 < 0.5


def test_paired_ratios_compare_each_window_with_the_offline_runs_beside_it():
    # offline 100, window 80, offline 120, window 55, offline 100: the host slowed then recovered
    assert load.paired_ratios([100, 120, 100], [88, 55]) == [0.8, 0.5]


def test_paired_ratios_need_one_offline_run_more_than_windows():
    with pytest.raises(ValueError, match="one offline rate more than windows, got 2 and 2"):
        load.paired_ratios([100, 120], [88, 55])


def test_offline_rate_runs_the_whole_list_once():
    calls = []

    class Model:
        def encode(self, texts, batch_size=32):
            calls.append((len(texts), batch_size))
            time.sleep(0.05)
            return np.zeros((len(texts), 4), np.float32)

    rate, cpu = load.offline_rate(Model(), ["a"] * 100)
    assert calls == [(100, 32)] and 100 < rate <= 2000 and 0 <= cpu < 1e-3
