"""Helpers of the fault suite: run a call within a time and allocation bound, and allow only our errors."""

from __future__ import annotations

import contextlib
import signal
import tracemalloc

from minilm.errors import MinilmError


class Hang(Exception):
    """The call ran past its time bound."""


@contextlib.contextmanager
def bounded(seconds: float = 10.0, max_bytes: int = 256 << 20):
    """Fail if the block runs longer than ``seconds`` (SIGALRM, main thread) or allocates more than
    ``max_bytes`` at its peak (tracemalloc, which NumPy reports to)."""
    def alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        peak = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()
    assert peak <= max_bytes, f"allocated {peak / 2**20:.0f} MiB at the peak, above {max_bytes / 2**20:.0f} MiB"


def ours_or_nothing(call, *args, **kwargs):
    """``call``'s result, or None when it raised one of our errors; any other exception fails the test."""
    try:
        return call(*args, **kwargs)
    except MinilmError:
        return None
