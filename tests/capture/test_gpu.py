from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from labledger.capture import gpu
from labledger.capture.gpu import capture_gpu, cuda_version_text

from .conftest import FakeNvml


@pytest.fixture(autouse=True)
def without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's versions are added only when the program imported torch; here it has not."""
    monkeypatch.delitem(sys.modules, "torch", raising=False)


def test_fake_nvml_values(fake_nvml: FakeNvml) -> None:
    info = capture_gpu()

    assert info["available"] is True
    assert info["count"] == 2
    assert info["driver_version"] == "535.104.05"
    assert info["cuda_driver_version"] == "12.2"
    assert info["devices"] == [
        {"index": 0, "name": "NVIDIA A100-SXM4-40GB", "memory_total_bytes": 40 * 2**30},
        {"index": 1, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 80 * 2**30},
    ]
    assert fake_nvml.inits == fake_nvml.shutdowns == 1
    json.dumps(info)


def test_one_broken_device_keeps_the_others(
    fake_nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(handle: int) -> Any:
        if handle == 1:
            raise RuntimeError("GPU is lost")
        return FakeNvml.nvmlDeviceGetMemoryInfo(fake_nvml, handle)

    monkeypatch.setattr(fake_nvml, "nvmlDeviceGetMemoryInfo", lost)

    devices = capture_gpu()["devices"]

    assert devices[0]["name"] == "NVIDIA A100-SXM4-40GB"
    assert devices[1] == {"index": 1, "error": "RuntimeError: GPU is lost"}


def test_without_nvml_bindings(no_nvml: None) -> None:
    info = capture_gpu()

    assert info["available"] is False
    assert "nvidia-ml-py" in info["reason"]


def test_nvml_without_driver(fake_nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_driver() -> None:
        raise OSError("NVML Shared Library Not Found")

    monkeypatch.setattr(fake_nvml, "nvmlInit", no_driver)

    info = capture_gpu()

    assert info == {
        "available": False,
        "reason": "NVML unavailable: OSError: NVML Shared Library Not Found",
    }


def test_no_devices(fake_nvml: FakeNvml) -> None:
    fake_nvml.devices = []

    assert capture_gpu() == {"available": False, "reason": "no NVIDIA GPU found"}
    assert fake_nvml.inits == fake_nvml.shutdowns == 1


def test_real_nvml_path_never_raises() -> None:
    info = capture_gpu()

    assert isinstance(info["available"], bool)
    if info["available"]:
        assert info["count"] == len(info["devices"]) > 0
    else:
        assert info["reason"]


def test_torch_versions_only_when_torch_already_imported(
    fake_nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "torch_cuda" not in capture_gpu()

    fake_torch = SimpleNamespace(
        version=SimpleNamespace(cuda="12.1"),
        backends=SimpleNamespace(cudnn=SimpleNamespace(version=lambda: 8902)),
    )
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    info = capture_gpu()

    assert (info["torch_cuda"], info["torch_cudnn"]) == ("12.1", 8902)
    assert info["available"] is True


def test_probe_never_imports_torch() -> None:
    code = (
        "import sys; from labledger.capture.gpu import capture_gpu; "
        "from labledger.capture.determinism import capture_determinism; "
        "capture_gpu(); capture_determinism(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_version_text() -> None:
    assert cuda_version_text(12020) == "12.2"
    assert cuda_version_text(11080) == "11.8"
    assert cuda_version_text(12000) == "12.0"


def test_real_loader_is_the_pynvml_module() -> None:
    pynvml = pytest.importorskip("pynvml")  # imported: the loader uses it, driver or not
    assert gpu._load_nvml() is pynvml


def test_without_a_driver_the_bindings_are_not_imported() -> None:
    """On a Linux machine without the NVIDIA driver the probe says so, and the bindings'
    import is skipped (it could only end in NVML's "library not found")."""
    if sys.platform != "linux" or any(os.path.exists(p) for p in gpu.DRIVER_PATHS):
        pytest.skip("needs a Linux machine without the NVIDIA driver")
    code = (
        "import sys; from labledger.capture.gpu import capture_gpu; info = capture_gpu(); "
        "print(info['available'], 'no NVIDIA driver' in info['reason'], 'pynvml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "False"]
