"""The Store contract: every backend (SQLite, PostgreSQL) must pass these tests."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.errors import (
    AmbiguousRunId,
    FilterError,
    LabledgerError,
    PartiallyApplied,
    RunExists,
    RunNotFound,
)
from labledger.store import open_store
from labledger.store.base import ArtifactVersion, MetricColumns, RunBatch, Store, merge_batches


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    yield opened
    opened.close()


def make_run(store: Store, project: str = "p", **fields: object) -> RunRecord:
    record = RunRecord(run_id=new_run_id(), project=project, name="n", created_at=time.time())
    for key, value in fields.items():
        setattr(record, key, value)
    store.create_run(record)
    return record


def columns(values: list[float], start: int = 0) -> MetricColumns:
    n = len(values)
    return MetricColumns(
        np.arange(start, start + n), np.asarray(values, dtype=float), np.full(n, time.time())
    )


def test_create_and_get_by_id_prefix_and_name(store: Store) -> None:
    record = make_run(store, name="baseline", tags=["a", "b"], group="sweep-1")
    fetched = store.get_run(record.run_id)
    assert (fetched.name, fetched.tags, fetched.group) == ("baseline", ["a", "b"], "sweep-1")
    assert fetched.status is RunStatus.RUNNING
    assert store.get_run(record.run_id[:5]).run_id == record.run_id
    assert store.get_run("baseline").run_id == record.run_id


def test_unknown_and_ambiguous_refs(store: Store) -> None:
    with pytest.raises(RunNotFound):
        store.get_run("zzzzzzzz")
    with pytest.raises(RunNotFound):
        store.get_run("'; drop table runs; --")
    first = make_run(store, name="twin")
    make_run(store, name="twin")
    with pytest.raises(AmbiguousRunId):
        store.get_run("twin")
    assert store.get_run(first.run_id).name == "twin"


def test_update_run_allows_only_known_fields(store: Store) -> None:
    record = make_run(store)
    store.update_run(record.run_id, {"status": "finished", "ended_at": 5.0, "exit_code": 0})
    fetched = store.get_run(record.run_id)
    assert (fetched.status, fetched.ended_at, fetched.exit_code) == (RunStatus.FINISHED, 5.0, 0)
    with pytest.raises(LabledgerError, match="project"):
        store.update_run(record.run_id, {"project": "other"})
    with pytest.raises(RunNotFound):
        store.update_run("nosuchid", {"status": "finished"})


def test_config_is_kept_nested_and_flattened_for_queries(store: Store) -> None:
    record = make_run(store, config={"optimizer": {"name": "adam", "lr": 0.01}, "layers": [64, 32]})
    store.log_config(record.run_id, {"batch_size": 32})
    fetched = store.get_run(record.run_id)
    assert fetched.config["optimizer"] == {"name": "adam", "lr": 0.01}
    assert fetched.config["batch_size"] == 32
    hits = store.search_runs(filter="config.optimizer.lr = 0.01 and config.optimizer.name = 'adam'")
    assert [r.run_id for r in hits] == [record.run_id]


def test_metric_chunks_append_and_summaries_accumulate(store: Store) -> None:
    record = make_run(store)
    store.write_metrics(record.run_id, {"loss": columns([3.0, 1.0, 2.0])})
    store.write_metrics(record.run_id, {"loss": columns([0.5, float("nan")], start=3)})
    series = store.read_metric(record.run_id, "loss")
    assert series.steps.tolist() == [0, 1, 2, 3, 4]
    assert series.values[:4].tolist() == [3.0, 1.0, 2.0, 0.5] and math.isnan(series.values[4])
    summary = store.get_run(record.run_id).metrics["loss"]
    assert (summary.min, summary.max, summary.count, summary.last_step) == (0.5, 3.0, 5, 4)
    assert summary.last is None  # the last point was NaN
    assert store.metric_keys(record.run_id) == ["loss"]
    assert len(store.read_metric(record.run_id, "missing")) == 0
    without_times = store.read_metric(record.run_id, "loss", times=False)
    assert without_times.times is None
    assert without_times.values.tobytes() == series.values.tobytes()


def test_summary_overrides_final_metric_and_keeps_text(store: Store) -> None:
    record = make_run(store)
    store.write_metrics(record.run_id, {"acc": columns([0.5, 0.7])})
    store.set_summary(record.run_id, {"acc": 0.9, "f1": 0.8, "best_epoch": "7", "bad": math.inf})
    fetched = store.get_run(record.run_id)
    assert fetched.final_metrics()["acc"] == 0.9
    assert fetched.metrics["acc"].count == 2
    assert fetched.summary["best_epoch"] == "7"
    assert fetched.summary["bad"] == "inf"
    assert [r.run_id for r in store.search_runs(filter="metrics.f1 >= 0.8")] == [record.run_id]


def test_search_filters_sorts_and_pages(store: Store) -> None:
    ids = []
    for i, opt in enumerate(["adam", "sgd", "adam", "rmsprop"]):
        record = make_run(store, config={"optimizer": opt, "lr": 10.0**-i}, tags=[opt])
        store.write_metrics(record.run_id, {"acc": columns([0.5 + i / 10])})
        ids.append(record.run_id)
    make_run(store, project="other")
    best_first = store.search_runs("p", order_by=["-metrics.acc"])
    assert [r.run_id for r in best_first] == ids[::-1]
    adam = store.search_runs("p", filter="config.optimizer = 'adam'", order_by=["metrics.acc"])
    assert [r.run_id for r in adam] == [ids[0], ids[2]]
    assert [r.run_id for r in store.search_runs("p", filter="tags contains 'sgd'")] == [ids[1]]
    assert len(store.search_runs("p", filter="config.optimizer in ('sgd', 'rmsprop')")) == 2
    page = store.search_runs("p", order_by=["-metrics.acc"], limit=2, offset=1)
    assert [r.run_id for r in page] == [ids[2], ids[1]]
    assert store.count_runs("p", "metrics.acc > 0.55") == 3
    assert store.list_projects() == ["other", "p"]
    assert [r.run_id for r in store.search_runs(filter="metrics.acc is null")] != []
    with pytest.raises(FilterError):
        store.search_runs(filter="metrics.acc > 'high'")


def test_captures_are_deduplicated_documents(store: Store) -> None:
    a, b = make_run(store), make_run(store)
    packages = {"packages": {"numpy": "2.0.0", "torch": "2.13.0"}}
    store.put_captures(a.run_id, {"environment": packages})
    store.put_captures(b.run_id, {"environment": packages, "git": {"present": False}})
    store.put_captures(b.run_id, {"git": {"present": True, "commit": "abc"}})
    assert store.get_captures(a.run_id) == {"environment": packages}
    assert store.get_captures(b.run_id)["git"] == {"present": True, "commit": "abc"}
    # two sections of one batch with the same content: one document, in one statement
    store.put_captures(a.run_id, {"gpu": {"devices": []}, "determinism": {"devices": []}})
    assert store.get_captures(a.run_id)["determinism"] == {"devices": []}


def test_console_output_keeps_order(store: Store) -> None:
    record = make_run(store)
    store.append_output(record.run_id, [("stdout", 1.0, "hello\n"), ("stderr", 2.0, "warn\n")])
    store.append_output(record.run_id, [("stdout", 3.0, "bye\n")])
    assert [t for _, _, t in store.read_output(record.run_id)] == ["hello\n", "warn\n", "bye\n"]


def test_reopening_an_existing_store_keeps_data(store_uri: str) -> None:
    first = open_store(store_uri)
    record = make_run(first)
    first.close()
    second = open_store(store_uri)
    assert second.get_run(record.run_id).run_id == record.run_id
    second.close()


finite_or_special = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    values=st.lists(finite_or_special, min_size=1, max_size=50),
    start=st.integers(min_value=-(2**62), max_value=2**62),
)
def test_metric_round_trip_is_bit_exact(
    store: Store, key: str, values: list[float], start: int
) -> None:
    record = make_run(store)
    steps = np.arange(len(values), dtype=np.int64) + start
    store.write_metrics(
        record.run_id, {key: MetricColumns(steps, np.asarray(values), np.zeros(len(values)))}
    )
    series = store.read_metric(record.run_id, key)
    assert series.steps.tolist() == steps.tolist()
    assert np.asarray(values).tobytes() == series.values.tobytes()


def test_a_batch_with_a_known_idempotency_key_is_applied_once(store: Store) -> None:
    record = make_run(store)
    batch = RunBatch(metrics={"loss": columns([1.0, 2.0])}, summary={"f1": 0.5})
    assert store.write_batch_once(record.run_id, f"{record.run_id}:a.1", batch)
    assert not store.write_batch_once(record.run_id, f"{record.run_id}:a.1", batch)
    assert store.write_batch_once(record.run_id, f"{record.run_id}:a.2", batch)
    assert store.read_metric(record.run_id, "loss").values.tolist() == [1.0, 2.0, 1.0, 2.0]
    with pytest.raises(RunNotFound):
        store.write_batch_once("nosuchid", "nosuchid:a.1", batch)


def test_creating_a_run_twice_raises_run_exists(store: Store) -> None:
    record = make_run(store)
    with pytest.raises(RunExists):
        store.create_run(record)


def test_merged_batches_apply_with_all_their_keys_or_not_at_all(store: Store) -> None:
    record = make_run(store)
    rid = record.run_id
    first = RunBatch(metrics={"loss": columns([1.0])}, config={"a": 1})
    second = RunBatch(metrics={"loss": columns([2.0], start=1)}, summary={"f1": 0.5})
    merged = merge_batches([first, second])
    assert store.write_batch_once(rid, [f"{rid}:a.1", f"{rid}:a.2"], merged)
    assert not store.write_batch_once(rid, f"{rid}:a.2", second)  # replayed one by one
    assert not store.write_batch_once(rid, [f"{rid}:a.1", f"{rid}:a.2"], merged)
    with pytest.raises(PartiallyApplied):
        store.write_batch_once(rid, [f"{rid}:a.2", f"{rid}:a.3"], merged)
    assert store.write_batch_once(rid, f"{rid}:a.3", RunBatch(metrics={"loss": columns([3.0], 2)}))
    assert store.read_metric(rid, "loss").values.tolist() == [1.0, 2.0, 3.0]
    fetched = store.get_run(rid)
    assert fetched.config == {"a": 1} and fetched.summary == {"f1": 0.5}


def _version(run_id: str | None, name: str, digest: str) -> ArtifactVersion:
    entry = {"path": "f.bin", "size": 3, "digest": digest}
    return ArtifactVersion(name, 0, "model", digest, 3, [entry], run_id=run_id)


def test_delete_run_removes_everything_recorded_for_it(store: Store) -> None:
    doomed = make_run(store, config={"lr": 0.1})
    kept = make_run(store, config={"lr": 0.2})
    store.write_metrics(doomed.run_id, {"loss": columns([3.0, 2.0])})
    store.put_captures(doomed.run_id, {"git": {"commit": "abc"}})
    store.put_captures(kept.run_id, {"git": {"commit": "abc"}})  # the same shared document
    store.append_output(doomed.run_id, [("stdout", time.time(), "hello\n")])
    store.write_batch_once(doomed.run_id, f"{doomed.run_id}:0", RunBatch(summary={"acc": 1}))
    data = store.artifacts.add_version(_version(kept.run_id, "data", "d" * 64))
    store.artifacts.record_use(doomed.run_id, "data", data.version)
    store.artifacts.add_version(_version(kept.run_id, "model", "a" * 64))
    produced = store.artifacts.add_version(_version(doomed.run_id, "model", "b" * 64))
    store.artifacts.set_alias("model", "best", produced.version)

    gone = store.delete_run(doomed.run_id)

    assert [v.ref for v in gone] == ["model:v1"] and "best" in gone[0].aliases
    with pytest.raises(RunNotFound):
        store.get_run(doomed.run_id)
    assert [r.run_id for r in store.search_runs()] == [kept.run_id]
    assert store.search_runs(filter="config.lr = 0.1") == []
    assert [v.ref for v in store.artifacts.list_versions("model")] == ["model:v0"]
    assert store.artifacts.get_version("model").version == 0  # latest moved back
    assert store.artifacts.consumers("data", data.version) == []
    assert store.get_captures(kept.run_id) == {"git": {"commit": "abc"}}
    assert store.artifacts.referenced_digests() == {"a" * 64, "d" * 64}
    with pytest.raises(RunNotFound):
        store.delete_run(doomed.run_id)


def test_delete_version_moves_latest_and_drops_its_aliases_and_uses(store: Store) -> None:
    run = make_run(store)
    for digest in ("a", "b", "c"):
        store.artifacts.add_version(_version(run.run_id, "model", digest * 64))
    store.artifacts.set_alias("model", "best", 2)
    store.artifacts.record_use(run.run_id, "model", 2)
    gone = store.artifacts.delete_version("model", 2)
    assert gone.ref == "model:v2" and sorted(gone.aliases) == ["best", "latest"]
    assert store.artifacts.get_version("model").version == 1
    with pytest.raises(LabledgerError):
        store.artifacts.get_version("model", "best")
    assert store.artifacts.used_by(run.run_id) == []
    store.artifacts.delete_version("model", 0)
    store.artifacts.delete_version("model", 1)
    assert store.artifacts.list_versions("model") == []


def _step_pattern(rng: np.random.Generator, start: int) -> np.ndarray:
    n = int(rng.integers(1, 300))
    kind = rng.integers(0, 5)
    if kind == 0:  # one by one, as a training loop logs
        return np.arange(n, dtype=np.int64) + start
    if kind == 1:  # every 10 steps
        return np.arange(n, dtype=np.int64) * 10 + start
    if kind == 2:  # one by one but for a repeated step
        steps = np.arange(n, dtype=np.int64) + start
        return np.insert(steps, int(rng.integers(0, n)), steps[int(rng.integers(0, n))])
    if kind == 3:  # descending
        return start - np.arange(n, dtype=np.int64)
    return rng.integers(start, start + 3 * n, n)  # any order


@pytest.mark.parametrize("seed", range(4))
def test_chunks_of_any_step_pattern_read_back_exactly(store: Store, seed: int) -> None:
    """Chunks whose steps run one by one are stored without them (revision 0008); a series
    of such chunks and others reads back point for point, whole and by step range."""
    rng = np.random.default_rng(seed)
    record = make_run(store)
    parts = []
    for _ in range(8):
        steps = _step_pattern(rng, int(rng.integers(-(2**40), 2**40)))
        part = MetricColumns(steps, rng.normal(size=len(steps)), rng.random(len(steps)))
        parts.append(part)
        store.write_metrics(record.run_id, {"m": part})
    steps = np.concatenate([p.steps for p in parts])
    values = np.concatenate([p.values for p in parts])
    times = np.concatenate([p.times for p in parts])
    series = store.read_metric(record.run_id, "m")
    assert series.steps.tolist() == steps.tolist()
    assert series.values.tobytes() == values.tobytes()
    assert series.times is not None and series.times.tobytes() == times.tobytes()
    for _ in range(5):
        lo, hi = sorted(int(x) for x in rng.choice(steps, 2))
        part = store.read_metric(record.run_id, "m", start=lo, end=hi)
        keep = (steps >= lo) & (steps <= hi)
        assert part.steps.tolist() == steps[keep].tolist()
        assert part.values.tobytes() == values[keep].tobytes()
