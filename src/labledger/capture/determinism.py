"""Determinism probe: the settings that decide whether a rerun gives the same numbers.

Seeds the user sets through the SDK are recorded there; this probe records what the process and
already-imported libraries were started with. It never imports torch or numpy itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from labledger.capture import gpu
from labledger.capture.probe import one_line


def _cuda_available(torch: Any) -> bool | None:
    """Whether torch can use CUDA, without initialising CUDA in this process.

    ``torch.cuda.is_available()`` initialises the CUDA driver when CUDA is not yet in use, which
    breaks CUDA in processes forked afterwards; so it is only asked once CUDA is initialised.
    Otherwise NVML counts the devices, as torch itself does under PYTORCH_NVML_BASED_CUDA_CHECK.
    """
    if not torch.backends.cuda.is_built():
        return False
    if torch.cuda.is_initialized():
        return bool(torch.cuda.is_available())
    try:
        nvml = gpu._load_nvml()
        nvml.nvmlInit()
    except Exception:
        return None
    try:
        return int(nvml.nvmlDeviceGetCount()) > 0
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def _torch_settings(torch: Any) -> dict[str, Any]:
    return {
        "initial_seed": int(torch.initial_seed()),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "cuda_available": _cuda_available(torch),
    }


def capture_determinism() -> dict[str, Any]:
    result: dict[str, Any] = {
        "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
        "hash_randomization": bool(sys.flags.hash_randomization),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            result["torch"] = _torch_settings(torch)
        except Exception as exc:  # a half-imported or unusual torch: keep the rest
            result["torch"] = {"error": one_line(exc)}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        result["numpy_version"] = str(getattr(numpy, "__version__", None))
    return result
