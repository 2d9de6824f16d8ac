from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

GitRunner = Callable[..., str]


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Git without the machine's global or system configuration, and no repo above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield


def run_git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.email=test@example.com",
            "-c",
            "user.name=Test",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def git() -> GitRunner:
    return run_git


class FakeNvml:
    """The part of pynvml that labledger uses, with two devices."""

    def __init__(self, devices: list[dict[str, Any]] | None = None) -> None:
        self.devices = devices or [
            {"name": b"NVIDIA A100-SXM4-40GB", "total": 40 * 2**30, "used": 10 * 2**30, "util": 87},
            {"name": "NVIDIA H100 80GB HBM3", "total": 80 * 2**30, "used": 20 * 2**30, "util": 12},
        ]
        self.inits = 0
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        assert self.inits > self.shutdowns, "NVML used outside nvmlInit/nvmlShutdown"
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes | str:
        return self.devices[handle]["name"]  # type: ignore[no-any-return]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        device = self.devices[handle]
        return SimpleNamespace(
            total=device["total"], used=device["used"], free=device["total"] - device["used"]
        )

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=self.devices[handle]["util"], memory=5)

    def nvmlSystemGetDriverVersion(self) -> str:
        return "535.104.05"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return 12020


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    from labledger.capture import gpu

    fake = FakeNvml()
    monkeypatch.setattr(gpu, "_load_nvml", lambda: fake)
    return fake


@pytest.fixture
def no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    from labledger.capture import gpu

    def missing() -> Any:
        raise ImportError("No module named 'pynvml'")

    monkeypatch.setattr(gpu, "_load_nvml", missing)
