"""Streaming hashing and the persistent hash cache."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from labledger.artifacts.hashing import HashCache, hash_file, sha256_file
from labledger.errors import ArtifactError
from tests.artifacts.helpers import age, write


def test_streamed_digest_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks and a partial one
    path = write(tmp_path / "f.bin", data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_unchanged_file_is_not_hashed_again_even_by_a_new_process(tmp_path: Path) -> None:
    path = write(tmp_path / "f.bin", b"x" * 1000)
    age(path)
    cache = HashCache(tmp_path / "cache.db")
    digest, _ = hash_file(path, cache)
    cache.close()

    reopened = HashCache(tmp_path / "cache.db")
    assert hash_file(path, reopened)[0] == digest
    assert (reopened.hits, reopened.misses) == (1, 0)


def test_changed_file_is_hashed_again(tmp_path: Path) -> None:
    path = write(tmp_path / "f.bin", b"a" * 100)
    age(path, 120)
    cache = HashCache(tmp_path / "cache.db")
    first, _ = hash_file(path, cache)
    cache.flush()
    path.write_bytes(b"b" * 100)  # same size, new mtime
    age(path, 60)
    second, _ = hash_file(path, cache)
    assert first != second
    assert second == hashlib.sha256(b"b" * 100).hexdigest()
    assert cache.misses == 2


def test_replaced_file_with_same_size_and_mtime_is_caught_by_its_inode(tmp_path: Path) -> None:
    path = write(tmp_path / "f.bin", b"a" * 100)
    age(path, 120)
    stamp = path.stat().st_mtime_ns
    cache = HashCache(tmp_path / "cache.db")
    hash_file(path, cache)
    cache.flush()
    other = write(tmp_path / "g.bin", b"b" * 100)
    os.utime(other, ns=(stamp, stamp))
    other.replace(path)
    assert hash_file(path, cache)[0] == hashlib.sha256(b"b" * 100).hexdigest()


def test_freshly_written_files_are_not_cached(tmp_path: Path) -> None:
    """A write in the same mtime tick as the hash would go unnoticed ("racy clean")."""
    path = write(tmp_path / "f.bin", b"fresh")
    cache = HashCache(tmp_path / "cache.db")
    hash_file(path, cache)
    cache.flush()
    hash_file(path, cache)
    assert cache.hits == 0


def test_a_broken_cache_file_only_costs_speed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = write(tmp_path / "cache.db", b"this is not a database" * 100)
    path = write(tmp_path / "f.bin", b"data")
    age(path)
    cache = HashCache(broken)
    with caplog.at_level(logging.WARNING):
        assert hash_file(path, cache)[0] == hashlib.sha256(b"data").hexdigest()
        cache.flush()
    assert "hash cache" in caplog.text


def test_missing_file_is_an_artifact_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot read"):
        hash_file(tmp_path / "nope")
