"""Logging: the standard ``logging`` module, under the ``minilm`` logger with one child per area.

    minilm.sources   where a model was looked for, what was tried, where it was found
    minilm.loading   what was loaded: shape, pooling, max length, backend, precision
    minilm.runtime   executors: provider and device chosen and why, precision, thread counts
    minilm.cache     the optimised-model cache: hits, misses, entries written or discarded
    minilm.jobs      streamed jobs: resumed and written parts
    minilm.server    start-up, shutdown, request errors

The library adds no handler but a ``NullHandler``: a program's own logging configuration decides
what is shown (``logging.getLogger("minilm").setLevel(logging.INFO)`` and a handler, or
``logging.basicConfig(level=logging.INFO)``). The command line shows WARNING and above on stderr,
INFO with ``-v``, DEBUG with ``-vv`` or ``--debug``, or the level named by ``MINILM_LOG_LEVEL``
(``debug``, ``info``, ``warning``, ``error`` or a number; the flags win). No text, query or
request body is logged at INFO or above; DEBUG names counts and lengths, never content.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Iterator

ROOT = "minilm"
ENV = "MINILM_LOG_LEVEL"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
          "critical": logging.CRITICAL}


def get(area: str) -> logging.Logger:
    """The logger of one area: ``minilm.<area>``."""
    return logging.getLogger(f"{ROOT}.{area}")


def level_of(verbose: int = 0, debug: bool = False, env: str | None = None) -> int:
    """The command line's level: --debug or -vv DEBUG, -v INFO, else MINILM_LOG_LEVEL, else WARNING.
    A MINILM_LOG_LEVEL that is no level raises ValueError naming the choices."""
    if debug or verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return logging.INFO
    value = (os.environ.get(ENV, "") if env is None else env).strip()
    if not value:
        return logging.WARNING
    if value.isdigit():
        return int(value)
    if value.lower() not in LEVELS:
        raise ValueError(f"{ENV}={value!r} is not a log level: use one of {', '.join(LEVELS)} or a number")
    return LEVELS[value.lower()]


class _Stderr(logging.StreamHandler):
    """A StreamHandler on whatever ``sys.stderr`` is when a record is written (a redirected or captured stream)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it: the live sys.stderr is used instead
        pass


@contextlib.contextmanager
def to_stderr(level: int) -> Iterator[logging.Handler]:
    """For the command line: ``minilm`` records at ``level`` and above on stderr, while the block runs;
    the logger's handlers, level and propagation are as they were afterwards."""
    logger = logging.getLogger(ROOT)
    handler, old_level = _Stderr(), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
