"""Skip a test whose outside tool (node, chromium, playwright, npm packages) is missing, or fail it
when MINILM_REQUIRE_WEB=1 (.ci/run sets it: there these tests must run, not skip)."""

from __future__ import annotations

import os

import pytest


def require(available: bool, reason: str) -> None:
    if available:
        return
    if os.environ.get("MINILM_REQUIRE_WEB") == "1":
        pytest.fail(f"MINILM_REQUIRE_WEB=1 but {reason}")
    pytest.skip(reason)
