"""The runs-table read (``run_table``) and the fast filter: exactly the results of the slow
definitions (``reference_table``; correlated subqueries), on randomized stores, both backends.
Also the incremental reads behind live views: a step range of a series, output after a time."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import text

from labledger.entities import RunRecord, RunStatus
from labledger.errors import FilterError
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch, Store
from labledger.store.filtering import parse_filter
from labledger.store.sql_text import Binder, compile_where
from labledger.store.table import (
    TableQuery,
    parse_columns,
    parse_sort,
    read_table,
    reference_table,
)

WORDS = ["adam", "sgd", "lion", "rmsprop"]
FILTERS = [
    None,
    "metrics.acc > 0.5",
    "metrics.acc > 0.3 and config.opt = 'adam'",
    "config.opt != 'sgd' or metrics.loss < 0.2",
    "not metrics.acc > 0.5",
    "not (config.opt = 'adam' or metrics.loss >= 0.4)",
    "config.lr in (0.1, 0.01) and status = 'finished'",
    "config.flag = true",
    "config.opt contains 'a'",
    "metrics.acc is null or config.lr is not null",
    "metrics.loss = null",
    "config.depth >= 3 and not config.opt in ('lion', 'sgd')",
]
SORTS = [
    "",
    "-metrics.acc.last",
    "metrics.loss.min,-created_at",
    "-metrics.loss.max,name",
    "config.opt,-config.lr",
    "-config.depth",
    "config.mixed",
    "status,-runtime",
    "name",
    "user,-metrics.acc",
]


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    yield opened
    opened.close()


def populate(store: Store, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        config: dict[str, object] = {}
        if rng.random() < 0.9:
            config["opt"] = rng.choice(WORDS)
        if rng.random() < 0.8:
            config["lr"] = rng.choice([0.1, 0.01, 0.001])
        if rng.random() < 0.7:
            config["depth"] = rng.randint(1, 5)
        if rng.random() < 0.5:
            config["flag"] = rng.random() < 0.5
        config["mixed"] = rng.choice([1, 2.5, "b", "a", True, None])
        record = RunRecord(
            run_id=f"r{seed}x{i:04d}",
            project=rng.choice(["p", "q"]),
            name=rng.choice(WORDS) + str(rng.randint(0, 3)),
            status=rng.choice(list(RunStatus)),
            created_at=1000.0 + rng.randint(0, n // 2),  # ties on purpose
            ended_at=rng.choice([None, 2000.0 + rng.random()]),
            heartbeat_at=rng.choice([None, 1500.0]),
            config=config,
        )
        store.create_run(record)
        batch = RunBatch()
        for key in ("acc", "loss"):
            if rng.random() < 0.8:
                count = rng.randint(1, 4)
                values = np.asarray([rng.choice([rng.random(), 0.5]) for _ in range(count)])
                batch.metrics[key] = MetricColumns(np.arange(count), values, np.full(count, 1.0))
        if rng.random() < 0.6:
            batch.captures["run"] = {"user": rng.choice(["ann", "bob", "cy"])}
        if batch:
            store.write_batch(record.run_id, batch)


def _as_tuple(table: object) -> object:
    return [
        (row.record.run_id, str(row.record.status), row.user, row.values)
        for row in table.rows  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("seed", [1])
def test_run_table_equals_the_reference(store: Store, seed: int) -> None:
    populate(store, 40, seed)
    rng = random.Random(seed)
    columns = parse_columns("config.opt,config.lr,config.mixed,metrics.acc.last,metrics.loss.min")
    for filter_ in FILTERS:
        for sort in rng.sample(SORTS, 4):
            query = TableQuery(
                project=rng.choice([None, "p"]),
                filter=filter_,
                sort=parse_sort(sort),
                columns=columns,
                offset=rng.choice([0, 0, 5]),
                limit=rng.choice([None, 10, 100]),
                projects=rng.choice([None, frozenset({"p"}), frozenset({"q", "p"})]),
            )
            fast, slow = read_table(store, query), reference_table(store, query)
            assert fast.total == slow.total, (filter_, sort)
            assert _as_tuple(fast) == _as_tuple(slow), (filter_, sort, query)


def test_semijoin_filters_equal_correlated_ones(store: Store) -> None:
    populate(store, 50, 3)
    engine = store._engine  # type: ignore[attr-defined]
    for filter_ in FILTERS:
        expr = parse_filter(filter_)
        found = []
        for semijoins in (True, False):
            b = Binder()
            where = compile_where(b, None, expr, semijoins=semijoins)
            with engine.connect() as conn:
                query = text(f"SELECT runs.run_id FROM runs WHERE {where}")
                found.append(sorted(conn.execute(query, b.params).scalars()))
        assert found[0] == found[1], filter_


def test_table_columns_and_sort_keys_are_checked(store: Store) -> None:
    with pytest.raises(FilterError):
        parse_columns("name")
    with pytest.raises(FilterError):
        parse_sort("nonsense")
    assert [str(c) for c in parse_columns("metrics.acc, metrics.loss.min, config.a.b")] == [
        "metrics.acc.last",
        "metrics.loss.min",
        "config.a.b",
    ]


def test_read_metric_step_range_and_output_since(store: Store) -> None:
    record = RunRecord(run_id="range001", project="p", name="n", created_at=time.time())
    store.create_run(record)
    for start in range(0, 100, 10):
        steps = np.arange(start, start + 10)
        store.write_metrics(record.run_id, {"loss": MetricColumns(steps, steps * 1.0, steps + 0.5)})
    part = store.read_metric(record.run_id, "loss", start=25, end=41)
    assert part.steps.tolist() == list(range(25, 42))
    assert part.times.tolist() == [s + 0.5 for s in range(25, 42)]
    assert store.read_metric(record.run_id, "loss", start=95).steps.tolist() == list(range(95, 100))
    assert len(store.read_metric(record.run_id, "loss", start=100)) == 0
    assert len(store.read_metric(record.run_id, "loss", end=9, times=False)) == 10
    store.append_output(record.run_id, [("stdout", 1.0, "a\n"), ("stderr", 2.0, "b\n")])
    store.append_output(record.run_id, [("stdout", 3.0, "c\n")])
    assert [t for _, _, t in store.read_output(record.run_id, since=1.0)] == ["b\n", "c\n"]
    assert store.read_output(record.run_id, since=3.0) == []


def test_column_values_equal_the_reference(store: Store) -> None:
    from labledger.store.table import column_values

    populate(store, 40, 4)
    query = TableQuery(
        project="p",
        filter="metrics.acc > 0.2 or config.opt = 'lion'",
        columns=(
            *parse_columns("config.opt,config.mixed,metrics.loss.max"),
            *(key.column for key in parse_sort("status,user,runtime,group")),
        ),
    )
    fast = sorted(column_values(store, query), key=repr)
    slow = sorted(column_values(_Plain(store), query), key=repr)  # type: ignore[arg-type]
    assert fast == slow and len(fast) > 5


class _Plain:
    """The store without its native table reads, to get the reference answers."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        if name in ("run_table", "column_values", "column_keys", "run_activity"):
            raise AttributeError(name)
        return getattr(self._store, name)
