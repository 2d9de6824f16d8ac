"""Envelopes read from stored rollups equal a brute-force min/max/mean over the raw points
of the same step-aligned buckets, for random series and ranges (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import delete

from labledger.entities import RunRecord, new_run_id
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch, Store
from labledger.store.rollups import SeriesEnvelope
from labledger.store.schema import metric_rollups


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    yield opened
    opened.close()


def _series(store: Store, rng: np.random.Generator, n: int) -> tuple[str, np.ndarray, np.ndarray]:
    run = RunRecord(run_id=new_run_id(), project="p", name="n", created_at=time.time())
    store.create_run(run)
    steps = np.cumsum(rng.integers(0, 4, n))  # gaps and repeated steps
    if rng.random() < 0.3:
        steps = rng.permutation(steps)  # out of order too
    values = rng.normal(size=n)
    values[rng.random(n) < 0.02] = np.nan
    values[rng.integers(0, n)] = 1e6  # one spike
    values[rng.integers(0, n)] = -np.inf
    cuts = np.sort(rng.choice(np.arange(1, n), size=rng.integers(1, 8), replace=False))
    for part in np.split(np.arange(n), cuts):
        batch = {"m": MetricColumns(steps[part], values[part], np.full(len(part), 1.0))}
        store.write_batch(run.run_id, RunBatch(metrics=batch))
    return run.run_id, steps, values


def _check(env: SeriesEnvelope, steps: np.ndarray, values: np.ndarray, start, end, points):
    inside = np.ones(len(steps), dtype=bool)
    if start is not None:
        inside &= steps >= start
    if end is not None:
        inside &= steps <= end
    if env.level is None:
        order = np.argsort(steps[inside], kind="stable")
        assert sorted(env.steps.tolist()) == steps[inside][order].tolist()
        assert np.array_equal(np.sort(env.mean), np.sort(values[inside]), equal_nan=True)
        return
    assert len(env.steps) <= points
    level = env.level
    keys = steps >> level
    lo = -(2**62) if start is None else start >> level
    hi = 2**62 if end is None else end >> level
    wanted = np.unique(keys[(keys >= lo) & (keys <= hi)])
    assert np.array_equal(env.steps, wanted << level)
    for i, bucket in enumerate(wanted):
        v = values[keys == bucket]
        finite = v[~np.isnan(v)]
        assert env.count[i] == len(v)
        if len(finite):
            assert env.min[i] == finite.min() and env.max[i] == finite.max()
            expected = finite.sum() / len(finite)
            assert env.mean[i] == pytest.approx(expected, rel=1e-9, nan_ok=True) or (
                np.isnan(expected) and np.isnan(env.mean[i])
            )
        else:
            assert np.isnan(env.min[i]) and np.isnan(env.max[i]) and np.isnan(env.mean[i])


@pytest.mark.parametrize("seed", range(4))
def test_envelope_equals_brute_force(store: Store, seed: int) -> None:
    rng = np.random.default_rng(seed)
    run_id, steps, values = _series(store, rng, int(rng.integers(2_000, 40_000)))
    top = int(steps.max())
    for _ in range(12):
        points = int(rng.choice([10, 100, 1000, 5000]))
        a, b = sorted(rng.integers(-5, top + 5, 2).tolist())
        start, end = rng.choice([None, a]), rng.choice([None, b])
        env = store.read_envelope(run_id, "m", points, start=start, end=end)
        _check(env, steps, values, start, end, points)
    env = store.read_envelope(run_id, "m", 100)
    assert env.downsampled and np.nanmax(env.max) == 1e6 and np.nanmin(env.min) == -np.inf


def test_without_rollups_the_raw_points_give_the_same_answer(store: Store) -> None:
    rng = np.random.default_rng(9)
    run_id, steps, values = _series(store, rng, 20_000)
    before = [store.read_envelope(run_id, "m", p, start=s) for p, s in ((100, None), (700, 5))]
    with store._engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(delete(metric_rollups))
    after = [store.read_envelope(run_id, "m", p, start=s) for p, s in ((100, None), (700, 5))]
    for x, y in zip(before, after, strict=True):
        assert x.level == y.level
        assert np.array_equal(x.steps, y.steps) and np.array_equal(x.count, y.count)
        assert np.array_equal(x.min, y.min, equal_nan=True)
        assert np.array_equal(x.max, y.max, equal_nan=True)
        assert np.allclose(x.mean, y.mean, equal_nan=True)
    _check(after[1], steps, values, 5, None, 700)


def test_batch_read_and_missing_keys(store: Store) -> None:
    rng = np.random.default_rng(3)
    run_id, steps, values = _series(store, rng, 5_000)
    both = store.read_envelopes([(run_id, "m"), (run_id, "nothing")], 50)
    assert both[0].downsampled and len(both[0].steps) <= 50
    assert both[1].total == 0 and not both[1].downsampled
    _check(both[0], steps, values, None, None, 50)


def test_upgrade_to_0005_backfills_rollups_of_existing_chunks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, func, select

    from labledger.store.migrate import MIGRATIONS

    uri = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(uri)
    rng = np.random.default_rng(5)
    run_id, steps, values = _series(store, rng, 30_000)
    expected = store.read_envelope(run_id, "m", 200, start=1000)
    store.close()
    engine = create_engine(uri)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:  # back to 0004: the table is gone, the chunks stay
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    engine.dispose()
    store = open_store(uri)  # upgrades to head, backfilling
    with store._engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).select_from(metric_rollups)).scalar()
    got = store.read_envelope(run_id, "m", 200, start=1000)
    store.close()
    assert got.level == expected.level and np.array_equal(got.steps, expected.steps)
    assert np.array_equal(got.max, expected.max, equal_nan=True)
    _check(got, steps, values, 1000, None, 200)


def _matrix_series(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(1, 3_000))
    steps = np.cumsum(rng.integers(0, 40, n))
    if rng.random() < 0.5:
        steps = rng.permutation(steps)  # non-monotonic steps
    values = rng.normal(size=(int(rng.integers(2, 12)), n))
    values[rng.random(values.shape) < 0.05] = np.nan
    values[rng.random(values.shape) < 0.01] = np.inf
    values[rng.random(values.shape) < 0.01] = -np.inf
    values[0, :] = np.nan  # one key never has a number
    return steps, values


@pytest.mark.parametrize("seed", range(6))
def test_rollups_of_a_matrix_equal_those_of_each_key(seed: int) -> None:
    """Keys logged together are rolled up in one pass: every key's buckets, and their
    encoding, equal those computed for that key alone."""
    from labledger.store import rollups

    steps, values = _matrix_series(np.random.default_rng(seed))
    together = rollups.chunk_rollups(steps, values)
    for i, row in enumerate(values):
        alone = rollups.chunk_rollups(steps, row)
        for (level, matrix_buckets), (level_alone, buckets) in zip(together, alone, strict=True):
            assert level == level_alone
            picked = rollups.row(matrix_buckets, i)
            for name in ("bucket", "total", "n", "sum", "min", "max", "last"):
                assert np.array_equal(
                    getattr(picked, name), getattr(buckets, name), equal_nan=True
                ), name
            assert rollups.encode_rows(matrix_buckets)[i] == buckets.encode()


def test_a_flush_of_keys_sharing_steps_writes_the_rows_of_each_key_alone() -> None:
    from labledger.store.metric_rows import batch_rollup_rows, rollup_rows

    rng = np.random.default_rng(11)
    steps, values = _matrix_series(rng)
    other = np.sort(rng.integers(0, 10_000, 50))  # a key with steps of its own
    series = [(f"k{i}", steps, values[i]) for i in range(len(values))]
    series.insert(1, ("own", other, rng.normal(size=50)))
    expected = [row for key, s, v in series for row in rollup_rows("r", key, s, v)]
    assert batch_rollup_rows("r", series) == expected
