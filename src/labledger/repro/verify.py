"""Whether run B reproduces run A: final metrics and metric curves within tolerances.

A value matches when ``|a - b| <= atol + rtol * |a|`` (numpy's ``isclose``; NaN matches NaN,
an infinity only itself). ``--tol KEY=X`` (``KEY`` may be a glob: ``val/*``) replaces both with an
absolute tolerance ``X`` for matching keys. Curves must have the same steps; their values are
compared point by point. ``system/*`` metrics (CPU, memory, GPU load) are ignored by default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from labledger.errors import LabledgerError
from labledger.repro.explain import Cause, explain
from labledger.sdk.api import RunView
from labledger.store.base import Store

__all__ = [
    "ArtifactCheck",
    "MetricCheck",
    "Tolerance",
    "Verification",
    "parse_tolerances",
    "verify_runs",
]

SYSTEM_PREFIX = "system/"


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-5
    atol: float = 1e-8
    per_metric: tuple[tuple[str, float], ...] = ()  # (glob, absolute tolerance), first wins

    def for_key(self, key: str) -> tuple[float, float]:
        """(rtol, atol) for ``key``."""
        for pattern, tolerance in self.per_metric:
            if fnmatchcase(key, pattern):
                return 0.0, tolerance
        return self.rtol, self.atol


def parse_tolerances(items: Iterable[str]) -> tuple[tuple[str, float], ...]:
    """``["val/acc=0.01", "loss=1e-4"]`` → ``(("val/acc", 0.01), ("loss", 0.0001))``."""
    parsed = []
    for item in items:
        key, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or not key or not math.isfinite(number) or number < 0:
            raise LabledgerError(f"--tol expects KEY=NUMBER (a non-negative number), got {item!r}")
        parsed.append((key, number))
    return tuple(parsed)


@dataclass(frozen=True)
class MetricCheck:
    """One metric compared: its final value or its whole curve."""

    key: str
    kind: str  # "final" or "curve"
    ok: bool
    a: Any = None
    b: Any = None
    detail: str = ""

    @property
    def abs_diff(self) -> float | None:
        if _is_number(self.a) and _is_number(self.b):
            return abs(float(self.b) - float(self.a))
        return None

    @property
    def rel_diff(self) -> float | None:
        diff = self.abs_diff
        if diff is None or not _is_number(self.a) or float(self.a) == 0:
            return None
        return diff / abs(float(self.a))


@dataclass(frozen=True)
class ArtifactCheck:
    """One artifact both runs logged, by name: the same bytes (digest) or not."""

    name: str
    a_digest: str | None
    b_digest: str | None

    @property
    def identical(self) -> bool:
        return self.a_digest is not None and self.a_digest == self.b_digest


@dataclass(frozen=True)
class Verification:
    a_id: str
    b_id: str
    checks: tuple[MetricCheck, ...]
    causes: tuple[Cause, ...] = field(default=())
    artifacts: tuple[ArtifactCheck, ...] = field(default=())

    @property
    def reproduced(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[MetricCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def compared(self) -> int:
        return len({c.key for c in self.checks})

    @property
    def likely_cause(self) -> Cause | None:
        return self.causes[0] if self.causes else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(a)


def _as_float(value: Any) -> Any:
    """Non-finite numbers come back from JSON summaries as strings: ``"nan"``, ``"inf"``."""
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value


def _selected(keys: Iterable[str], include_system: bool, ignore: Sequence[str]) -> list[str]:
    return sorted(
        k
        for k in set(keys)
        if (include_system or not k.startswith(SYSTEM_PREFIX))
        and not any(fnmatchcase(k, pattern) for pattern in ignore)
    )


def _final(key: str, a: Any, b: Any, present: tuple[bool, bool], tol: Tolerance) -> MetricCheck:
    if not present[0] or not present[1]:
        side = "A" if not present[0] else "B"
        return MetricCheck(key, "final", False, a, b, f"missing in run {side}")
    a, b = _as_float(a), _as_float(b)
    if _is_number(a) and _is_number(b):
        rtol, atol = tol.for_key(key)
        return MetricCheck(key, "final", _close(float(a), float(b), rtol, atol), a, b)
    return MetricCheck(key, "final", a == b, a, b)


def _curve(key: str, a: RunView, b: RunView, tol: Tolerance) -> MetricCheck | None:
    import numpy as np

    sa, sb = a.series(key), b.series(key)
    if len(sa) == 0 and len(sb) == 0:
        return None
    if len(sa) == 0 or len(sb) == 0:
        side = "A" if len(sa) == 0 else "B"
        return MetricCheck(key, "curve", False, len(sa), len(sb), f"no curve in run {side}")
    if len(sa) != len(sb) or not np.array_equal(sa.steps, sb.steps):
        detail = f"{len(sa)} points vs {len(sb)}, at different steps"
        return MetricCheck(key, "curve", False, len(sa), len(sb), detail)
    rtol, atol = tol.for_key(key)
    va, vb = np.asarray(sa.values, dtype=float), np.asarray(sb.values, dtype=float)
    close = np.isclose(vb, va, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return MetricCheck(key, "curve", True, len(sa), len(sb), f"{len(sa)} points match")
    bad = np.flatnonzero(~close)
    gaps = np.abs(vb - va)
    gaps = np.where(np.isfinite(gaps), gaps, np.inf)
    worst = int(np.argmax(np.where(close, -1.0, gaps)))
    detail = (
        f"{len(bad)} of {len(sa)} points differ from step {int(sa.steps[bad[0]])}; "
        f"largest |Δ| {float(gaps[worst]):.3g} at step {int(sa.steps[worst])}"
    )
    return MetricCheck(key, "curve", False, len(sa), len(sb), detail)


def verify_runs(
    a: RunView,
    b: RunView,
    store: Store,
    tolerance: Tolerance | None = None,
    *,
    include_system: bool = False,
    ignore: Sequence[str] = (),
    curves: bool = True,
) -> Verification:
    """Compare run ``b`` with run ``a``; when they differ, rank the recorded differences that
    could explain it (``Verification.causes``)."""
    tol = tolerance or Tolerance()
    finals_a, finals_b = a.metrics, b.metrics
    checks: list[MetricCheck] = []
    for key in _selected([*finals_a, *finals_b], include_system, ignore):
        present = (key in finals_a, key in finals_b)
        checks.append(_final(key, finals_a.get(key), finals_b.get(key), present, tol))
    if curves:
        keys = _selected([*a.metric_keys(), *b.metric_keys()], include_system, ignore)
        for key in keys:
            check = _curve(key, a, b, tol)
            if check is not None:
                checks.append(check)
    artifacts = compare_artifacts(store, a.id, b.id)
    verification = Verification(a.id, b.id, tuple(checks), artifacts=artifacts)
    if verification.reproduced:
        return verification
    return Verification(a.id, b.id, tuple(checks), tuple(explain(a, b, store)), artifacts)


def compare_artifacts(store: Store, a_id: str, b_id: str) -> tuple[ArtifactCheck, ...]:
    """The artifacts each run logged, by name, with the digests of their versions."""

    def produced(run_id: str) -> dict[str, str]:
        found = {v.name: v.digest for v in store.artifacts.produced_by(run_id)}
        logged = store.get_captures(run_id).get("logged_artifacts", {})
        found.update({name: str(info["digest"]) for name, info in logged.items()})
        return found

    produced_a, produced_b = produced(a_id), produced(b_id)
    return tuple(
        ArtifactCheck(name, produced_a.get(name), produced_b.get(name))
        for name in sorted(set(produced_a) | set(produced_b))
    )
