"""Issue 10, upgrades: a store written by each release, one committed fixture per schema
revision (``tests/fixtures/stores/<revision>``, made by ``scripts/make_fixture_store.py`` with
that release's code), is opened by this labledger, migrated to the head revision, and reads
back everything that was written: runs, config, tags, notes, every point, artifact versions
with their metadata and aliases, blobs that re-hash to their digests."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import labledger as ll
from labledger.store.migrate import HEAD_REVISION

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stores"
REVISIONS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").exists())


def test_there_is_a_fixture_for_the_head_revision() -> None:
    assert HEAD_REVISION in REVISIONS, (
        f"add one: python scripts/make_fixture_store.py tests/fixtures/stores/{HEAD_REVISION}"
    )


@pytest.mark.parametrize("revision", REVISIONS)
def test_fixture_store_upgrades_without_loss(
    tmp_path: Path, revision: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = json.loads((FIXTURES / revision / "expected.json").read_text())
    store = tmp_path / "store"
    shutil.copytree(FIXTURES / revision / "store", store)
    monkeypatch.setenv("LABLEDGER_DIR", str(store))
    api = ll.Api()
    runs = {view.id: view for view in api.runs("fixture")}
    assert sorted(runs) == sorted(r["id"] for r in expected["runs"])
    for want in expected["runs"]:
        view = runs[want["id"]]
        assert view.name == want["name"]
        assert view.status is ll.RunStatus.FINISHED
        assert view.config == want["config"]
        assert sorted(view.record.tags) == sorted(want["tags"])
        assert view.record.notes == want["notes"]
        for key, values in want["history"].items():
            history = view.history(key)
            assert history.steps.tolist() == list(range(len(values)))
            assert history.values.tolist() == pytest.approx(values)
    for want in expected["artifacts"]:
        handle = api.artifact(want["ref"])
        assert handle.version.metadata == want["metadata"]  # type: ignore[attr-defined]
    for ref, number in expected["aliases"].items():
        assert api.artifact(ref).version.version == number  # type: ignore[attr-defined]
    from labledger.config import load_settings
    from labledger.sdk.artifacts import Artifacts

    service = Artifacts(api.store, load_settings())
    for want in expected["artifacts"]:
        assert service.verify(want["ref"]) == []
    # The store keeps taking writes after the upgrade.
    with ll.init(project="fixture", capture=False) as run:
        run.log({"loss": 0.5})
    assert api.run(run.id).history("loss").values.tolist() == [0.5]
    with sqlite3.connect(store / "labledger.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD_REVISION
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
