"""``MemoryBlobStore``: the in-process fake of ``BlobStore`` for tests (small blobs only)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from labledger.artifacts.blobstore import BlobInfo, check_digest
from labledger.artifacts.hashing import CHUNK_SIZE
from labledger.errors import ArtifactError


class MemoryBlobStore:
    """Blobs in a dict. Behaves like the real stores, including digest checks."""

    def __init__(self, uri: str = "memory://") -> None:
        self.uri = uri
        self._blobs: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def put_file(self, digest: str, path: Path) -> bool:
        check_digest(digest)
        with self._lock:
            if digest in self._blobs:
                self._blobs[digest] = (self._blobs[digest][0], time.time())
                return False
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactError(f"{path} does not match its digest {digest[:12]} (it changed?)")
        with self._lock:
            self._blobs[digest] = (data, time.time())
        return True

    def _data(self, digest: str) -> bytes:
        check_digest(digest)
        with self._lock:
            found = self._blobs.get(digest)
        if found is None:
            raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}")
        return found[0]

    def get_to(self, digest: str, dest: Path) -> None:
        data = self._data(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(dest)

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        data = self._data(digest)
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]

    def exists(self, digest: str) -> bool:
        check_digest(digest)
        with self._lock:
            return digest in self._blobs

    def size(self, digest: str) -> int:
        return len(self._data(digest))

    def info(self, digest: str) -> BlobInfo | None:
        check_digest(digest)
        with self._lock:
            found = self._blobs.get(digest)
        return None if found is None else BlobInfo(digest, len(found[0]), found[1])

    def delete(self, digest: str) -> None:
        check_digest(digest)
        with self._lock:
            self._blobs.pop(digest, None)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        with self._lock:
            items = sorted(self._blobs.items())
        for digest, (data, modified) in items:
            yield BlobInfo(digest, len(data), modified)

    def iter_digests(self) -> Iterator[str]:
        return (blob.digest for blob in self.iter_blobs())

    def corrupt(self, digest: str, data: bytes) -> None:
        """Test hook: replace a blob's bytes without changing its digest."""
        with self._lock:
            self._blobs[digest] = (data, time.time())
