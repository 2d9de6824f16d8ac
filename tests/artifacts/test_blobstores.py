"""The BlobStore contract, passed by the local folder, the in-memory fake and S3.

S3 runs against moto's HTTP server on 127.0.0.1 (see conftest), through real boto3 requests.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labledger.artifacts.blobstore import BlobStore, open_blob_store
from labledger.artifacts.local import LocalBlobStore
from labledger.artifacts.memory import MemoryBlobStore
from labledger.artifacts.s3 import S3BlobStore
from labledger.errors import ArtifactError, ConfigError, MissingExtra
from tests.artifacts.helpers import write


@pytest.fixture(params=["local", "memory", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
    elif request.param == "memory":
        yield MemoryBlobStore()
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        yield S3BlobStore(f"s3://{bucket}/some/prefix", endpoint_url=endpoint)


def blob_file(tmp_path: Path, data: bytes, name: str = "src.bin") -> tuple[str, Path]:
    return hashlib.sha256(data).hexdigest(), write(tmp_path / name, data)


def test_put_get_round_trip(blobs: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024 + 3)  # above the S3 multipart threshold
    digest, src = blob_file(tmp_path, data)
    assert isinstance(blobs, BlobStore)
    assert not blobs.exists(digest)
    assert blobs.put_file(digest, src) is True
    assert blobs.exists(digest)
    assert blobs.size(digest) == len(data)
    dest = tmp_path / "out" / "copy.bin"
    blobs.get_to(digest, dest)
    assert dest.read_bytes() == data
    assert b"".join(blobs.iter_bytes(digest)) == data
    info = blobs.info(digest)
    assert info is not None and info.size == len(data)


def test_put_is_idempotent(blobs: BlobStore, tmp_path: Path) -> None:
    digest, src = blob_file(tmp_path, b"same bytes")
    assert blobs.put_file(digest, src) is True
    assert blobs.put_file(digest, src) is False
    assert list(blobs.iter_digests()) == [digest]


def test_listing_and_delete(blobs: BlobStore, tmp_path: Path) -> None:
    digests = []
    for i in range(3):
        digest, src = blob_file(tmp_path, f"blob {i}".encode(), f"{i}.bin")
        blobs.put_file(digest, src)
        digests.append(digest)
    assert sorted(blobs.iter_digests()) == sorted(digests)
    assert sorted(b.digest for b in blobs.iter_blobs()) == sorted(digests)
    blobs.delete(digests[0])
    blobs.delete(digests[0])  # missing: ignored
    assert sorted(blobs.iter_digests()) == sorted(digests[1:])
    assert blobs.info(digests[0]) is None


def test_missing_blob_is_an_artifact_error(blobs: BlobStore, tmp_path: Path) -> None:
    digest = "0" * 64
    with pytest.raises(ArtifactError):
        blobs.get_to(digest, tmp_path / "x")
    with pytest.raises(ArtifactError, match="missing"):
        blobs.size(digest)
    assert not (tmp_path / "x").exists()


def test_malformed_digests_are_refused(blobs: BlobStore, tmp_path: Path) -> None:
    src = write(tmp_path / "f", b"x")
    for bad in ("../../etc/passwd", "ABC", "0" * 63, "g" * 64):
        with pytest.raises(ArtifactError, match="invalid blob digest"):
            blobs.put_file(bad, src)
        with pytest.raises(ArtifactError, match="invalid blob digest"):
            blobs.exists(bad)


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_bytes_that_do_not_match_the_digest_are_refused(kind: str, tmp_path: Path) -> None:
    store: BlobStore = LocalBlobStore(tmp_path / "blobs") if kind == "local" else MemoryBlobStore()
    src = write(tmp_path / "f", b"actual bytes")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(ArtifactError, match="does not match"):
        store.put_file(wrong, src)
    assert not store.exists(wrong)


def test_local_puts_are_atomic_read_only_and_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    digest, src = blob_file(tmp_path, b"payload")
    store.put_file(digest, src)
    path = store.path(digest)
    assert path == tmp_path / "blobs" / "sha256" / digest[:2] / digest
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_a_failed_local_put_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    src = write(tmp_path / "f", b"abc")
    with pytest.raises(ArtifactError):
        store.put_file(hashlib.sha256(b"xyz").hexdigest(), src)
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
    assert list(store.iter_digests()) == []


def test_stale_temp_files_are_removed_by_age(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    old = write(tmp_path / "blobs" / "tmp" / "abc.partial", b"x" * 10)
    os.utime(old, (0, 0))
    new = write(tmp_path / "blobs" / "tmp" / "def.partial", b"y" * 5)
    assert store.remove_stale_temp(min_age=60) == 10
    assert not old.exists() and new.exists()


def test_open_blob_store_chooses_by_scheme(tmp_path: Path) -> None:
    assert isinstance(open_blob_store(str(tmp_path)), LocalBlobStore)
    local = open_blob_store((tmp_path / "a b").as_uri())
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "a b"
    s3 = open_blob_store("s3://bucket/pre/fix", s3_endpoint_url="http://127.0.0.1:1")
    assert isinstance(s3, S3BlobStore) and s3.uri == "s3://bucket/pre/fix/"
    with pytest.raises(ConfigError, match="unsupported artifact storage"):
        open_blob_store("ftp://host/x")
    with pytest.raises(ConfigError, match="no bucket"):
        open_blob_store("s3:///x")


def test_missing_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    store = S3BlobStore("s3://bucket/x")  # opening is lazy: no error yet
    with pytest.raises(MissingExtra, match=r"labledger\[s3\]"):
        store.exists("0" * 64)


def test_importing_artifacts_does_not_import_boto3() -> None:
    import subprocess

    code = "import labledger.artifacts, labledger.sdk.artifacts, sys; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_s3_errors_are_one_line_artifact_errors(moto_endpoint: str, aws_env: None) -> None:
    store = S3BlobStore("s3://no-such-bucket/x", endpoint_url=moto_endpoint)
    with pytest.raises(ArtifactError, match=r"S3 error while listing .*NoSuchBucket"):
        list(store.iter_digests())
