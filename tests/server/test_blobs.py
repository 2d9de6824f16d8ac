"""Artifact blobs through the server: streamed with a local folder, presigned (single and
multipart) with S3, dedup by digest across clients, and authorised per project."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labledger.artifacts.http import HttpBlobStore
from labledger.artifacts.local import LocalBlobStore
from labledger.artifacts.s3 import S3BlobStore
from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.errors import ArtifactError
from labledger.store import auth_store
from labledger.store.base import ArtifactVersion, Store
from tests.server.team import add_team, bucket_fixture, moto_url_fixture, team_app  # noqa: F401


def write(path: Path, data: bytes) -> tuple[Path, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def register(store: Store, project: str, digest: str, size: int) -> None:
    """An artifact version of a run in ``project`` holding blob ``digest``."""
    run = RunRecord(new_run_id(), project, "r", RunStatus.FINISHED, time.time())
    store.create_run(run)
    entry = {"path": "model.bin", "digest": digest, "size": size, "kind": "file"}
    version = ArtifactVersion(
        name=f"model-{digest[:6]}",
        version=0,
        type="model",
        digest=digest,
        size=size,
        manifest=[entry],
        run_id=run.run_id,
    )
    store.artifacts.add_version(version)


class Counting:
    """Counts requests by method and host, to see what was (not) sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def hook(self, request: httpx.Request) -> None:
        self.calls.append((request.method, request.url.path))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    from labledger.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'server' / 'labledger.db'}")
    yield store
    store.close()


def blob_client(app_client: Any, token: str, counting: Counting | None = None) -> HttpBlobStore:
    blobs = HttpBlobStore("http://testserver", token=token, client=app_client)
    if counting is not None:
        app_client.event_hooks["request"] = [counting.hook]
        blobs._s3.event_hooks["request"] = [counting.hook]
    return blobs


def test_local_folder_streams_and_dedups(sqlite_store: Store, tmp_path: Path) -> None:
    tokens = add_team(auth_store(sqlite_store))
    folder = LocalBlobStore(tmp_path / "server-blobs")
    source, digest = write(tmp_path / "w.bin", os.urandom(3 * 1024 * 1024 + 7))
    with team_app(sqlite_store, folder) as app:
        counting = Counting()
        alice = blob_client(app, tokens["alice"], counting)
        assert not alice.exists(digest)
        assert alice.put_file(digest, source) is True
        assert folder.exists(digest)
        assert ("PUT", f"/api/blobs/{digest}") in counting.calls
        counting.calls.clear()
        assert alice.put_file(digest, source) is False  # HEAD says it is there
        assert counting.calls == [("HEAD", f"/api/blobs/{digest}")]

        # alice's run in vision holds it: bob (viewer) reads it, carol (audio) cannot
        register(sqlite_store, "vision", digest, source.stat().st_size)
        bob = blob_client(app, tokens["bob"])
        bob.get_to(digest, tmp_path / "out" / "w.bin")
        assert (tmp_path / "out" / "w.bin").read_bytes() == source.read_bytes()
        assert bob.size(digest) == source.stat().st_size
        carol = app.get(
            f"/api/blobs/{digest}", headers={"Authorization": f"Bearer {tokens['carol']}"}
        )
        assert carol.status_code == 404
        root = blob_client(app, tokens["root"])
        assert b"".join(root.iter_bytes(digest)) == source.read_bytes()


def test_bad_upload_is_refused_and_not_stored(sqlite_store: Store, tmp_path: Path) -> None:
    tokens = add_team(auth_store(sqlite_store))
    folder = LocalBlobStore(tmp_path / "server-blobs")
    digest = hashlib.sha256(b"the real bytes").hexdigest()
    with team_app(sqlite_store, folder) as app:
        headers = {"Authorization": f"Bearer {tokens['alice']}"}
        response = app.put(f"/api/blobs/{digest}", content=b"other bytes", headers=headers)
        assert response.status_code == 400
        assert "do not match" in response.json()["error"]["message"]
        assert not folder.exists(digest)
        assert list((tmp_path / "server-blobs" / "tmp").iterdir()) == []
        bad = app.head("/api/blobs/not-a-digest", headers=headers)
        assert bad.status_code == 400
        viewer = {"Authorization": f"Bearer {tokens['bob']}"}
        assert (
            app.put(f"/api/blobs/{digest}", content=b"the real bytes", headers=viewer).status_code
            == 403
        )
        with pytest.raises(ArtifactError, match="gc"):
            blob_client(app, tokens["alice"]).delete(digest)


def test_s3_presigned_multipart_and_dedup_across_clients(
    sqlite_store: Store, tmp_path: Path, bucket: str, moto_url: str
) -> None:
    tokens = add_team(auth_store(sqlite_store))
    s3 = S3BlobStore(f"s3://{bucket}/team", endpoint_url=moto_url)
    data = os.urandom(8 * 1024 * 1024 * 2 + 12345)  # three parts of 8 MB
    source, digest = write(tmp_path / "big.bin", data)
    with team_app(sqlite_store, s3) as app:
        counting = Counting()
        alice = blob_client(app, tokens["alice"], counting)
        assert alice.put_file(digest, source) is True
        parts = [c for c in counting.calls if c[0] == "PUT"]
        assert len(parts) == 3 and all("/api/" not in path for _, path in parts)
        assert s3.exists(digest) and s3.size(digest) == len(data)
        keys = [o["Key"] for o in s3.client.list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == [s3.key(digest)]  # the staging object is gone

        # a second client (another user) does not send the bytes again
        counting2 = Counting()
        carol = blob_client(app, tokens["carol"], counting2)
        assert carol.put_file(digest, source) is False
        assert [m for m, _ in counting2.calls] == ["HEAD"]

        # download goes straight to S3 through a presigned redirect
        register(sqlite_store, "vision", digest, len(data))
        bob = blob_client(app, tokens["bob"])
        bob.get_to(digest, tmp_path / "down.bin")
        assert hashlib.sha256((tmp_path / "down.bin").read_bytes()).hexdigest() == digest
        redirect = app.get(
            f"/api/blobs/{digest}",
            headers={"Authorization": f"Bearer {tokens['bob']}"},
            follow_redirects=False,
        )
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(moto_url)


def test_s3_upload_with_wrong_bytes_never_becomes_a_blob(
    sqlite_store: Store, tmp_path: Path, bucket: str, moto_url: str
) -> None:
    tokens = add_team(auth_store(sqlite_store))
    s3 = S3BlobStore(f"s3://{bucket}/team", endpoint_url=moto_url)
    digest = hashlib.sha256(b"claimed").hexdigest()
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    with team_app(sqlite_store, s3) as app:
        plan = app.post(f"/api/blobs/{digest}/uploads", json={"size": 5}, headers=headers).json()
        assert plan["method"] == "single"
        assert httpx.put(plan["urls"][0], content=b"other").status_code == 200
        done = app.post(f"/api/blobs/{digest}/uploads/{plan['nonce']}", json={}, headers=headers)
        assert done.status_code == 400
        assert not s3.exists(digest)
        assert "Contents" not in s3.client.list_objects_v2(Bucket=bucket)
