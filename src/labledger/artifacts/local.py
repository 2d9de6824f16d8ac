"""``LocalBlobStore``: blobs as read-only files ``<root>/sha256/<2 hex>/<digest>``.

A put copies into ``<root>/tmp/``, hashing on the way, fsyncs, then renames into place, so a
reader never sees a partial blob and a crash leaves only a temporary file (``gc`` removes old
ones). Putting a blob that already exists touches it instead, which tells a concurrent ``gc``
that it is in use again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from labledger.artifacts.blobstore import DIGEST_PATTERN, BlobInfo, check_digest
from labledger.artifacts.hashing import CHUNK_SIZE, iter_chunks
from labledger.errors import ArtifactError


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_verified(
    source: Path,
    dest: Path,
    digest: str,
    *,
    durable: bool = False,
    tmp_dir: Path | None = None,
    mode: int | None = None,
) -> int:
    """Copy ``source`` to ``dest`` atomically (temp file + rename), checking the SHA-256.

    The temporary file lives in ``tmp_dir`` (default: beside ``dest``; same file system).
    Returns the number of bytes copied. Raises ArtifactError, leaving ``dest`` untouched, when
    the bytes do not hash to ``digest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=tmp_dir or dest.parent, prefix=f".{dest.name[:40]}.", suffix=".tmp"
    )
    tmp = Path(tmp_name)
    try:
        hasher = hashlib.sha256()
        size = 0
        with open(fd, "wb") as out, open(source, "rb") as src:
            for chunk in iter_chunks(src, CHUNK_SIZE):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        if hasher.hexdigest() != digest:
            raise ArtifactError(f"{source} does not match its digest {digest[:12]} (it changed?)")
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(dest.parent)
    return size


class LocalBlobStore:
    """Content-addressed files in a local folder (the default, inside the store folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.uri = str(self.root)
        self._blobs = self.root / "sha256"
        self._tmp = self.root / "tmp"

    def __repr__(self) -> str:
        return f"LocalBlobStore({self.uri!r})"

    def path(self, digest: str) -> Path:
        check_digest(digest)
        return self._blobs / digest[:2] / digest

    def put_file(self, digest: str, path: Path) -> bool:
        target = self.path(digest)
        if target.exists():
            with contextlib.suppress(OSError):
                os.utime(target)
            return False
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                _fsync_dir(self._blobs)
            copy_verified(path, target, digest, durable=True, tmp_dir=self._tmp, mode=0o444)
        except OSError as exc:
            raise ArtifactError(f"cannot store {path} in {self.uri}: {exc}") from exc
        return True

    def get_to(self, digest: str, dest: Path) -> None:
        source = self.path(digest)
        if not source.is_file():
            raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}")
        try:
            copy_verified(source, dest, digest)
        except OSError as exc:
            raise ArtifactError(f"cannot write {dest}: {exc.strerror or exc}") from exc

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        try:
            with open(self.path(digest), "rb") as stream:
                yield from iter_chunks(stream)
        except FileNotFoundError:
            raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}") from None

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        info = self.info(digest)
        if info is None:
            raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}")
        return info.size

    def info(self, digest: str) -> BlobInfo | None:
        try:
            st = self.path(digest).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(digest, st.st_size, st.st_mtime)

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        if not self._blobs.is_dir():
            return
        for shard in sorted(self._blobs.iterdir()):
            if not shard.is_dir():
                continue
            for entry in sorted(shard.iterdir()):
                if DIGEST_PATTERN.match(entry.name) and entry.name[:2] == shard.name:
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    yield BlobInfo(entry.name, st.st_size, st.st_mtime)

    def iter_digests(self) -> Iterator[str]:
        return (blob.digest for blob in self.iter_blobs())

    def remove_stale_temp(self, min_age: float) -> int:
        """Delete temporary files left by interrupted puts; returns the bytes freed."""
        freed = 0
        if not self._tmp.is_dir():
            return 0
        cutoff = time.time() - min_age
        for entry in self._tmp.iterdir():
            try:
                st = entry.stat()
                if st.st_mtime <= cutoff:
                    entry.unlink()
                    freed += st.st_size
            except OSError:
                continue
        return freed
