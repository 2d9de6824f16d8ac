"""Shared settings for the randomized reliability tests.

By default a bounded, derandomized subset runs (fast, the same cases every time, fit for CI).
``LABLEDGER_FUZZ=N`` runs N random examples per property instead, with a seed taken from
``LABLEDGER_TEST_SEED`` or drawn and printed, so a failure can be replayed exactly:

    LABLEDGER_FUZZ=2000 LABLEDGER_TEST_SEED=1234 pytest tests/reliability/test_properties.py
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

F = TypeVar("F", bound=Callable[..., Any])

LONG = int(os.environ.get("LABLEDGER_FUZZ", "0") or 0)
SEED = int(os.environ.get("LABLEDGER_TEST_SEED") or random.randrange(1 << 30))


def fuzz(examples: int) -> Callable[[F], F]:
    """``examples`` derandomized cases by default; ``LABLEDGER_FUZZ`` random ones, seeded."""

    def wrap(test: F) -> F:
        common = {
            "deadline": None,
            "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            "database": None,
        }
        if LONG:
            print(f"{test.__name__}: LABLEDGER_TEST_SEED={SEED}")
            wrapped = settings(max_examples=LONG, **common)(test)  # type: ignore[arg-type]
            return seed(SEED)(wrapped)  # type: ignore[no-any-return]
        return settings(max_examples=examples, derandomize=True, **common)(test)  # type: ignore[arg-type,return-value]

    return wrap
