"""Reader for W&B offline ``.wandb`` transaction logs (no ``wandb sync``, no network).

The file is a 7-byte header (``:W&B``, magic 0xBEE1, version 0) followed by LevelDB-log style
32 KiB blocks of chunks: crc32 (4 bytes), length (2 bytes LE), type (1 byte: 1 full, 2 first,
3 middle, 4 last). Each reassembled record is a ``wandb_internal_pb2.Record`` protobuf.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def iter_payloads(path: Path) -> Iterator[bytes]:
    """Yield each complete record payload; a torn tail (crash) ends the iteration quietly."""
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    pos = HEADER
    pending: list[bytes] = []
    size = len(data)
    while pos + CHUNK_HEADER <= size:
        room = BLOCK - pos % BLOCK
        if room < CHUNK_HEADER:  # block trailer padding
            pos += room
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        start = pos + CHUNK_HEADER
        end = start + length
        if end > size or kind == 0:
            return
        chunk = data[start:end]
        pos = end
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = [chunk]
        elif kind == MIDDLE:
            pending.append(chunk)
        elif kind == LAST:
            pending.append(chunk)
            yield b"".join(pending)
            pending = []


def iter_records(path: Path) -> Iterator[Any]:
    """Yield parsed ``Record`` protobufs."""
    from wandb.proto import wandb_internal_pb2 as pb

    for payload in iter_payloads(path):
        record = pb.Record()
        record.ParseFromString(payload)
        yield record
