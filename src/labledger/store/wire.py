"""The wire encoding between ``HttpStore`` and the server, also used by the journal.

msgpack through msgspec. Records travel as plain msgpack maps (``RunRecord``,
``ArtifactVersion`` are encoded field by field); a ``RunBatch`` carries each metric key as
three raw little-endian buffers (steps ``<i8``, values ``<f8``, times ``<f8``), never one
object per point, so a million points cost three ``memcpy``s each way. NaN and +-inf are kept
bit-exact inside the buffers. User values (config, summary, captures) go through the same
JSON-safe conversion the SQL stores apply, so a value reads back the same through either.

Layout (msgpack)::

    RunBatch     {"metrics": {key: [steps_bin, values_bin, times_bin]}, "summary": {...},
                  "captures": {...}, "outputs": [[stream, time, text]], "config": {...},
                  "changes": {...}}
    MetricSeries [key, steps_bin, values_bin, times_bin | nil]
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from labledger.encoding import to_jsonable
from labledger.entities import MetricSeries, RunRecord
from labledger.store.base import ArtifactVersion, MetricColumns, RunBatch

if TYPE_CHECKING:
    from labledger.store.rollups import SeriesEnvelope

__all__ = [
    "WIRE_CONTENT_TYPE",
    "decode",
    "decode_batch",
    "decode_series",
    "encode",
    "encode_batch",
    "encode_run",
    "encode_series",
    "encode_version",
]

WIRE_CONTENT_TYPE = "application/msgpack"

T = TypeVar("T")


class _Columns(msgspec.Struct, array_like=True):
    steps: bytes
    values: bytes
    times: bytes


class _Batch(msgspec.Struct, omit_defaults=True):
    metrics: dict[str, _Columns] = {}
    summary: dict[str, Any] = {}
    captures: dict[str, dict[str, Any]] = {}
    outputs: list[tuple[str, float, str]] = []
    config: dict[str, Any] = {}
    changes: dict[str, Any] = {}


class _Series(msgspec.Struct, array_like=True):
    key: str
    steps: bytes
    values: bytes
    times: bytes | None


class _Envelope(msgspec.Struct, array_like=True):
    key: str
    steps: bytes
    mean: bytes
    min: bytes
    max: bytes
    count: bytes
    level: int | None
    total: int


def _enc_hook(value: Any) -> Any:
    """Numpy scalars, paths and other user values: their JSON-safe form."""
    numpy = sys.modules.get("numpy")  # no array exists before numpy is loaded: not loaded here
    if numpy is not None and isinstance(value, numpy.ndarray):
        return value.tolist()
    if isinstance(value, float):  # np.float64 and other float subclasses
        return float(value)
    if isinstance(value, int):
        return int(value)
    return to_jsonable(value)


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_batch_decoder = msgspec.msgpack.Decoder(_Batch)
_series_decoder = msgspec.msgpack.Decoder(_Series)
_envelopes_decoder = msgspec.msgpack.Decoder(list[_Envelope])
_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


# Points need numpy; records, runs queries and batches without points do not load it.
def _buffer(array: Any, dtype: str) -> bytes:
    import numpy as np

    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def _array(buffer: bytes, dtype: str) -> Any:
    import numpy as np

    return np.frombuffer(buffer, dtype=dtype)


def encode(value: Any) -> bytes:
    """Encode a record (``RunRecord``, ``ArtifactVersion``, lists of them) or plain values."""
    return _encoder.encode(value)


def decode(data: bytes, type: type[T]) -> T:
    """Decode what ``encode`` produced, validated as ``type`` (e.g. ``list[RunRecord]``)."""
    decoder = _decoders.get(type)
    if decoder is None:
        decoder = _decoders[type] = msgspec.msgpack.Decoder(type)
    result: T = decoder.decode(data)
    return result


def encode_batch(batch: RunBatch) -> bytes:
    """A writer flush as one msgpack message, metric columns as raw buffers."""
    metrics = {}
    for key, col in batch.metrics.items():
        steps, values = _buffer(col.steps, "<i8"), _buffer(col.values, "<f8")
        times = _buffer(col.times, "<f8")
        if not (len(steps) == len(values) == len(times)):
            raise ValueError(f"metric {key!r}: steps, values and times differ in length")
        metrics[str(key)] = _Columns(steps, values, times)
    wire = _Batch(
        metrics=metrics,
        summary=to_jsonable(batch.summary) if batch.summary else {},
        captures=to_jsonable(batch.captures) if batch.captures else {},
        outputs=[(str(s), float(t), str(x)) for s, t, x in batch.outputs],
        config=to_jsonable(batch.config) if batch.config else {},
        changes=batch.changes,
    )
    return _encoder.encode(wire)


def decode_batch(data: bytes) -> RunBatch:
    """The ``RunBatch`` ``encode_batch`` encoded; metric columns are read-only numpy views."""
    wire = _batch_decoder.decode(data)
    metrics = {}
    for key, col in wire.metrics.items():
        steps = _array(col.steps, "<i8")
        values, times = _array(col.values, "<f8"), _array(col.times, "<f8")
        if not (len(steps) == len(values) == len(times)):
            raise msgspec.ValidationError(f"metric {key!r}: columns differ in length")
        metrics[key] = MetricColumns(steps, values, times)
    return RunBatch(
        metrics=metrics,
        summary=wire.summary,
        captures=wire.captures,
        outputs=[(s, t, x) for s, t, x in wire.outputs],
        config=wire.config,
        changes=wire.changes,
    )


def encode_series(series: MetricSeries) -> bytes:
    times = None if series.times is None else _buffer(series.times, "<f8")
    wire = _Series(series.key, _buffer(series.steps, "<i8"), _buffer(series.values, "<f8"), times)
    return _encoder.encode(wire)


def decode_series(data: bytes) -> MetricSeries:
    wire = _series_decoder.decode(data)
    times = None if wire.times is None else _array(wire.times, "<f8")
    return MetricSeries(wire.key, _array(wire.steps, "<i8"), _array(wire.values, "<f8"), times)


def encode_envelopes(envelopes: list[SeriesEnvelope]) -> bytes:
    """Chart views (``Store.read_envelopes``), columns as raw buffers."""
    return _encoder.encode(
        [
            _Envelope(
                e.key,
                _buffer(e.steps, "<i8"),
                _buffer(e.mean, "<f8"),
                _buffer(e.min, "<f8"),
                _buffer(e.max, "<f8"),
                _buffer(e.count, "<i8"),
                e.level,
                int(e.total),
            )
            for e in envelopes
        ]
    )


def decode_envelopes(data: bytes) -> list[SeriesEnvelope]:
    from labledger.store.rollups import SeriesEnvelope

    return [
        SeriesEnvelope(
            w.key,
            _array(w.steps, "<i8"),
            _array(w.mean, "<f8"),
            _array(w.min, "<f8"),
            _array(w.max, "<f8"),
            _array(w.count, "<i8"),
            w.level,
            w.total,
        )
        for w in _envelopes_decoder.decode(data)
    ]


def encode_run(run: RunRecord) -> bytes:
    """A run record with its user values made JSON-safe, as the SQL stores keep them."""
    return encode(_safe_run(run))


def _safe_run(run: RunRecord) -> RunRecord:
    from dataclasses import replace

    return replace(
        run,
        config=to_jsonable(run.config),
        summary=to_jsonable(run.summary),
        tags=[str(t) for t in run.tags],
    )


def encode_version(version: ArtifactVersion) -> bytes:
    from dataclasses import replace

    return encode(
        replace(
            version,
            manifest=to_jsonable(version.manifest),
            metadata=to_jsonable(version.metadata),
        )
    )
