"""The columnar ``RunList.to_pandas`` equals the row path (one dict per run) on randomized
stores, SQLite and PostgreSQL."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.sdk.api import Api, RunList, rows_frame
from labledger.sdk.frame import runs_frame
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch, Store
from labledger.store.columns import columns_from_records


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    yield opened
    opened.close()


def _value(rng: random.Random) -> Any:
    return rng.choice(
        [
            lambda: rng.randint(-5, 5),
            lambda: rng.random(),
            lambda: rng.choice(["adam", "sgd", "x y"]),
            lambda: rng.random() < 0.5,
            lambda: None,
            lambda: [1, "a"],
            lambda: 2**60 + rng.randint(0, 9),
            lambda: {},
        ]
    )()


def _populate(store: Store, rng: random.Random, n: int) -> None:
    keys = ["lr", "opt.name", "opt.beta", "depth", "seed", "flag", "mixed", "big"]
    uniform = {k: rng.randrange(8) for k in keys}  # each key sticks to one kind mostly
    for i in range(n):
        config: dict[str, Any] = {}
        for key in keys:
            if rng.random() < 0.8:
                kind = uniform[key] if rng.random() < 0.8 else rng.randrange(8)
                value = _value(random.Random(kind * 1000 + rng.randrange(3)))
                parts = key.split(".")
                target = config
                for part in parts[:-1]:
                    target = target.setdefault(part, {})
                target[parts[-1]] = value
        record = RunRecord(
            run_id=new_run_id(),
            project=rng.choice(["p", "q"]),
            name=f"run-{i}",
            created_at=time.time() - rng.random() * 1000,
            group=rng.choice([None, "g1", "g2"]),
            tags=rng.sample(["a", "b", "c"], rng.randrange(3)),
            config=config,
            status=rng.choice([RunStatus.FINISHED, RunStatus.FAILED]),
            ended_at=rng.choice([None, time.time()]),
        )
        store.create_run(record)
        metrics = {}
        for key in rng.sample(["acc", "loss", "val/acc", "lr"], rng.randrange(5)):
            m = rng.randrange(1, 5)
            values = np.array([rng.random() for _ in range(m)])
            if rng.random() < 0.1:
                values[-1] = float("inf")
            metrics[key] = MetricColumns(np.arange(m), values, np.full(m, time.time()))
        summary = {}
        for key in rng.sample(["acc", "best", "note", "epochs"], rng.randrange(4)):
            summary[key] = rng.choice([rng.random(), rng.randint(0, 9), "done", True, None])
        store.write_batch(record.run_id, RunBatch(metrics=metrics, summary=summary))


def _equal(columnar: pd.DataFrame, rows: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(columnar, rows, check_like=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_columnar_frame_equals_row_path(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    _populate(store, rng, 40)
    api = Api(store=store)
    queries: list[dict[str, Any]] = [
        {},
        {"project": "p"},
        {"filter": "metrics.acc > 0.3", "order_by": "-metrics.acc"},
        {"order_by": ["config.lr", "name"], "limit": 7, "offset": 3},
        {"filter": "config.opt.name = 'adam'"},
        {"filter": "name = 'nothing'"},
    ]
    for query in queries:
        columnar = api.runs(**query).to_pandas()
        rows = rows_frame(pd, list(api.runs(**query)))
        _equal(columnar, rows)
        records = store.search_runs(
            query.get("project"),
            query.get("filter"),
            [query["order_by"]]
            if isinstance(query.get("order_by"), str)
            else query.get("order_by", []),
            query.get("limit"),
            query.get("offset", 0),
        )
        _equal(runs_frame(columns_from_records(records)), rows)


def test_lazy_list_behaves_as_a_list(store: Store) -> None:
    rng = random.Random(7)
    _populate(store, rng, 5)
    api = Api(store=store)
    runs = api.runs(order_by="name")
    assert len(runs) == 5 and bool(runs)
    assert [r.name for r in runs] == sorted(f"run-{i}" for i in range(5))
    assert runs[0].name == "run-0" and runs[-1].name == "run-4"
    assert len(runs.to_pandas()) == 5  # unchanged: still the columnar query
    runs.pop()
    assert list(runs.to_pandas()["name"]) == [f"run-{i}" for i in range(4)]
    assert not api.runs(filter="name = 'none'")
    assert isinstance(api.runs(), RunList)
    assert len([None] + api.runs()) == 6  # noqa: RUF005 - list + RunList on purpose
    assert len(list(api.runs())) == 5
    assert [r.id for r in api.runs() + api.runs()] == [r.id for r in list(api.runs()) * 2]
    assert RunList(list(api.runs())).to_pandas().shape[0] == 5


def test_running_run_of_a_dead_process_is_crashed_in_the_frame(store: Store) -> None:
    record = RunRecord(
        run_id=new_run_id(),
        project="p",
        name="dead",
        created_at=time.time() - 5,
        host=__import__("socket").gethostname(),
        pid=2**22 + 12345,
    )
    store.create_run(record)
    frame = Api(store=store).runs().to_pandas()
    assert list(frame["status"]) == ["crashed"]
    assert store.get_run(record.run_id).status is RunStatus.CRASHED
