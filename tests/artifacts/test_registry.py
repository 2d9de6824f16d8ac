"""The ArtifactRegistry contract on SQLite and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import pytest

from labledger.errors import ArtifactError, RunNotFound
from labledger.store import open_store
from labledger.store.base import ArtifactRegistry, ArtifactVersion, Store
from tests.artifacts.helpers import create_run


@pytest.fixture
def db(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    yield opened
    opened.close()


def version(
    name: str, content: str, run_id: str | None = None, reference: bool = False
) -> ArtifactVersion:
    digest = hashlib.sha256(content.encode()).hexdigest()
    return ArtifactVersion(
        name=name,
        version=0,
        type="model",
        digest=digest,
        size=len(content),
        manifest=[{"path": "f", "digest": digest, "size": len(content), "kind": "file"}],
        metadata={"content": content},
        reference=reference,
        uri="file:///x" if reference else None,
        run_id=run_id,
    )


def test_registry_satisfies_the_protocol(db: Store) -> None:
    assert isinstance(db.artifacts, ArtifactRegistry)


def test_versions_are_allocated_in_order_and_reused_for_the_same_content(db: Store) -> None:
    reg = db.artifacts
    run = create_run(db)
    v0 = reg.add_version(version("m", "a", run))
    v1 = reg.add_version(version("m", "b", run))
    again = reg.add_version(version("m", "a", run))
    other = reg.add_version(version("other", "a"))
    assert (v0.version, v1.version, again.version, other.version) == (0, 1, 0, 0)
    assert again.digest == v0.digest and again.metadata == {"content": "a"}
    assert v0.run_id == run and other.run_id is None
    assert v0.created_at > 0
    assert [v.ref for v in reg.list_versions()] == ["m:v0", "m:v1", "other:v0"]
    assert [v.ref for v in reg.list_versions("m")] == ["m:v0", "m:v1"]


def test_latest_follows_the_last_logged_content(db: Store) -> None:
    reg = db.artifacts
    reg.add_version(version("m", "a"))
    assert reg.get_version("m").version == 0
    reg.add_version(version("m", "b"))
    assert reg.get_version("m").version == 1
    assert reg.get_version("m", "latest").aliases == ["latest"]
    reg.add_version(version("m", "a"))  # logged again: latest points back at v0
    assert reg.get_version("m").version == 0


def test_aliases_move(db: Store) -> None:
    reg = db.artifacts
    reg.add_version(version("m", "a"))
    reg.add_version(version("m", "b"))
    reg.set_alias("m", "production", 0)
    assert reg.get_version("m", "production").version == 0
    reg.set_alias("m", "production", 1)
    assert reg.get_version("m", "production").version == 1
    assert reg.get_version("m", "v0").aliases == []
    assert reg.get_version("m", "v1").aliases == ["latest", "production"]


def test_lookup_errors_say_what_exists(db: Store) -> None:
    reg = db.artifacts
    with pytest.raises(ArtifactError, match="no artifact named 'm'"):
        reg.get_version("m")
    reg.add_version(version("m", "a"))
    reg.set_alias("m", "best", 0)
    with pytest.raises(ArtifactError, match=r"no version v9 \(latest is v0\)"):
        reg.get_version("m", "v9")
    with pytest.raises(ArtifactError, match=r"no alias 'prod' \(aliases: best, latest\)"):
        reg.get_version("m", "prod")
    with pytest.raises(ArtifactError, match="no version v3"):
        reg.set_alias("m", "best", 3)


def test_lineage_both_ways(db: Store) -> None:
    reg = db.artifacts
    producer, consumer_a, consumer_b = create_run(db), create_run(db), create_run(db)
    reg.add_version(version("model", "w", producer))
    reg.add_version(version("data", "d"))
    reg.record_use(producer, "data", 0)
    reg.record_use(consumer_a, "model", 0)
    reg.record_use(consumer_b, "model", 0)
    reg.record_use(consumer_a, "model", 0)  # twice: recorded once
    assert reg.consumers("model", 0) == [consumer_a, consumer_b]
    assert [v.ref for v in reg.produced_by(producer)] == ["model:v0"]
    assert [v.ref for v in reg.used_by(producer)] == ["data:v0"]
    assert [v.ref for v in reg.used_by(consumer_a)] == ["model:v0"]
    assert reg.produced_by(consumer_a) == []


def test_unknown_runs_are_refused(db: Store) -> None:
    reg = db.artifacts
    with pytest.raises(RunNotFound):
        reg.add_version(version("m", "a", "nosuchrun"))
    reg.add_version(version("m", "a"))
    with pytest.raises(RunNotFound):
        reg.record_use("nosuchrun", "m", 0)


def test_referenced_digests_cover_stored_versions_only(db: Store) -> None:
    reg = db.artifacts
    stored = reg.add_version(version("m", "a"))
    folder = ArtifactVersion(
        name="dir",
        version=0,
        type="dataset",
        digest="f" * 64,
        size=2,
        manifest=[
            {"path": "x", "digest": "1" * 64, "size": 1},
            {"path": "y", "digest": "2" * 64, "size": 1},
        ],
    )
    reg.add_version(folder)
    reg.add_version(version("ref", "r", reference=True))
    assert reg.referenced_digests() == {stored.digest, "1" * 64, "2" * 64}


def test_concurrent_writers_get_distinct_versions(store_uri: str) -> None:
    """Eight threads, each with its own store handle (its own connections), log at once."""
    first = open_store(store_uri)
    handles = [open_store(store_uri) for _ in range(8)]
    results: list[ArtifactVersion] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(handles))

    def work(index: int, handle: Store) -> None:
        try:
            barrier.wait()
            for j in range(3):
                results.append(handle.artifacts.add_version(version("m", f"{index}-{j}")))
                # every thread also logs one shared content: it must become one version
                results.append(handle.artifacts.add_version(version("m", "shared")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, h)) for i, h in enumerate(handles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        versions = first.artifacts.list_versions("m")
        assert [v.version for v in versions] == list(range(8 * 3 + 1))
        assert len({v.digest for v in versions}) == len(versions)
        shared = {r.version for r in results if r.metadata == {"content": "shared"}}
        assert len(shared) == 1
    finally:
        for handle in (first, *handles):
            handle.close()


def test_a_writer_that_loses_the_version_race_retries(store_uri: str) -> None:
    """Another transaction inserts v0 behind the registry's back and commits late: on
    PostgreSQL our insert of v0 fails on the unique index and is retried as v1; on SQLite we
    wait for the write lock. Either way we end up with v1 and nothing is lost."""
    from sqlalchemy import insert

    from labledger.store.schema import artifact_versions

    db = open_store(store_uri)
    engine = db._engine  # type: ignore[attr-defined]
    row = version("m", "sneaky")
    result: list[ArtifactVersion] = []
    try:
        with engine.connect() as conn:
            conn.execution_options(labledger_write=True)
            with conn.begin():
                conn.execute(
                    insert(artifact_versions).values(
                        name="m",
                        version=0,
                        type="model",
                        digest=row.digest,
                        size=row.size,
                        manifest=row.manifest,
                        meta={},
                        reference=False,
                        created_at=1.0,
                    )
                )
                writer = threading.Thread(
                    target=lambda: result.append(db.artifacts.add_version(version("m", "mine")))
                )
                writer.start()
                writer.join(0.5)
                assert writer.is_alive()  # blocked behind our open transaction
        writer.join(30)
        assert [v.version for v in result] == [1]
        assert [v.version for v in db.artifacts.list_versions("m")] == [0, 1]
    finally:
        db.close()
