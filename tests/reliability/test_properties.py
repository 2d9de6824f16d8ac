"""Issue 10, bad input, property-based: random metric names and values, steps, configs, tags,
names, notes, artifact names and metadata, and CLI argument lists. Every input either gets a
clear error (a LabledgerError, TypeError or ValueError at the call) or is stored exactly as
given; background work never breaks, every storable point lands and every other one is
counted in ``dropped``. Bounded by default; ``LABLEDGER_FUZZ=N`` for long seeded runs
(``tests/reliability/fuzz.py``)."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import labledger as ll
from labledger.errors import LabledgerError
from tests.reliability.fuzz import fuzz

CLEAR_ERRORS = (LabledgerError, TypeError, ValueError)
_EXAMPLES: dict[str, int] = {}


def count_example(record_property: Any, name: str) -> None:
    """Count one example (``scripts/reliability_report.py`` reads the largest count)."""
    _EXAMPLES[name] = _EXAMPLES.get(name, 0) + 1
    record_property("examples", _EXAMPLES[name])


keys = st.one_of(
    st.text(min_size=0, max_size=300),
    st.sampled_from(["loss", "a/b", "x.y", "ünï", "\x00", " ", "%", "_"]),
    st.none(),
    st.integers(),
    st.tuples(st.text(max_size=3)),
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.lists(st.floats(), max_size=3),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(autouse=True)
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABLEDGER_STRICT", "0")  # the mode training scripts run in


def _storable(value: Any) -> bool:
    if value is None:
        return True  # stored as NaN, with a warning
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return not isinstance(value, str) or _is_float_text(value)


def _is_float_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _valid_key(key: Any) -> bool:
    return isinstance(key, str) and 0 < len(key) <= 250 and "\x00" not in key


@fuzz(examples=30)
@given(st.lists(st.dictionaries(keys, values, max_size=4), min_size=1, max_size=12))
def test_random_metrics_every_point_lands_or_is_counted(
    record_property: Any, points: list[dict[Any, Any]]
) -> None:
    count_example(record_property, "test_random_metrics_every_point_lands_or_is_counted")
    with ll.init(project="p", capture=False) as run:
        for data in points:
            run.log(data)
    view = ll.Api().run(run.id)
    assert view.status is ll.RunStatus.FINISHED
    dropped = view.captures().get("dropped", {}).get("points", {})
    logged: dict[str, int] = {}
    expected: dict[str, list[float]] = {}
    for step, data in enumerate(points):
        for key, value in data.items():
            name = key if isinstance(key, str) else repr(key)
            logged[name] = logged.get(name, 0) + 1
            if _valid_key(key) and _storable(value):
                expected.setdefault(name, []).append(step)
    for name, count in logged.items():
        stored = view.history(name).steps.tolist() if name in expected else []
        assert stored == expected.get(name, []), name
        assert len(stored) + dropped.get(name, 0) == count, (name, dropped)


@fuzz(examples=30)
@given(
    st.lists(
        st.one_of(
            st.integers(min_value=-(2**70), max_value=2**70),
            st.floats(),
            st.sampled_from([0, 1, 2**63 - 1, 2**63, -(2**63)]),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_random_steps_are_kept_exactly_or_refused(record_property: Any, steps: list[Any]) -> None:
    count_example(record_property, "test_random_steps_are_kept_exactly_or_refused")
    with ll.init(project="p", capture=False) as run:
        kept = []
        for i, step in enumerate(steps):
            try:
                run.log({"loss": float(i)}, step=step)
            except CLEAR_ERRORS:
                continue  # a fractional step is refused at the call
            if isinstance(step, float):
                if not step.is_integer():
                    continue
                step = int(step)
            if -(2**63) <= step < 2**63:
                kept.append((step, float(i)))
    history = ll.Api().run(run.id).history("loss")
    got = sorted(zip(history.steps.tolist(), history.values.tolist(), strict=True))
    assert got == sorted(kept)


@fuzz(examples=30)
@given(
    name=st.one_of(st.none(), st.text(max_size=300)),
    notes=st.one_of(st.none(), st.text(max_size=2000)),
    tags=st.lists(st.text(max_size=60), max_size=6),
    config=st.dictionaries(st.text(max_size=30), json_values, max_size=6),
)
def test_random_run_fields_round_trip_or_are_refused(
    name: str | None,
    notes: str | None,
    tags: list[str],
    config: dict[str, Any],
    record_property: Any,
) -> None:
    count_example(record_property, "test_random_run_fields_round_trip_or_are_refused")
    try:
        run = ll.init(project="p", name=name, notes=notes, tags=tags, config=config, capture=False)
    except CLEAR_ERRORS:
        assert ll.current_run() is None
        return
    run.log({"loss": 1.0})
    run.finish()
    view = ll.Api().run(run.id)
    assert view.status is ll.RunStatus.FINISHED
    if name:
        assert view.name == name
    assert view.record.notes == notes or (not notes and not view.record.notes)
    assert set(view.record.tags) == set(tags)
    assert _secret_free(view.config) == _secret_free(config)


def _secret_free(config: Any) -> Any:
    """``config`` with values under secret-looking keys blanked (they are redacted)."""
    from labledger.capture.redact import is_secret_key

    if isinstance(config, dict):
        return {k: "*" if is_secret_key(k) else _secret_free(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_secret_free(v) for v in config]
    return config


@fuzz(examples=25)
@given(
    name=st.text(max_size=200),
    metadata=st.dictionaries(st.text(max_size=30), json_values, max_size=5),
    aliases=st.lists(st.text(max_size=20), max_size=3),
)
def test_random_artifact_names_and_metadata(
    tmp_path: Path, name: str, metadata: dict[str, Any], aliases: list[str], record_property: Any
) -> None:
    count_example(record_property, "test_random_artifact_names_and_metadata")
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(100))  # new content: a new version (same content dedups)
    with ll.init(project="p", capture=False) as run:
        try:
            version = run.log_artifact(path, name=name, metadata=metadata, aliases=aliases)
        except CLEAR_ERRORS:
            return
    handle = ll.Api().artifact(f"{version.name}:v{version.version}")
    assert handle.version.metadata == metadata  # type: ignore[attr-defined]
    for alias in aliases:
        assert ll.Api().artifact(f"{version.name}:{alias}").version.version == version.version  # type: ignore[attr-defined]


WORDS = st.sampled_from(
    [
        "runs", "ls", "show", "diff", "artifacts", "sync", "check", "share", "gc", "export",
        "--filter", "--sort", "--limit", "--project", "--json", "--help", "-", "--", "'",
        "metrics.loss > 1", "tags contains '%'", "name = 'x'", "(", ")", "\x00", "9" * 25,
    ]
)  # fmt: skip
ARGS = st.lists(st.one_of(WORDS, st.text(max_size=12)), min_size=1, max_size=6)


@fuzz(examples=60)
@given(args=ARGS)
def test_random_cli_arguments_never_trace_back(
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    record_property: Any,
) -> None:
    count_example(record_property, "test_random_cli_arguments_never_trace_back")
    from labledger.cli.main import main

    assume(not {"ui", "server", "serve"} & set(args))
    monkeypatch.setattr("sys.argv", ["labledger", *args])
    code: Any = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err, (args, out.err)
    if code not in (0, None):
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:"), (args, out.err)


def test_strategies_cover_the_edges() -> None:
    """The value strategy reaches the inputs issue 10 lists (a sanity check, not a property)."""
    assert not _storable(10**400) and _storable(None) and not _storable("x")
    assert _storable(math.inf) and not _valid_key("") and not _valid_key(None)


def test_same_content_new_metadata_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Found by the artifact property: the same bytes logged again with other metadata gave back
    the existing version and dropped the new metadata without a word."""
    path = tmp_path / "weights.bin"
    path.write_bytes(b"w")
    with ll.init(project="p", capture=False) as run:
        first = run.log_artifact(path, name="m", metadata={"epoch": 1})
        with caplog.at_level(logging.WARNING, "labledger"):
            again = run.log_artifact(path, name="m", metadata={"epoch": 2})
            run.log_artifact(path, name="m", metadata={"epoch": 1})
    assert again.version == first.version and again.metadata == {"epoch": 1}
    assert caplog.text.count("new metadata is not recorded") == 1
