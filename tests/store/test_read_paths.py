"""The runs queries give the same runs, in the same order, whichever way they are run: the
plain ``sqlite3`` read path, SQLAlchemy executing the same SQL text (SQLite and PostgreSQL),
and the SQLAlchemy expressions labledger compiled filters to before (``reference_query``)."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from labledger.entities import RunRecord, RunStatus
from labledger.errors import FilterError
from labledger.store import open_store, sql_records
from labledger.store.base import MetricColumns, RunBatch, Store
from labledger.store.filtering import parse_filter, parse_order
from labledger.store.schema import runs
from labledger.store.sql import SqlStore
from tests.store.reference_query import compile_filter, compile_order

WORDS = ["adam", "sgd", "a_b", "50%", "x%_y", "back\\slash", "it's", "", "B"]
TAGS = ["debug", "a_b", "50%", "x\\y", 'q"t', "prod"]
CONFIG = ["opt", "lr", "depth", "flag", "mixed", "s", "nest.a"]
ATTRS_TEXT = ["status", "name", "project", "group", "run_id", "host"]
ATTRS_NUM = ["created_at", "ended_at", "runtime"]
METRICS = ["acc", "loss", "f1"]
OPS = ["=", "!=", "<", "<=", ">", ">="]


def _value(rng: random.Random) -> Any:
    return rng.choice(
        [rng.randint(-2, 5), rng.choice([0.1, 0.5, 2.5]), True, False, None, rng.choice(WORDS)]
    )


def populate(store: Store, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        config: dict[str, Any] = {}
        for key in CONFIG:
            if rng.random() < 0.75:
                head, _, tail = key.partition(".")
                if tail:
                    config[head] = {tail: _value(rng)}
                else:
                    config[key] = _value(rng)
        ended = rng.choice([None, 2000.0 + rng.random()])
        record = RunRecord(
            run_id=f"r{i:04d}",
            project=rng.choice(["p", "q", "p_q"]),
            name=rng.choice(WORDS) + str(rng.randint(0, 2)),
            status=rng.choice(list(RunStatus)),
            created_at=1000.0 + rng.randint(0, n // 3),  # ties on purpose
            ended_at=ended,
            heartbeat_at=rng.choice([None, 1500.0]),
            group=rng.choice([None, "g1", "g_2"]),
            tags=rng.sample(TAGS, rng.randint(0, 3)),
            host=rng.choice([None, "h1", "h%"]),
            config=config,
        )
        store.create_run(record)
        batch = RunBatch()
        for key in ("acc", "loss"):
            if rng.random() < 0.8:
                count = rng.randint(1, 3)
                values = [rng.choice([rng.random(), 0.5, math.nan]) for _ in range(count)]
                batch.metrics[key] = MetricColumns(
                    np.arange(count), np.asarray(values), np.full(count, 1.0)
                )
        if rng.random() < 0.5:
            batch.summary["f1"] = rng.choice([0.25, 0.75, None, "text"])
        if batch:
            store.write_batch(record.run_id, batch)


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _comparison(rng: random.Random) -> str:
    kind = rng.choice(["config", "config", "metrics", "text", "num", "tags"])
    if kind == "tags":
        return f"tags {rng.choice(['contains', '=', '!='])} {_literal(rng.choice([*TAGS, '%']))}"
    if kind == "config":
        field, value = f"config.{rng.choice(CONFIG)}", _value(rng)
    elif kind == "metrics":
        field, value = f"metrics.{rng.choice(METRICS)}", rng.choice([0.1, 0.5, 0.75, None])
    elif kind == "text":
        field = rng.choice(ATTRS_TEXT)
        value = rng.choice([*WORDS, "p", "q", "g_2", "h%", "finished", "r00", None])
    else:
        field, value = rng.choice(ATTRS_NUM), rng.choice([1000.0, 1005.0, 1000.5, None])
    op = rng.choice([*OPS, "in", "contains", "is null", "is not null"])
    if op in ("is null", "is not null"):
        return f"{field} {op}"
    if op == "in":
        # one type per list: SQLAlchemy's Float binds refused text (the reference raises)
        pool = [v for v in (_value(rng) for _ in range(8)) if type(v) is type(value)]
        same = [value, *pool[: rng.randint(0, 2)]]
        return f"{field} in ({', '.join(map(_literal, same))})"
    if op == "contains":
        text = rng.choice(["a", "_", "%", "\\", "5", "ad"])
        return f"{field} contains {_literal(text if kind != 'metrics' else 0.5)}"
    return f"{field} {op} {_literal(value)}"


def random_filter(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        op = rng.choice([" and ", " or "])
        return "(" + op.join(random_filter(rng, depth + 1) for _ in range(rng.randint(2, 3))) + ")"
    if depth < 3 and roll < 0.35:
        return f"not {random_filter(rng, depth + 1)}"
    return _comparison(rng)


def random_order(rng: random.Random) -> list[str]:
    fields = [f"config.{k}" for k in CONFIG] + [f"metrics.{k}" for k in METRICS]
    fields += [*ATTRS_TEXT, *ATTRS_NUM, "tags"]
    return [rng.choice(["", "-"]) + rng.choice(fields) for _ in range(rng.randint(0, 3))]


def _reference(store: Any, project: Any, text: str, order: list[str], limit: Any, offset: int):
    condition = compile_filter(parse_filter(text))
    if project is not None:
        condition = (runs.c.project == project) & condition
    query = select(runs.c.run_id).where(condition).order_by(*compile_order(parse_order(order)))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with store._engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _outcome(call: Any) -> Any:
    """The call's result, or the kind of error it raised (a database refusing a comparison
    of mixed types must refuse it on every path)."""
    try:
        return call()
    except FilterError:
        return "FilterError"
    except Exception as exc:  # the driver's error, wrapped by SQLAlchemy or not
        return f"error: {type(getattr(exc, 'orig', None) or exc).__name__}"


@pytest.mark.parametrize("seed", [1, 2])
def test_every_path_gives_the_same_runs_in_the_same_order(store_uri: str, seed: int) -> None:
    store = open_store(store_uri)
    try:
        populate(store, 120, seed)
        rng = random.Random(seed * 7919)
        sqlite = store_uri.startswith("sqlite")
        errors = 0
        for _ in range(250):
            text = random_filter(rng)
            order = random_order(rng)
            project = rng.choice([None, None, "p", "p_q"])
            limit, offset = rng.choice([(None, 0), (None, 0), (10, 0), (7, 5), (None, 3)])

            case = (project, text, order, limit, offset)

            def store_ids(case: Any = case) -> list[str]:
                found = store.search_runs(*case)
                return [r.run_id for r in found]

            def text_ids(case: Any = case) -> list[str]:  # the same SQL text, by SQLAlchemy
                with SqlStore._reading(store) as execute:  # type: ignore[arg-type]
                    found = sql_records.search(execute, *case)
                return [r.run_id for r in found]

            expected = _outcome(lambda case=case: _reference(store, *case))
            assert _outcome(store_ids) == expected, (text, order, project, limit, offset)
            if sqlite:
                assert _outcome(text_ids) == expected, (text, order, project, limit, offset)
            if isinstance(expected, str):
                errors += 1
                continue
            if limit is None and not offset:
                assert store.count_runs(project, text) == len(expected), text
        assert errors < 100  # most filters are answered
    finally:
        store.close()


def test_both_sqlite_paths_build_the_same_records(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's' / 'labledger.db'}")
    try:
        populate(store, 60, 5)
        plain = store.search_runs(order_by=["-metrics.acc"])
        with SqlStore._reading(store) as execute:  # type: ignore[arg-type]
            through = sql_records.search(execute, None, None, ["-metrics.acc"], None, 0)
        assert len(plain) == 60
        assert [_comparable(r) for r in plain] == [_comparable(r) for r in through]
        first = plain[0]
        assert store.get_run(first.run_id[:4] + first.run_id[4:]).run_id == first.run_id
        assert store.list_projects() == sorted({r.project for r in plain})
        assert store.count_runs("p") == sum(r.project == "p" for r in plain)
    finally:
        store.close()


def _comparable(record: RunRecord) -> Any:
    # NaN != NaN: compare the metric summaries as text
    return repr(record)
