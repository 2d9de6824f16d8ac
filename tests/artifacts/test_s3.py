"""Artifacts on S3 end to end, against moto's S3 server on 127.0.0.1 (real HTTP, real boto3):
blobs stored in a bucket, and datasets referenced in place by ETag and size."""

from __future__ import annotations

import filecmp
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labledger.artifacts.s3 import S3BlobStore
from labledger.config import Settings
from labledger.errors import ArtifactError
from labledger.sdk.artifacts import Artifacts
from labledger.store.base import Store
from tests.artifacts.helpers import create_run, write


@pytest.fixture
def s3_service(
    store: Store, settings: Settings, s3_bucket: str, moto_endpoint: str
) -> Iterator[Artifacts]:
    on_s3 = settings.with_overrides(
        artifact_uri=f"s3://{s3_bucket}/team/artifacts", s3_endpoint_url=moto_endpoint
    )
    service = Artifacts(store, on_s3)
    yield service
    service.close()


def test_stored_artifacts_round_trip_through_s3(
    s3_service: Artifacts, store: Store, s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    write(tree / "weights.bin", os.urandom(10 * 1024 * 1024 + 1))  # multipart upload
    write(tree / "sub" / "a.txt", "hello")
    write(tree / "sub" / "b.txt", "hello")  # same bytes: one object
    run = create_run(store)
    v = s3_service.log(run, tree, name="model", type="model")

    assert isinstance(s3_service.blobs, S3BlobStore)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert len(keys) == 2
    assert all(k.startswith("team/artifacts/sha256/") for k in keys)

    out = s3_service.use("model:v0", run_id=create_run(store), dest=tmp_path / "out")
    for rel in ("weights.bin", "sub/a.txt", "sub/b.txt"):
        assert filecmp.cmp(tree / rel, out / rel, shallow=False)
    assert s3_service.verify(v.ref) == []


def test_gc_on_s3_keeps_referenced_blobs(
    s3_service: Artifacts, s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    kept = s3_service.log(None, write(tmp_path / "keep.bin", b"keep me"), name="k")
    orphan = write(tmp_path / "orphan.bin", b"orphan")
    digest = hashlib.sha256(b"orphan").hexdigest()
    s3_service.blobs.put_file(digest, orphan)
    assert s3_service.gc(dry_run=True, min_age=0).removed == [digest]
    assert s3_service.blobs.exists(digest)
    assert s3_service.gc(min_age=0).removed == [digest]
    assert not s3_service.blobs.exists(digest)
    assert s3_service.blobs.exists(kept.digest)


def test_corrupt_s3_blob_is_reported(
    s3_service: Artifacts, s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    v = s3_service.log(None, write(tmp_path / "m.bin", b"original"), name="m")
    blobs = s3_service.blobs
    assert isinstance(blobs, S3BlobStore)
    s3_client.put_object(Bucket=s3_bucket, Key=blobs.key(v.digest), Body=b"tampered")
    assert s3_service.verify("m") == [f"corrupt blob: m.bin ({v.digest[:12]})"]
    with pytest.raises(ArtifactError, match="does not match its digest"):
        s3_service.use("m", dest=tmp_path / "out")


def test_s3_prefix_reference_detects_changes(
    store: Store,
    settings: Settings,
    s3_client: Any,
    s3_bucket: str,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    service = Artifacts(store, settings.with_overrides(s3_endpoint_url=moto_endpoint))
    for key, body in {"data/a.csv": b"1,2\n", "data/sub/b.csv": b"3,4\n", "other/c": b"x"}.items():
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=body)
    s3_client.put_object(Bucket=s3_bucket, Key="data/folder-marker/", Body=b"")
    run = create_run(store)
    v = service.use_dataset(run, f"s3://{s3_bucket}/data/")
    assert v.name == "data" and v.reference and v.uri == f"s3://{s3_bucket}/data/"
    assert [e["path"] for e in v.manifest] == ["a.csv", "sub/b.csv"]
    assert all(e["etag"] and e["size"] == 4 for e in v.manifest)
    assert service.verify("data") == []
    assert service.lineage("data").consumers == [run]

    fetched = service.use("data", dest=tmp_path / "copy")
    assert (fetched / "sub" / "b.csv").read_bytes() == b"3,4\n"

    s3_client.put_object(Bucket=s3_bucket, Key="data/a.csv", Body=b"9,9\n")
    s3_client.put_object(Bucket=s3_bucket, Key="data/new.csv", Body=b"new")
    s3_client.delete_object(Bucket=s3_bucket, Key="data/sub/b.csv")
    assert service.verify("data") == [
        "changed: a.csv (checksum differs)",
        "added: new.csv",
        "missing: sub/b.csv",
    ]
    with pytest.raises(ArtifactError, match="changed since it was logged"):
        service.use("data", dest=tmp_path / "again")
    assert service.use_dataset(run, f"s3://{s3_bucket}/data").ref == "data:v1"


def test_s3_single_object_reference(
    store: Store,
    settings: Settings,
    s3_client: Any,
    s3_bucket: str,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    service = Artifacts(store, settings.with_overrides(s3_endpoint_url=moto_endpoint))
    s3_client.put_object(Bucket=s3_bucket, Key="raw/train.parquet", Body=b"PAR1")
    v = service.log(None, f"s3://{s3_bucket}/raw/train.parquet", reference=True)
    assert v.name == "train.parquet" and v.manifest[0]["kind"] == "file"
    got = service.use(v.ref, dest=tmp_path / "out")
    assert got == tmp_path / "out" / "train.parquet" and got.read_bytes() == b"PAR1"
    s3_client.delete_object(Bucket=s3_bucket, Key="raw/train.parquet")
    assert service.verify(v.ref) == [
        f"missing: s3://{s3_bucket}/raw/train.parquet no longer exists"
    ]
    with pytest.raises(ArtifactError, match="nothing found"):
        service.log(None, f"s3://{s3_bucket}/nothing/here/", reference=True)
