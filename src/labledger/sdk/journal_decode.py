"""Reading a live point journal back in bulk: the writer's side of ``mmap_journal``.

A training loop logs the same keys step after step, so its records are byte for byte alike
except for the numbers: ``marshal`` (version 2) writes ``(time, step, {key: value})`` as type
codes, lengths and key names at fixed places and each float as 8 raw bytes. ``decode`` parses
the first record of such a run of records, checks that every following record has exactly
that layout (all bytes but the numbers equal), and reads the numbers of the whole run with
strided numpy views: a ``Block`` of columns, without one Python object per point. Records of
any other shape (a step beyond int32, a bool or None value, alternating key sets) are decoded
one by one with ``marshal.loads``, as recovery does.
"""

from __future__ import annotations

import marshal
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Block", "decode", "decode_prefix", "expand"]

MIN_BLOCK = 16  # a shorter run of alike records is decoded one by one
_U32 = struct.Struct("<I")
_KEY_CODES = frozenset(b"ut")  # version 2 writes a str as unicode or interned
_FLOAT, _INT = ord("g"), ord("i")


@dataclass(frozen=True)
class Block:
    """Consecutive points with the same keys: one array per field, in logged order."""

    times: Any  # float64
    steps: Any  # int64
    values: dict[str, Any]  # key -> float64

    def __len__(self) -> int:
        return len(self.steps)

    def points(self) -> list[tuple[float, int, dict[str, float]]]:
        """The block as the ``(time, step, dict)`` points it was decoded from."""
        keys = list(self.values)
        rows = zip(*(self.values[k].tolist() for k in keys), strict=True)
        return [
            (t, s, dict(zip(keys, row, strict=True)))
            for t, s, row in zip(self.times.tolist(), self.steps.tolist(), rows, strict=True)
        ]


def expand(items: list[Any]) -> list[Any]:
    """``items`` with each ``Block`` replaced by its points: what per-record decoding gives."""
    out: list[Any] = []
    for item in items:
        if item.__class__ is Block:
            out += item.points()
        else:
            out.append(item)
    return out


# A record's layout: where the time, the step and each key's value are, and what is fixed.
_Layout = tuple[int, int, list[tuple[str, int, int]], Any]


def decode(data: bytes) -> list[Any]:
    """The records of ``data`` (whole records, ``<u32 length><u32 crc> payload`` each, up to
    the end or a zero length) in order: runs of alike points as ``Block``s, everything else
    as ``marshal.loads`` gives it. CRCs are not checked: a live mapping has no torn record."""
    return decode_prefix(data, len(data))[0]


def decode_prefix(data: bytes, budget: int) -> tuple[list[Any], int]:
    """``decode`` of the records that start in the first ``budget`` bytes of ``data`` (a
    block of alike records may run on a little past it), and the offset after the last
    one: a record cut off at the end of ``data`` is left for the next call."""
    items: list[Any] = []
    loads, unpack = marshal.loads, _U32.unpack_from
    off, size, singles = 0, len(data), 0
    while off + 8 <= size and off < budget:
        n = unpack(data, off)[0]
        stride = 8 + n
        if not n or off + stride > size:
            break  # the zero-filled rest of a segment, or a record continued past ``data``
        last = off + (MIN_BLOCK - 1) * stride  # a cheap look before the parse
        if not singles and last + 8 <= size and unpack(data, last)[0] == n:
            layout = _layout(data, off, n)
            rows = max(MIN_BLOCK, -(-(budget - off) // stride))
            count = 0 if layout is None else _alike(data, off, stride, layout[3], rows)
            if layout is not None and count >= MIN_BLOCK:
                items.append(_block(data, off, stride, count, layout))
                off += count * stride
                continue
            singles = max(count, MIN_BLOCK // 2)  # not a block here: a few go one by one
        items.append(loads(data[off + 8 : off + stride]))
        off += stride
        singles = max(singles - 1, 0)
    return items, off


def _layout(data: bytes, off: int, n: int) -> _Layout | None:
    """The layout of the record at ``off`` if it is ``(float, int32, {str: float | int32})``
    with at least one key, else None. Offsets are from the record's start."""
    p = 8
    rec = data[off : off + 8 + n]
    if rec[p] != ord("(") or _U32.unpack_from(rec, p + 1)[0] != 3 or rec[p + 5] != _FLOAT:
        return None
    time_at = p + 6
    p += 14
    if rec[p] != _INT:
        return None
    step_at = p + 1
    p += 5
    if rec[p] != ord("{"):
        return None
    p += 1
    fields: list[tuple[str, int, int]] = []  # key, offset, width (8: float, 4: int32)
    while p < len(rec) and rec[p] != ord("0"):
        if rec[p] not in _KEY_CODES:
            return None
        length = _U32.unpack_from(rec, p + 1)[0]
        try:
            key = rec[p + 5 : p + 5 + length].decode()
        except UnicodeDecodeError:
            return None
        p += 5 + length
        if rec[p] == _FLOAT:
            fields.append((key, p + 1, 8))
            p += 9
        elif rec[p] == _INT:
            fields.append((key, p + 1, 4))
            p += 5
        else:
            return None
    if not fields or p != len(rec) - 1:
        return None
    fixed = np.ones(8 + n, dtype=bool)
    fixed[4:8] = False  # the CRC
    for at, width in ((time_at, 8), (step_at, 4), *((f[1], f[2]) for f in fields)):
        fixed[at : at + width] = False
    return time_at, step_at, fields, fixed


def _alike(data: bytes, off: int, stride: int, fixed: Any, most: int) -> int:
    """How many records from ``off`` (``most`` at most) have the first one's layout: windows
    that double in size, so a short run costs little and a long one a few numpy passes."""
    rows = min((len(data) - off) // stride, most)
    first = np.frombuffer(data, np.uint8, stride, off)[fixed]
    done, window = 1, MIN_BLOCK
    while done < rows:
        take = min(window, rows - done)
        chunk = np.frombuffer(data, np.uint8, take * stride, off + done * stride)
        same = (chunk.reshape(take, stride)[:, fixed] == first).all(axis=1)
        if not same.all():
            return done + int(np.argmin(same))
        done += take
        window *= 2
    return done


def _block(data: bytes, off: int, stride: int, count: int, layout: _Layout) -> Block:
    time_at, step_at, fields, _ = layout

    def column(at: int, width: int) -> Any:
        kind = "<f8" if width == 8 else "<i4"
        view = np.ndarray((count,), kind, data, off + at, (stride,))
        return view.astype(np.float64)  # a copy: the block outlives ``data``'s slice

    times = column(time_at, 8)
    steps = np.ndarray((count,), "<i4", data, off + step_at, (stride,)).astype(np.int64)
    return Block(times, steps, {key: column(at, width) for key, at, width in fields})
