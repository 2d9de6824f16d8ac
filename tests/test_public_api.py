"""The public surface is explicit and the core import stays light."""

from __future__ import annotations

import subprocess
import sys

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
