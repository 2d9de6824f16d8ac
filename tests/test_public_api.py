"""The public surface is explicit and the core import stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import labledger

EXPECTED = {
    "Api",
    "LabledgerError",
    "Run",
    "RunList",
    "RunStatus",
    "RunView",
    "__version__",
    "current_run",
    "finish",
    "init",
    "log",
    "reproduce_config",
    "runs",
    "seed_everything",
    "use_artifact",
}


def test_public_api_is_pinned() -> None:
    assert set(labledger.__all__) == EXPECTED
    for name in labledger.__all__:
        assert getattr(labledger, name) is not None


def test_import_does_not_load_heavy_libraries() -> None:
    heavy = ["numpy", "pandas", "torch", "sqlalchemy", "requests", "alembic", "psutil", "boto3"]
    code = f"import labledger, sys; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_export_resolves_lazily() -> None:
    code = "import labledger; print(sorted(n for n in labledger.__all__ if getattr(labledger, n)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(sorted(EXPECTED))


def _modules_after(code: str, heavy: list[str]) -> list[str]:
    """Which of ``heavy`` a fresh interpreter has imported after running ``code``."""
    check = f"\nimport json, sys; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    result = subprocess.run(
        [sys.executable, "-c", code + check], capture_output=True, text=True, check=True
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_a_runs_query_does_not_load_numpy_or_the_migrations(tmp_path: Path) -> None:
    """Opening a store and querying runs (metrics, config, count) touches no series: numpy,
    pandas, Alembic and the batch journal's msgspec stay unloaded until something needs them."""
    uri = f"sqlite:///{tmp_path / 'store' / 'labledger.db'}"
    with labledger.init(project="p", config={"lr": 0.1}, capture=False, uri=uri) as run:
        run.log({"acc": 0.9}, step=0)
        run.summary["f1"] = 0.8
    code = (
        "import labledger\n"
        f"api = labledger.Api(uri={uri!r})\n"
        "runs = api.runs(project='p', filter='metrics.acc > 0.5', order_by='-metrics.acc')\n"
        "assert len(runs) == 1 and runs[0].metrics == {'acc': 0.9, 'f1': 0.8}\n"
        "assert runs[0].params == {'lr': 0.1} and api.count_runs('p') == 1\n"
        "assert api.run(runs[0].id).status is labledger.RunStatus.FINISHED\n"
    )
    heavy = ["numpy", "pandas", "alembic", "msgspec", "rich", "click"]
    assert _modules_after(code, heavy) == []
    # A current SQLite store answers these without SQLAlchemy, and takes a run's writes so;
    # the UI's tables load it.
    assert _modules_after(code, ["sqlalchemy"]) == []
    write = (
        "api.store.update_run(runs[0].id, {'notes': 'checked'})\n"
        "assert api.run(runs[0].id).record.notes == 'checked'\n"
    )
    assert _modules_after(code + write, ["sqlalchemy"]) == []
    table = "api.store.column_keys('p')\n"
    assert _modules_after(code + table, ["sqlalchemy"]) == ["sqlalchemy"]
    # ... and a series read loads numpy, as it must.
    assert _modules_after(code + "runs[0].series('acc')", ["numpy"]) == ["numpy"]
