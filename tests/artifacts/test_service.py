"""The Artifacts service end to end on a local store: dedup, versions, aliases, lineage,
round trips, references, datasets, verify and gc."""

from __future__ import annotations

import filecmp
import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from labledger.artifacts.local import LocalBlobStore
from labledger.config import Settings
from labledger.errors import ArtifactError
from labledger.sdk.artifacts import Artifacts
from labledger.store.base import ArtifactVersion, Store
from tests.artifacts.helpers import age, write


def blob_files(settings: Settings) -> list[Path]:
    root = Path(settings.artifact_uri) / "sha256"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def disk_usage(paths: list[Path]) -> int:
    return sum(p.stat().st_blocks * 512 for p in paths)


def make_tree(root: Path) -> Path:
    write(root / "weights.bin", os.urandom(3 * 1024 * 1024 + 5))
    write(root / "config.json", '{"lr": 0.1}')
    write(root / "empty.txt", b"")
    write(root / "nested" / "deeper" / "blob.bin", bytes(range(256)) * 17 + b"\x00\xff")
    write(root / "nested" / "copy-of-config.json", '{"lr": 0.1}')  # same bytes twice
    write(root / "unicodé dir" / "naïve file.txt", "ünïcode")
    return root


def assert_same_tree(a: Path, b: Path) -> None:
    def listing(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    assert listing(a) == listing(b)
    for rel in listing(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


# --- content addressing and versions -----------------------------------------------------
def test_same_file_from_two_runs_is_stored_once(
    service: Artifacts, new_run: Callable[[], str], settings: Settings, tmp_path: Path
) -> None:
    data = os.urandom(1024 * 1024)
    first = write(tmp_path / "run1" / "model.pt", data)
    second = write(tmp_path / "run2" / "renamed.pt", data)
    a = service.log(new_run(), first, name="model-a", type="model")
    b = service.log(new_run(), second, name="model-b", type="model")
    assert a.digest == b.digest == hashlib.sha256(data).hexdigest()
    files = blob_files(settings)
    assert len(files) == 1
    assert files[0].stat().st_size == len(data)
    assert disk_usage(files) < 2 * len(data)


def test_new_version_only_when_content_changes(service: Artifacts, tmp_path: Path) -> None:
    path = write(tmp_path / "model.pt", b"weights v0")
    assert service.log(None, path, name="m").ref == "m:v0"
    assert service.log(None, path, name="m").ref == "m:v0"
    write(path, b"weights v1")
    assert service.log(None, path, name="m").ref == "m:v1"
    assert service.log(None, path, name="m").ref == "m:v1"
    write(path, b"weights v0")
    back = service.log(None, path, name="m")
    assert back.ref == "m:v0" and "latest" in back.aliases
    assert [v.ref for v in service.versions("m")] == ["m:v0", "m:v1"]


def test_default_name_type_and_metadata(service: Artifacts, tmp_path: Path) -> None:
    path = write(tmp_path / "my model (final).pt", b"w")
    v = service.log(None, path, metadata={"acc": 0.97, "nested": {"bad": math.nan}})
    assert v.name == "my-model-final-.pt"
    assert v.type == "artifact"
    assert v.metadata == {"acc": 0.97, "nested": {"bad": "nan"}}


def test_unchanged_files_are_not_hashed_again(service: Artifacts, tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    for path in tree.rglob("*"):
        if path.is_file():
            age(path)
    service.log(None, tree, name="t")
    cache = service._cache()
    misses = cache.misses
    service.log(None, tree, name="t")
    assert cache.misses == misses and cache.hits == 6


def test_a_name_keeps_its_type(service: Artifacts, tmp_path: Path) -> None:
    path = write(tmp_path / "f", b"x")
    service.log(None, path, name="m", type="model")
    with pytest.raises(ArtifactError, match="holds type 'model', not 'dataset'"):
        service.log(None, write(tmp_path / "g", b"y"), name="m", type="dataset")


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/b", "..", "x\x00y", "a\\b"])
def test_path_traversal_names_are_refused(service: Artifacts, tmp_path: Path, name: str) -> None:
    path = write(tmp_path / "f", b"x")
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        service.log(None, path, name=name)
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        service.use(name + ":v0")
    assert service.versions() == []


def test_files_with_backslashes_in_their_names_are_refused(
    service: Artifacts, tmp_path: Path
) -> None:
    write(tmp_path / "d" / "a\\..\\b.txt", b"x")
    with pytest.raises(ArtifactError, match="backslash"):
        service.log(None, tmp_path / "d", name="d")


def test_a_tampered_manifest_cannot_write_outside_the_destination(
    service: Artifacts, store: Store, tmp_path: Path
) -> None:
    good = service.log(None, write(tmp_path / "f", b"payload"), name="m")
    evil = ArtifactVersion(
        name="evil",
        version=0,
        type="model",
        digest="e" * 64,
        size=7,
        manifest=[{"path": "../../escaped.txt", "digest": good.digest, "size": 7}],
    )
    store.artifacts.add_version(evil)
    with pytest.raises(ArtifactError, match="invalid path in artifact"):
        service.use("evil", dest=tmp_path / "dest" / "inner")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "dest" / "escaped.txt").exists()


def test_other_bad_inputs(service: Artifacts, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot log"):
        service.log(None, tmp_path / "missing.pt")
    with pytest.raises(ArtifactError, match="reference=True"):
        service.log(None, "s3://bucket/data/")
    path = write(tmp_path / "f", b"x")
    with pytest.raises(ArtifactError, match="invalid alias"):
        service.log(None, path, aliases=["v2"])
    service.log(None, path, name="m")
    with pytest.raises(ArtifactError, match="moves by itself"):
        service.alias("m:v0", "latest")


def test_a_file_changing_while_it_is_logged_is_refused(
    service: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "f", b"original")
    original_put = LocalBlobStore.put_file

    def put_then_modify(self: LocalBlobStore, digest: str, source: Path) -> bool:
        stored = original_put(self, digest, source)
        source.write_bytes(b"modified while logging")
        return stored

    monkeypatch.setattr(LocalBlobStore, "put_file", put_then_modify)
    with pytest.raises(ArtifactError, match="changed while it was being logged"):
        service.log(None, path, name="m")
    assert service.versions() == []


# --- aliases, use and lineage ------------------------------------------------------------
def test_aliases_can_be_set_when_logging_and_moved(service: Artifacts, tmp_path: Path) -> None:
    path = write(tmp_path / "model.pt", b"first")
    v0 = service.log(None, path, name="m", aliases=["best"])
    assert v0.aliases == ["best", "latest"]
    write(path, b"second")
    service.log(None, path, name="m")
    assert service.use("m:best").read_bytes() == b"first"
    service.alias("m:v1", "best")
    assert service.use("m:best").read_bytes() == b"second"
    service.alias("m:best", "production")
    assert service.get("m:production").version == 1
    assert service.get("m:v0").aliases == []


def test_use_records_lineage_both_ways(
    service: Artifacts, new_run: Callable[[], str], tmp_path: Path
) -> None:
    producer, consumer = new_run(), new_run()
    service.log(producer, write(tmp_path / "model.pt", b"w"), name="m", type="model")
    data = service.use_dataset(producer, str(write(tmp_path / "train.csv", "x,y\n1,2\n")))
    path = service.use("m:latest", run_id=consumer)
    assert path.read_bytes() == b"w"
    service.use("m")  # no run: nothing recorded

    lineage = service.lineage("m:v0")
    assert lineage.producer == producer and lineage.consumers == [consumer]
    assert service.lineage(data.ref).producer is None
    assert service.lineage(data.ref).consumers == [producer]

    runs = service.run_lineage(producer)
    assert [v.ref for v in runs.outputs] == ["m:v0"]
    assert [v.ref for v in runs.inputs] == [data.ref]
    assert [v.ref for v in service.run_lineage(consumer).inputs] == ["m:v0"]


def test_directory_round_trip_is_byte_for_byte(service: Artifacts, tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    v = service.log(None, tree, name="tree")
    assert v.size == sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    assert len(v.manifest) == 6 and [e["path"] for e in v.manifest] == sorted(
        e["path"] for e in v.manifest
    )
    cached = service.use("tree")
    assert cached.parent.parent == service.cache_dir
    assert_same_tree(tree, cached)
    dest = service.use("tree:v0", dest=tmp_path / "out")
    assert dest == tmp_path / "out"
    assert_same_tree(tree, dest)


def test_single_file_comes_back_as_a_file(service: Artifacts, tmp_path: Path) -> None:
    path = write(tmp_path / "model.pt", os.urandom(5000))
    service.log(None, path, name="m")
    got = service.use("m", dest=tmp_path / "out")
    assert got == tmp_path / "out" / "model.pt"
    assert got.read_bytes() == path.read_bytes()


def test_cache_is_reused_and_repaired(
    service: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path / "tree")
    service.log(None, tree, name="tree")
    folder = service.use("tree")

    def no_download(*args: object) -> None:
        raise AssertionError("downloaded again")

    with monkeypatch.context() as patch:
        patch.setattr(LocalBlobStore, "get_to", no_download)
        assert service.use("tree") == folder
    (folder / "config.json").unlink()  # an incomplete cache entry is downloaded again
    assert service.use("tree") == folder
    assert_same_tree(tree, folder)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


# --- references and datasets -------------------------------------------------------------
def test_local_reference_is_not_copied_and_changes_are_detected(
    service: Artifacts, settings: Settings, tmp_path: Path
) -> None:
    data = make_tree(tmp_path / "data")
    v = service.log(None, data, name="data", type="dataset", reference=True)
    assert v.reference and v.uri == data.as_uri()
    assert blob_files(settings) == []
    assert service.verify("data") == []
    assert_same_tree(data, service.use("data"))

    write(data / "config.json", '{"lr": 0.2}')
    write(data / "new.txt", "added")
    (data / "empty.txt").unlink()
    assert service.verify("data:v0") == [
        "changed: config.json (checksum differs)",
        "missing: empty.txt",
        "added: new.txt",
    ]
    with pytest.raises(ArtifactError, match="changed since it was logged"):
        service.use("data", dest=tmp_path / "out")


def test_reference_to_a_deleted_file(service: Artifacts, tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", "a,b\n")
    service.log(None, path, reference=True)
    path.unlink()
    assert service.verify("train.csv") == [f"missing: {path} no longer exists"]


def test_use_dataset_tells_subsets_apart(
    service: Artifacts, new_run: Callable[[], str], tmp_path: Path
) -> None:
    write(tmp_path / "subset-a" / "x.csv", "1\n2\n")
    write(tmp_path / "subset-b" / "x.csv", "3\n4\n")
    run_a, run_b, run_a2 = new_run(), new_run(), new_run()
    a = service.use_dataset(run_a, str(tmp_path / "subset-a"), name="digits")
    b = service.use_dataset(run_b, str(tmp_path / "subset-b"), name="digits")
    a2 = service.use_dataset(run_a2, str(tmp_path / "subset-a"), name="digits")
    assert (a.ref, b.ref, a2.ref) == ("digits:v0", "digits:v1", "digits:v0")
    assert a.digest != b.digest
    assert a.type == "dataset" and a.reference and a.run_id is None
    assert service.lineage("digits:v0").consumers == [run_a, run_a2]
    assert [v.ref for v in service.run_lineage(run_b).inputs] == ["digits:v1"]
    single = service.use_dataset(run_a, str(tmp_path / "subset-a" / "x.csv"))
    assert single.name == "x.csv"
    assert single.manifest[0]["digest"] == hashlib.sha256(b"1\n2\n").hexdigest()


# --- verify and gc -----------------------------------------------------------------------
def test_verify_finds_corrupt_and_missing_blobs(
    service: Artifacts, settings: Settings, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tree")
    v = service.log(None, tree, name="tree")
    assert service.verify("tree") == []
    store = LocalBlobStore(Path(settings.artifact_uri))
    by_path = {e["path"]: e["digest"] for e in v.manifest}
    corrupt = store.path(by_path["weights.bin"])
    corrupt.chmod(0o644)
    with open(corrupt, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))  # changed whatever it was (random bytes)
    store.delete(by_path["empty.txt"])
    problems = service.verify("tree")
    assert problems == [
        f"missing blob: empty.txt ({by_path['empty.txt'][:12]})",
        f"corrupt blob: weights.bin ({by_path['weights.bin'][:12]})",
    ]


def test_gc_keeps_every_referenced_blob_and_removes_orphans(
    service: Artifacts, settings: Settings, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tree")
    service.log(None, tree, name="tree")
    service.log(None, write(tmp_path / "model.pt", b"model"), name="m")
    service.log(None, make_tree(tmp_path / "ref"), name="ref", reference=True)
    orphan_bytes = b"no version references me"
    orphan = hashlib.sha256(orphan_bytes).hexdigest()
    service.blobs.put_file(orphan, write(tmp_path / "orphan", orphan_bytes))
    before = blob_files(settings)

    fresh = service.gc()  # default grace period: a just-written orphan may be an upload
    assert fresh.removed == [] and fresh.too_recent == 1

    dry = service.gc(dry_run=True, min_age=0)
    assert dry.removed == [orphan] and dry.removed_bytes == len(orphan_bytes)
    assert blob_files(settings) == before

    report = service.gc(min_age=0)
    assert report.removed == [orphan] and report.kept == 6
    assert not service.blobs.exists(orphan)
    assert len(blob_files(settings)) == len(before) - 1
    for version in service.versions():
        assert service.verify(version.ref) == [], version.ref
    assert service.gc(min_age=0).removed == []
