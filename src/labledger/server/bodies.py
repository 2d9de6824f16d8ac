"""Request bodies with size limits, optionally zstd- or gzip-compressed."""

from __future__ import annotations

import zlib

from fastapi import Request

from labledger.errors import LabledgerError, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024 * 1024  # as sent (compressed)
MAX_DECODED_BYTES = 256 * 1024 * 1024  # after decompression


async def read_body(request: Request) -> bytes:
    """The request body, decompressed; ``PayloadTooLarge`` (413) past the limits."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body over {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"request body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return _gunzip(body)
    if encoding == "zstd":
        return _unzstd(body)
    raise LabledgerError(f"unsupported Content-Encoding {encoding!r}: use gzip or zstd")


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    except zlib.error as exc:
        raise LabledgerError(f"invalid gzip body: {exc}") from None
    if len(data) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body over {MAX_DECODED_BYTES} bytes")
    return data


def _unzstd(body: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise LabledgerError("this server cannot read zstd bodies; send gzip") from None
    reader = zstandard.ZstdDecompressor().stream_reader(body)
    try:
        data: bytes = reader.read(MAX_DECODED_BYTES + 1)
        while True:  # read() may return less than asked before the end
            more: bytes = reader.read(MAX_DECODED_BYTES + 1 - len(data))
            if not more or len(data) > MAX_DECODED_BYTES:
                break
            data += more
    except zstandard.ZstdError as exc:
        raise LabledgerError(f"invalid zstd body: {exc}") from None
    if len(data) > MAX_DECODED_BYTES:
        raise PayloadTooLarge(f"decompressed body over {MAX_DECODED_BYTES} bytes")
    return data
