"""The ``BlobStore`` interface: immutable bytes addressed by their SHA-256, and the URI registry.

Implementations: ``LocalBlobStore`` (a folder; the default), ``S3BlobStore`` (``s3://bucket/
prefix``, any S3-compatible server) and ``MemoryBlobStore`` (the in-process fake for tests).
All pass the contract suite in ``tests/artifacts/test_blobstores.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

from labledger.errors import ArtifactError, ConfigError

DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    modified: float  # unix seconds: last write, or last ``put_file`` of the same content


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise ArtifactError(f"invalid blob digest {digest!r}: expected 64 lowercase hex digits")
    return digest


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed bytes. Every method streams; none reads a whole blob into memory."""

    uri: str

    def put_file(self, digest: str, path: Path) -> bool:
        """Store ``path``'s bytes under ``digest`` unless already there; True if newly stored.

        Raises ArtifactError if the bytes do not hash to ``digest``, where the back end can
        tell while copying (the local folder can; S3 checks size and mtime instead)."""
        ...

    def get_to(self, digest: str, dest: Path) -> None:
        """Write the blob to ``dest`` atomically, checking its digest on the way."""
        ...

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        """The blob's bytes in chunks."""
        ...

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int:
        """Size in bytes; ArtifactError when missing."""
        ...

    def delete(self, digest: str) -> None:
        """Remove the blob; missing blobs are ignored."""
        ...

    def iter_digests(self) -> Iterator[str]: ...

    def iter_blobs(self) -> Iterator[BlobInfo]: ...

    def info(self, digest: str) -> BlobInfo | None:
        """Fresh size and modification time, or None when missing."""
        ...


def local_path_from_uri(uri: str) -> Path:
    """A folder path from ``/abs/path``, ``relative/path`` or ``file:///abs/path``."""
    if uri.startswith("file://"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"file URI {uri!r} names a remote host; use a local folder")
        return Path(unquote(parsed.path))
    return Path(uri).expanduser()


def open_blob_store(
    uri: str, *, s3_endpoint_url: str | None = None, token: str | None = None
) -> BlobStore:
    """The blob store for ``uri``, chosen by scheme: a folder path or file://, s3://, or a
    team server's http(s):// URL (``token`` authenticates to it)."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "file"
    if scheme == "file":
        from labledger.artifacts.local import LocalBlobStore

        return LocalBlobStore(local_path_from_uri(uri))
    if scheme == "s3":
        from labledger.artifacts.s3 import S3BlobStore

        return S3BlobStore(uri, endpoint_url=s3_endpoint_url)
    if scheme in ("http", "https"):
        from labledger.artifacts.http import HttpBlobStore

        return HttpBlobStore(uri, token=token)
    raise ConfigError(
        f"unsupported artifact storage {uri!r}: use a folder, file:///path, s3://bucket/prefix "
        "or a team server's http(s):// URL"
    )
