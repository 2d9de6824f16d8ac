from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from labledger.capture.determinism import capture_determinism


def test_process_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    info = capture_determinism()

    assert info["pythonhashseed"] == "0"
    assert info["cublas_workspace_config"] == ":4096:8"


def test_numpy_version_only_when_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy

    assert capture_determinism()["numpy_version"] == numpy.__version__
    monkeypatch.delitem(sys.modules, "numpy")
    assert "numpy_version" not in capture_determinism()


def test_torch_settings_without_initialising_cuda() -> None:
    if importlib.util.find_spec("torch") is None:  # not importorskip: keep torch out of here
        pytest.skip("torch is not installed")
    code = """
import json, torch
torch.manual_seed(1234)
torch.use_deterministic_algorithms(True)
torch.backends.cudnn.benchmark = False
from labledger.capture.determinism import capture_determinism
info = capture_determinism()
print(json.dumps({"info": info, "cuda_initialized": torch.cuda.is_initialized(),
                  "cuda_available": torch.cuda.is_available()}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    torch_info = result["info"]["torch"]

    assert torch_info["initial_seed"] == 1234
    assert torch_info["deterministic_algorithms"] is True
    assert torch_info["cudnn_benchmark"] is False
    assert result["cuda_initialized"] is False  # asked before is_available() ran
    if torch_info["cuda_available"] is not None:
        assert torch_info["cuda_available"] == result["cuda_available"]


def test_broken_torch_keeps_the_other_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", object())  # a half-imported module
    monkeypatch.setenv("PYTHONHASHSEED", "7")

    info = capture_determinism()

    assert info["pythonhashseed"] == "7"
    assert info["torch"]["error"].startswith("AttributeError")
