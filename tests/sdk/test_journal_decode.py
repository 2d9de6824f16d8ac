"""The writer's bulk reading of a live journal gives exactly what per-record decoding gives."""

from __future__ import annotations

import marshal
import math
import random
from typing import Any

import numpy as np
import pytest

from labledger.sdk.journal_decode import MIN_BLOCK, Block, decode, decode_prefix, expand
from labledger.sdk.point_columns import Columnizer
from labledger.sdk.point_journal import MARSHAL_VERSION
from labledger.store import journal_file

SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]


def _records(points: list[Any]) -> bytes:
    return b"".join(
        journal_file.frame(marshal.dumps(p, MARSHAL_VERSION), seq)
        for seq, p in enumerate(points, 1)
    )


def _value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(SPECIAL)
    if roll < 0.08:
        return rng.randrange(-(2**31), 2**31)  # an int32 value: marshal writes it as "i"
    if roll < 0.09:
        return rng.choice([True, None, 2**40, "text"])  # shapes a block does not take
    return rng.uniform(-1e6, 1e6)


def _stream(rng: random.Random) -> list[Any]:
    keysets = [
        ["loss"],
        ["loss", "acc", "lr"],
        [f"m{i}" for i in range(20)],
        ["ünï/κey", "b"],
        ["val/" + "x" * 300],  # a name the store refuses: the key-by-key path reports it
    ]
    points: list[Any] = []
    step = rng.randrange(0, 2**31 - 10_000)
    while len(points) < 3_000:
        keys = rng.choice(keysets)
        for _ in range(rng.choice([1, 3, MIN_BLOCK - 1, MIN_BLOCK, 200])):
            if rng.random() < 0.01:
                step = rng.choice([2**31 + step, -5, step])  # beyond int32, negative, repeated
            data = {k: (_value(rng) if rng.random() < 0.2 else rng.random()) for k in keys}
            points.append((1.7e9 + rng.random(), step, data))
            step = step + 1 if step < 2**31 - 1 else 0
        if rng.random() < 0.1:
            points.append(("summary", {"f1": rng.random()}))
    return points


def _bits(values: Any) -> list[int]:
    bits: list[int] = np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
    return bits


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN and the sign of zero included."""
    if isinstance(a, float) and isinstance(b, float | int):
        return _bits([a]) == _bits([float(b)])
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize("seed", range(12))
def test_bulk_decoding_equals_record_by_record_decoding(seed: int) -> None:
    points = _stream(random.Random(seed))
    items = decode(_records(points))
    assert any(isinstance(item, Block) for item in items)  # the bulk path was taken
    assert len(expand(items)) == len(points)
    for got, want in zip(expand(items), points, strict=True):
        assert _same(got, want), (got, want)


@pytest.mark.parametrize("seed", range(6))
def test_the_writer_stores_the_same_columns_from_blocks_as_from_points(seed: int) -> None:
    points = [p for p in _stream(random.Random(100 + seed)) if len(p) == 3]
    from_blocks, from_points = Columnizer(), Columnizer()
    got = from_blocks.columns(decode(_records(points)))
    want = from_points.columns(points)
    assert list(got) == list(want)
    for key in want:
        assert got[key].steps.tolist() == want[key].steps.tolist()
        assert _bits(got[key].values) == _bits(want[key].values)
        assert _bits(got[key].times) == _bits(want[key].times)
    assert from_blocks.dropped == from_points.dropped


def test_a_block_stops_where_one_byte_of_the_layout_differs() -> None:
    first = [(1.0, i, {"loss": 0.5}) for i in range(40)]
    points = [*first, (1.0, 40, {"lost": 0.5}), *first]  # same length, one letter differs
    items = decode(_records(points))
    assert isinstance(items[0], Block) and len(items[0]) == 40
    assert items[1] == points[40]
    assert isinstance(items[-1], Block)
    assert expand(items) == points


@pytest.mark.parametrize("seed", range(6))
def test_decoding_in_bounded_pieces_gives_the_same_records(seed: int) -> None:
    """``decode_prefix`` from where the previous piece ended, with any budget and any cut of
    the bytes it is given, gives the records ``decode`` gives, each once, in order."""
    rng = random.Random(200 + seed)
    points = _stream(rng)
    data = _records(points)
    got: list[Any] = []
    off = 0
    while off < len(data):
        budget = rng.choice([1, 100, 5_000, 60_000])
        items, used = decode_prefix(data[off : off + budget + rng.randrange(0, 20_000)], budget)
        if not used:  # a record longer than the piece: a longer piece
            items, used = decode_prefix(data[off:], budget)
        got += expand(items)
        off += used
    assert len(got) == len(points)
    for have, want in zip(got, points, strict=True):
        assert _same(have, want), (have, want)


def test_a_piece_stops_before_a_record_cut_off_at_its_end() -> None:
    points = [(1.0, i, {"loss": float(i)}) for i in range(40)]
    data = _records(points)
    stride = len(data) // 40
    items, used = decode_prefix(data[: 3 * stride + 5], 10 * stride)
    assert expand(items) == points[:3] and used == 3 * stride
    items, used = decode_prefix(data, 20 * stride)  # a block ends near its budget
    assert isinstance(items[0], Block) and used == 20 * stride
    assert expand(items) == points[:20]
