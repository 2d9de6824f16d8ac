"""The environment step: package comparison for ``--env current``, and one real virtual
environment built from a tiny recorded lock (``--env venv``)."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from labledger.repro.environment import (
    COMPLETE_MARKER,
    InstallError,
    PackageDifference,
    build_venv,
    compare_packages,
    current_environment_report,
    venv_python,
)
from labledger.repro.packages import PackageSource
from labledger.repro.plan import EnvPlan, env_plan


def test_every_differing_package_is_reported() -> None:
    recorded = {"numpy": "2.1.0", "torch": "2.3.0", "same": "1.0"}
    current = {"numpy": "2.2.0", "same": "1.0", "extra": "0.1"}
    assert compare_packages(recorded, current) == [
        PackageDifference("extra", None, "0.1"),
        PackageDifference("numpy", "2.1.0", "2.2.0"),
        PackageDifference("torch", "2.3.0", None),
    ]


def test_current_environment_against_the_record(tmp_path: Path) -> None:
    numpy = metadata.version("numpy")
    click = metadata.version("click")
    environment = {"python_version": "2.7.18", "packages": {"numpy": numpy, "click": "0.0.1"}}
    report = current_environment_report(env_plan(environment, "current", None, tmp_path))
    differences = {d.name: d for d in report.differences}
    assert "numpy" not in differences
    assert differences["click"] == PackageDifference("click", "0.0.1", click)
    assert differences["sqlalchemy"].recorded is None  # installed now, not in the record
    assert report.notes and "recorded Python 2.7.18" in report.notes[0]


@pytest.mark.slow
def test_a_real_venv_stops_naming_the_package_that_cannot_be_installed(tmp_path: Path) -> None:
    """One real environment through the configured index with a two-package lock, one of
    which does not exist: the build stops naming it and the choices."""
    version = metadata.version("iniconfig")
    plan = EnvPlan(
        mode="venv",
        python_version=None,
        packages={},
        sources=(
            PackageSource("iniconfig", version, "registry", f"iniconfig=={version}"),
            PackageSource("labledger-no-such-package", "1.0", "registry",
                          "labledger-no-such-package==1.0"),
        ),
    )  # fmt: skip
    messages: list[str] = []
    with pytest.raises(InstallError) as caught:
        build_venv(plan, tmp_path / "venv", progress=messages.append)
    assert [f.requirement for f in caught.value.failures] == ["labledger-no-such-package==1.0"]
    text = str(caught.value)
    assert "labledger-no-such-package" in text and "rerun was not started" in text
    assert "--env current" in text and "--skip-package labledger-no-such-package" in text
    assert "--index-url" in text
    assert any("one package at a time" in m for m in messages)
    assert not (tmp_path / "venv" / COMPLETE_MARKER).exists()  # never reused half-built

    ok = EnvPlan("venv", None, {}, (plan.sources[0],))
    first = build_venv(ok, tmp_path / "venv", progress=messages.append)
    python = venv_python(tmp_path / "venv")
    assert first.python == str(python) and not first.cached
    installed = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('iniconfig'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.stdout.strip() == version
    assert build_venv(ok, tmp_path / "venv").cached  # same lock: reused
