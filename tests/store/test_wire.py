"""Round trips of the wire encoding: bit-exact metric columns, records, edge-case values."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labledger.entities import MetricSeries, MetricSummary, RunRecord, RunStatus
from labledger.store.base import ArtifactVersion, MetricColumns, RunBatch
from labledger.store.wire import (
    decode,
    decode_batch,
    decode_series,
    encode_batch,
    encode_run,
    encode_series,
    encode_version,
)

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
keys = st.text(min_size=1, max_size=30)
steps = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@st.composite
def columns(draw: st.DrawFn) -> MetricColumns:
    values = draw(st.lists(floats, max_size=40))
    n = len(values)
    step_list = draw(st.lists(steps, min_size=n, max_size=n))
    times = draw(st.lists(floats, min_size=n, max_size=n))
    return MetricColumns(
        np.asarray(step_list, dtype=np.int64),
        np.asarray(values, dtype=np.float64),
        np.asarray(times, dtype=np.float64),
    )


@settings(max_examples=200, deadline=None)
@given(
    metrics=st.dictionaries(keys, columns(), max_size=5),
    summary=st.dictionaries(keys, json_values, max_size=3),
    outputs=st.lists(st.tuples(st.sampled_from(["stdout", "stderr"]), floats, st.text())),
    config=st.dictionaries(keys, json_values, max_size=3),
)
def test_batch_round_trip_is_bit_exact(
    metrics: dict[str, MetricColumns],
    summary: dict[str, object],
    outputs: list[tuple[str, float, str]],
    config: dict[str, object],
) -> None:
    batch = RunBatch(metrics=metrics, summary=summary, outputs=outputs, config=config)
    back = decode_batch(encode_batch(batch))
    assert list(back.metrics) == list(metrics)
    for key, col in metrics.items():
        got = back.metrics[key]
        assert got.steps.dtype == np.int64 and got.values.dtype == np.float64
        assert got.steps.tobytes() == col.steps.tobytes()
        assert got.values.tobytes() == col.values.tobytes()  # NaN payloads and -0.0 included
        assert got.times.tobytes() == col.times.tobytes()
    assert back.summary == summary and back.config == config
    assert [(s, x) for s, _, x in back.outputs] == [(s, x) for s, _, x in outputs]


def test_empty_batch_round_trips_empty() -> None:
    back = decode_batch(encode_batch(RunBatch()))
    assert not back and back.metrics == {} and back.outputs == []


def test_metric_columns_are_buffers_not_objects_per_point() -> None:
    n = 100_000
    batch = RunBatch(metrics={"loss": MetricColumns(np.arange(n), np.random.rand(n), np.zeros(n))})
    assert len(encode_batch(batch)) < 24 * n + 100


def test_user_values_become_json_safe_like_the_sql_stores() -> None:
    batch = RunBatch(
        summary={"f1": np.float32(0.5), "bad": math.inf, "n": np.int64(3)},
        config={"shape": (1, 2), "lr": np.float64(0.1)},
        changes={"status": RunStatus.FINISHED, "ended_at": 2.0},
    )
    back = decode_batch(encode_batch(batch))
    assert back.summary == {"f1": 0.5, "bad": "inf", "n": 3}
    assert back.config == {"shape": [1, 2], "lr": 0.1}
    assert back.changes == {"status": "finished", "ended_at": 2.0}


@settings(max_examples=50, deadline=None)
@given(
    key=keys,
    tags=st.lists(st.text(max_size=10), max_size=4),
    config=st.dictionaries(keys, json_values, max_size=4),
    last=floats,
)
def test_run_record_round_trip(
    key: str, tags: list[str], config: dict[str, object], last: float
) -> None:
    summary = MetricSummary(key, last, None, 1.0, 3, 2**62, None)
    run = RunRecord(
        "r1",
        "prøject",
        "名前",
        RunStatus.CRASHED,
        1.5,
        tags=tags,
        config=config,
        metrics={key: summary},
        pid=7,
    )
    back = decode(encode_run(run), RunRecord)
    assert back.status is RunStatus.CRASHED and back.config == config and back.tags == tags
    got = back.metrics[key]
    assert (got.last == last) or (
        math.isnan(last) and got.last is not None and math.isnan(got.last)
    )
    assert back.metrics[key].last_step == 2**62


def test_artifact_version_and_series_round_trip() -> None:
    version = ArtifactVersion(
        "m",
        3,
        "model",
        "d" * 64,
        10,
        [{"path": "f", "size": 10}],
        {"acc": 0.9},
        aliases=["best"],
    )
    assert decode(encode_version(version), ArtifactVersion) == version
    series = MetricSeries("x", np.arange(3), np.array([np.nan, np.inf, -np.inf]), None)
    back = decode_series(encode_series(series))
    assert back.times is None and back.values.tobytes() == series.values.tobytes()


def test_records_and_batches_without_points_do_not_load_numpy() -> None:
    """The team client's runs queries and summary-only flushes travel without numpy."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from labledger.entities import RunRecord\n"
        "from labledger.store.base import RunBatch\n"
        "from labledger.store.http import HttpStore\n"
        "from labledger.store.wire import decode, decode_batch, encode_batch, encode_run\n"
        "run = RunRecord(run_id='r1', project='p', name='n', config={'lr': 0.1})\n"
        "assert decode(encode_run(run), RunRecord) == run\n"
        "batch = RunBatch(summary={'acc': 0.5}, outputs=[('stdout', 1.0, 'x')])\n"
        "assert decode_batch(encode_batch(batch)).summary == {'acc': 0.5}\n"
        "print(json.dumps('numpy' in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) is False
