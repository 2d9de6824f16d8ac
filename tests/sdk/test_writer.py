"""The writer's columnizing (the fast path equals the key-by-key path) and its loop (a
backlog is drained back to back, without loss)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labledger.errors import StoreUnavailable
from labledger.sdk.point_columns import Columnizer
from labledger.sdk.writer import Writer
from labledger.store.base import RunBatch


def columnize(points: list[tuple[float, int, dict[str, Any]]]) -> dict[str, tuple[list, list]]:
    columns = Columnizer().columnize(points)
    return {k: (c.steps.tolist(), c.values.tolist()) for k, c in columns.items()}


def naive(points: list[tuple[float, int, dict[str, Any]]]) -> dict[str, tuple[list, list]]:
    result: dict[str, tuple[list, list]] = {}
    for _, step, data in points:
        for key, value in data.items():
            steps, values = result.setdefault(key, ([], []))
            steps.append(step)
            values.append(float(value))
    return result


keys = st.sampled_from(["loss", "acc", "val/loss", "lr"])
point_dicts = st.dictionaries(keys, st.floats(allow_nan=False, width=64), min_size=1)


@given(st.lists(point_dicts, min_size=1, max_size=30))
def test_columns_match_a_point_by_point_reference(dicts: list[dict[str, float]]) -> None:
    points = [(float(i), i, d) for i, d in enumerate(dicts)]
    assert columnize(points) == naive(points)


def test_numpy_and_bool_values_and_non_scalars(caplog: pytest.LogCaptureFixture) -> None:
    points = [
        (0.0, 0, {"a": np.float32(0.5), "flag": True}),
        (1.0, 1, {"a": np.int64(2), "flag": False}),
        (2.0, 2, {"a": np.zeros(3), "flag": True}),
    ]
    result = columnize(points)
    assert result["flag"] == ([0, 1, 2], [1.0, 0.0, 1.0])
    assert result["a"] == ([0, 1], [0.5, 2.0])  # the array point is skipped, with a warning
    assert "non-numeric" in caplog.text
    vectors = [(0.0, 0, {"v": np.zeros(3), "x": 1.0}), (1.0, 1, {"v": np.ones(3)})]
    assert columnize(vectors) == {"x": ([0], [1.0])}
    assert "not a scalar" in caplog.text


def by_key(points: list[tuple[float, int, dict[str, Any]]]) -> dict[str, tuple[list, list, list]]:
    """The writer's key-by-key path (no fast path), as plain lists."""
    steps = np.array([p[1] for p in points], dtype=np.int64)
    times = np.array([p[0] for p in points], dtype=np.float64)
    columns = Columnizer()._by_key([p[2] for p in points], steps, times)
    return {k: (c.steps.tolist(), c.values.tolist(), c.times.tolist()) for k, c in columns.items()}


def fast(points: list[tuple[float, int, dict[str, Any]]]) -> dict[str, tuple[list, list, list]]:
    columns = Columnizer().columnize(points)
    return {k: (c.steps.tolist(), c.values.tolist(), c.times.tolist()) for k, c in columns.items()}


def same(a: dict[str, tuple[list, list, list]], b: dict[str, tuple[list, list, list]]) -> bool:
    """Equal columns, NaN equal to NaN (and the same keys in the same order)."""
    if list(a) != list(b):
        return False
    return all(
        a[k][0] == b[k][0]
        and a[k][2] == b[k][2]
        and np.array_equal(np.array(a[k][1]), np.array(b[k][1]), equal_nan=True)
        for k in a
    )


any_float = st.floats(width=64)  # NaN and +-inf included
key_sets = st.lists(
    st.lists(st.sampled_from(["loss", "acc", "val/loss", "lr", "m/0", "m/1"]), unique=True),
    min_size=1,
    max_size=10,
)


@settings(deadline=None, max_examples=60)  # no per-example time limit on a busy machine
@given(key_sets, st.data())
def test_fast_columns_equal_the_key_by_key_path(sets: list[list[str]], data: st.DataObject) -> None:
    """On random flushes (a few alternating key sets in any order, NaN and +-inf values,
    steps out of order and repeated) the fast path gives the key-by-key path's columns."""
    n = data.draw(st.integers(1, 60))
    points = []
    for i in range(n):
        keys = data.draw(st.sampled_from(sets))
        step = data.draw(st.integers(-5, 40))
        points.append((1000.0 + i, step, {k: data.draw(any_float) for k in keys}))
    assert same(fast(points), by_key(points))


def test_fast_path_shapes_one_key_set_many_and_too_many() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(size=(300, 20))
    values[rng.random(values.shape) < 0.05] = np.nan
    values[0, 0], values[1, 1] = np.inf, -np.inf
    steps = rng.permutation(300)
    names = [f"m{j}" for j in range(20)]
    rows = [dict(zip(names, row, strict=True)) for row in values.tolist()]
    one = [(float(i), int(steps[i]), rows[i]) for i in range(300)]
    assert same(fast(one), by_key(one))
    single = [(float(i), i, {"loss": float(values[i, 0])}) for i in range(300)]
    assert same(fast(single), by_key(single))
    # every other point in reverse key order, then more key sets than the grouped path takes
    reordered = [(t, s, dict(reversed(d.items())) if s % 2 else d) for t, s, d in one]
    assert same(fast(reordered), by_key(reordered))
    many = [(float(i), i, {f"k{i % 12}": 1.0, "all": float(i)}) for i in range(300)]
    assert same(fast(many), by_key(many))
    with_empty = [(0.0, 0, {}), (1.0, 1, {"a": 1.0}), (2.0, 2, {}), (3.0, 3, {"a": 2.0})]
    assert fast(with_empty) == {"a": ([1, 3], [1.0, 2.0], [1.0, 3.0])}


def test_none_in_a_uniform_flush_still_warns(caplog: pytest.LogCaptureFixture) -> None:
    points = [(0.0, 0, {"a": 1.0, "b": None}), (1.0, 1, {"a": 2.0, "b": 3.0})]
    result = fast(points)
    assert result["a"][1] == [1.0, 2.0]
    assert np.isnan(result["b"][1][0]) and result["b"][1][1] == 3.0
    assert "got None" in caplog.text


class _SlowStore:
    """Takes every batch, each write taking longer than the writer's flush interval."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.steps: list[int] = []
        self.fail = False

    def write_batch(self, run_id: str, batch: RunBatch) -> None:
        time.sleep(self.delay)
        if self.fail:
            raise StoreUnavailable("down for the test")
        if "x" in batch.metrics:
            self.steps.extend(batch.metrics["x"].steps.tolist())


class _Waits(threading.Event):
    """The writer's stop event, recording how long the loop asks to sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if threading.current_thread().name == "labledger-writer":  # not the column thread
            self.asked.append(-1.0 if timeout is None else timeout)
        return super().wait(timeout)


def _run_writer(store: _SlowStore, flushes: int) -> _Waits:
    writer = Writer(store, "r", flush_interval=0.01)  # type: ignore[arg-type]
    waits = writer._stop = _Waits()
    # Queued before the thread starts: on a busy machine the first flush may otherwise come
    # before the test logs anything, and an empty flush asks for the rest of its interval.
    for step in range(1000):
        writer.points.append((0.0, step, {"x": float(step)}))
    writer.start()
    step = 1000
    deadline = time.monotonic() + 60  # a safety net, not a measurement
    while len(waits.asked) <= flushes and time.monotonic() < deadline:
        writer.points.append((0.0, step, {"x": float(step)}))
        step += 1
        if step % 1000 == 0:
            time.sleep(0.001)  # let the writer in: a backlog keeps arriving
    store.fail = False  # a failing store is back before the run ends
    writer.close()
    return waits


def test_a_backlog_is_drained_back_to_back_without_loss() -> None:
    """A flush that takes longer than the interval is followed by the next one at once
    (the loop asks to wait 0), and every point lands once, in order."""
    store = _SlowStore(delay=0.05)
    waits = _run_writer(store, flushes=4)
    assert waits.asked[0] == 0.01  # the first flush comes on its interval
    assert all(w == 0.0 for w in waits.asked[1:4])
    assert store.steps == list(range(len(store.steps))) and len(store.steps) > 0


def test_a_failing_store_is_retried_on_the_interval() -> None:
    store = _SlowStore(delay=0.02)
    store.fail = True
    waits = _run_writer(store, flushes=3)
    assert waits.asked[:3] == [0.01, 0.01, 0.01]
    assert store.steps == list(range(len(store.steps))) and len(store.steps) > 0


class _GatedStore(_SlowStore):
    """A store whose opening waits for the test."""

    def __init__(self) -> None:
        super().__init__(delay=0.0)
        self.gate = threading.Event()

    def open(self) -> _GatedStore:
        self.gate.wait()
        return self


def test_points_logged_while_the_store_opens_wait_as_columns_and_all_land() -> None:
    """Until the store is open the queue is turned into columns every interval (not kept
    as one dict per point); once it opens, every point is written once, in order."""
    store = _GatedStore()
    writer = Writer(store.open, "r", flush_interval=0.01)
    writer.start()
    deadline = time.monotonic() + 60  # a safety net, not a measurement
    step = 0
    while len(writer._drained) < 3 and time.monotonic() < deadline:
        writer.points.append((0.0, step, {"x": float(step)}))
        step += 1
        time.sleep(0.001)
    assert len(writer._drained) >= 3 and store.steps == []  # drained into columns, unwritten
    store.gate.set()
    writer.close()
    assert store.steps == list(range(step))


def test_the_runs_of_a_process_share_one_column_thread() -> None:
    """Two runs whose stores are still opening: both queues become columns, on one thread
    (a thread per run cost a start per run), which a later run uses again."""

    def columns_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "labledger-columns"]

    def log_until_drained(writers: list[Writer]) -> int:
        deadline = time.monotonic() + 60  # a safety net, not a measurement
        step = 0
        while any(len(w._drained) < 2 for w in writers) and time.monotonic() < deadline:
            for writer in writers:
                writer.points.append((0.0, step, {"x": float(step)}))
            step += 1
            time.sleep(0.001)
        assert all(len(w._drained) >= 2 for w in writers)
        return step

    stores = [_GatedStore(), _GatedStore(), _GatedStore()]
    writers = [Writer(store.open, f"r{i}", flush_interval=0.01) for i, store in enumerate(stores)]
    for writer in writers[:2]:
        writer.start()
    steps = log_until_drained(writers[:2])
    (thread,) = columns_threads()
    for store, writer in zip(stores[:2], writers[:2], strict=True):
        store.gate.set()
        writer.close()
        assert store.steps == list(range(steps))

    writers[2].start()
    steps = log_until_drained(writers[2:])
    assert columns_threads() == [thread]
    stores[2].gate.set()
    writers[2].close()
    assert stores[2].steps == list(range(steps))


def test_a_background_flush_takes_whole_drains_up_to_its_limit_with_their_sequence(
    tmp_path: Path,
) -> None:
    """A limited flush writes the oldest drains (at least one) and the journal sequence number
    of its last point, so a crash between two such flushes replays exactly the rest."""
    from labledger.sdk.mmap_journal import PointJournal
    from labledger.sdk.point_journal import first_seq

    writer = Writer(None, "r")  # type: ignore[arg-type]
    journal = PointJournal(tmp_path, "r", writer.points.append)
    writer.attach(journal)
    for drain in range(3):
        for step in range(drain * 10, drain * 10 + 10):
            journal.append((0.0, step, {"x": 1.0}))
        writer._drain_queues()
    writer.points.append((0.0, 99, {"x": 1.0}))  # not journaled: queued in memory only

    first = writer._collect(None, limit=15)
    assert first.metrics["x"].steps.tolist() == list(range(10))
    assert first.captures["journal"] == {"seq": first_seq(1) + 10 - 1}
    writer._pending = RunBatch()
    second = writer._collect(None, limit=5)  # one drain over the limit is taken whole
    assert second.metrics["x"].steps.tolist() == list(range(10, 20))
    assert second.captures["journal"] == {"seq": first_seq(1) + 20 - 1}
    writer._pending = RunBatch()
    rest = writer._collect(None)
    assert rest.metrics["x"].steps.tolist() == [*range(20, 30), 99]
    assert rest.captures["journal"] == {"seq": first_seq(1) + 30 - 1}
    assert writer._drained == [] and not writer.points
    journal.close(remove=True)


def test_merged_drains_keep_keys_logged_together_on_shared_steps() -> None:
    from labledger.sdk.columnize import merge

    writer = Writer(None, "r")  # type: ignore[arg-type]
    for drain in range(3):
        steps = range(drain * 5, drain * 5 + 5)
        writer.points.extend((float(s), s, {"a": 1.0 * s, "b": -1.0 * s}) for s in steps)
        writer._drain_queues()
    writer.points.append((15.0, 15, {"a": 15.0}))  # "a" alone: steps of its own
    writer._drain_queues()
    merged = merge([columns for columns, _, _, _ in writer._drained])
    assert merged["a"].steps.tolist() == list(range(16))
    assert merged["b"].steps.tolist() == list(range(15))
    assert merged["b"].values.tolist() == [-1.0 * s for s in range(15)]
    first_three = merge([columns for columns, _, _, _ in writer._drained[:3]])
    assert first_three["a"].steps is first_three["b"].steps
    assert first_three["a"].times is first_three["b"].times


class _Batches:
    """Records every batch written: its values, steps of ``m0``, journal mark and changes."""

    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[tuple[int, list[int], Any, dict[str, Any]]] = []
        self.fail_first = fail_first

    def write_batch(self, run_id: str, batch: RunBatch) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise StoreUnavailable("down for the test")
        values = sum(len(c.values) for c in batch.metrics.values())
        steps = batch.metrics["m0"].steps.tolist() if "m0" in batch.metrics else []
        self.batches.append((values, steps, batch.captures.get("journal"), dict(batch.changes)))


def _backlog(tmp_path: Path, store: _Batches, monkeypatch: pytest.MonkeyPatch) -> Writer:
    """A writer whose journal holds 20,000 steps x 5 keys nobody drained (its thread never
    ran), with drains of 16 KiB and background flushes of 2,000 values."""
    from labledger.sdk import writer as writer_module
    from labledger.sdk.mmap_journal import PointJournal

    monkeypatch.setattr(writer_module, "DRAIN_BYTES", 16 << 10)
    monkeypatch.setattr(writer_module, "FLUSH_VALUES", 2_000)
    writer = Writer(store, "r")  # type: ignore[arg-type]
    journal = PointJournal(tmp_path, "r", writer.points.append, segment_bytes=64 << 10)
    writer.attach(journal)
    for step in range(20_000):
        journal.append((0.0, step, {f"m{k}": float(step) for k in range(5)}))
    return writer


def test_a_backlog_at_close_is_written_in_bounded_batches_without_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``close`` after logging outran the writer: bounded batches (the last one with the
    final status), so decoding the backlog never holds all of it at once; every point lands
    once, in order, and each batch marks the journal up to its last point."""
    store = _Batches()
    writer = _backlog(tmp_path, store, monkeypatch)
    writer.close({"status": "finished"})
    assert len(store.batches) > 20
    one_drain = 16 << 10  # values of a 16 KiB drain are fewer than its bytes
    assert all(values <= 2_000 + one_drain for values, _, _, _ in store.batches)
    assert [s for _, steps, _, _ in store.batches for s in steps] == list(range(20_000))
    marks = [mark["seq"] for values, _, mark, _ in store.batches if values]
    assert marks == sorted(set(marks)) and len(marks) == len(store.batches) - 1
    assert [changes for *_, changes in store.batches if changes] == [{"status": "finished"}]
    assert store.batches[-1][3] == {"status": "finished"}
    assert writer._unread() == 0 and writer.journal is not None
    writer.journal.close(remove=True)


def test_a_store_failing_during_the_backlog_loses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed bounded batch is kept and retried: nothing is lost or written twice."""
    monkeypatch.setattr(time, "sleep", lambda _: None)  # close's back-off between attempts
    store = _Batches(fail_first=1)
    writer = _backlog(tmp_path, store, monkeypatch)
    writer.close({"status": "finished"})
    assert [s for _, steps, _, _ in store.batches for s in steps] == list(range(20_000))
    assert store.batches[-1][3] == {"status": "finished"}
    assert writer.journal is not None
    writer.journal.close(remove=True)
