"""benchmarks/load.py's pure parts: the server's CPU time from /proc and the offline measurement.

No bound here depends on how fast or busy the machine is: the CPU time read from /proc is compared
with the process's own count of it over the same stretch, and the rates and latencies run on a fake
clock that only the fake model advances."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import load  # noqa: E402


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc only")
def test_cpu_seconds_counts_this_process():
    tick = 1 / os.sysconf("SC_CLK_TCK")
    before, start = load.cpu_seconds(os.getpid()), time.process_time()
    while time.process_time() - start < 0.3:
        pass
    spent, counted = load.cpu_seconds(os.getpid()) - before, time.process_time() - start
    # the same CPU time (all threads of this process) read two ways: /proc rounds to clock ticks
    assert abs(spent - counted) <= 2 * tick + 0.01, (spent, counted)


def test_cpu_seconds_of_a_gone_process_is_nan():
    assert math.isnan(load.cpu_seconds(2 ** 22 + 12345))  # above Linux's pid_max


class FakeClock:
    """perf_counter / process_time for load.py: they move only when the model says it worked."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def spend(self, wall: float, cpu: float = 0.0) -> None:
        self.wall, self.cpu = self.wall + wall, self.cpu + cpu

    def module(self):
        return SimpleNamespace(perf_counter=lambda: self.wall, process_time=lambda: self.cpu)


@pytest.fixture()
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(load, "time", fake.module())
    return fake


def test_offline_rate_and_single_call_percentiles(clock):
    calls = []

    class Model:
        def encode(self, texts, batch_size=32):
            calls.append(len(texts))
            # the whole list: 0.05 s (0.04 s of CPU); one text: 2 ms, but every 100th call 50 ms
            clock.spend(0.05, 0.04) if len(texts) > 1 else clock.spend(0.05 if len(calls) % 100 == 0 else 0.002)
            return np.zeros((len(texts), 4), np.float32)

    rate, cpu = load.offline_rate(Model(), ["a"] * 400)
    p50, p99 = load.single_calls(Model(), ["a"] * 400)
    assert calls[0] == 400 and calls[1:] == [1] * 300          # the whole list, then 300 one-text calls
    assert rate == pytest.approx(400 / 0.05) and cpu == pytest.approx(0.04 / 400)
    assert p50 == pytest.approx(0.002) and p99 == pytest.approx(np.percentile([0.002] * 297 + [0.05] * 3, 99))


def test_paired_ratios_compare_each_window_with_the_offline_runs_beside_it():
    # offline 100, window 80, offline 120, window 55, offline 100: the host slowed then recovered
    assert load.paired_ratios([100, 120, 100], [88, 55]) == [0.8, 0.5]


def test_paired_ratios_need_one_offline_run_more_than_windows():
    with pytest.raises(ValueError, match="one offline rate more than windows, got 2 and 2"):
        load.paired_ratios([100, 120], [88, 55])


def test_offline_rate_runs_the_whole_list_once(clock):
    calls = []

    class Model:
        def encode(self, texts, batch_size=32):
            calls.append((len(texts), batch_size))
            clock.spend(0.05)
            return np.zeros((len(texts), 4), np.float32)

    rate, cpu = load.offline_rate(Model(), ["a"] * 100)
    assert calls == [(100, 32)] and rate == pytest.approx(2000) and cpu == 0
