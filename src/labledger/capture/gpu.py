"""GPU probe: NVIDIA devices through NVML, and torch's CUDA build when torch is already loaded.

``_load_nvml`` is the one place NVML is imported; tests replace it with a fake module, and the
system sampler reads utilization through it too.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from labledger.capture.probe import one_line

# On Linux the NVIDIA driver (and NVML with it) shows as one of these (/dev/dxg: WSL 2).
DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg")


class NoDriver(ImportError):
    """The machine has no NVIDIA driver, so NVML cannot load."""


def _load_nvml() -> Any:
    """The NVML bindings (``pynvml`` from nvidia-ml-py). Raises ImportError when not installed,
    ``NoDriver`` on a Linux machine without the driver: importing the bindings (tens of ms,
    on every first run of a process) could only end in NVML's "library not found"."""
    if (
        "pynvml" not in sys.modules
        and sys.platform == "linux"
        and not any(os.path.exists(path) for path in DRIVER_PATHS)
    ):
        raise NoDriver(f"no NVIDIA driver on this machine (none of {', '.join(DRIVER_PATHS)})")
    import pynvml

    return pynvml


def as_text(value: Any) -> str:
    """NVML strings are bytes in old bindings and str in new ones."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def cuda_version_text(version: int) -> str:
    """NVML's CUDA version integer (12020) as text ("12.2")."""
    return f"{version // 1000}.{version % 1000 // 10}"


def _torch_info() -> dict[str, Any]:
    """torch's CUDA and cuDNN versions, only when the program has imported torch itself."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    info: dict[str, Any] = {}
    try:
        info["torch_cuda"] = torch.version.cuda
    except Exception as exc:
        info["torch_cuda"] = None
        info["torch_error"] = one_line(exc)
    try:
        cudnn = torch.backends.cudnn.version()
        info["torch_cudnn"] = int(cudnn) if cudnn is not None else None
    except Exception as exc:
        info["torch_cudnn"] = None
        info["torch_error"] = one_line(exc)
    return info


def _device(nvml: Any, index: int) -> dict[str, Any]:
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        return {
            "index": index,
            "name": as_text(nvml.nvmlDeviceGetName(handle)),
            "memory_total_bytes": int(memory.total),
        }
    except Exception as exc:  # one lost or busy device must not hide the others
        return {"index": index, "error": one_line(exc)}


def _nvml_info() -> dict[str, Any]:
    try:
        nvml = _load_nvml()
    except NoDriver as exc:
        return {"available": False, "reason": str(exc)}
    except ImportError:
        return {
            "available": False,
            "reason": "nvidia-ml-py is not installed (pip install 'labledger[gpu]')",
        }
    try:
        nvml.nvmlInit()
    except Exception as exc:
        return {"available": False, "reason": f"NVML unavailable: {one_line(exc)}"}
    try:
        count = int(nvml.nvmlDeviceGetCount())
        if count == 0:
            return {"available": False, "reason": "no NVIDIA GPU found"}
        info: dict[str, Any] = {
            "available": True,
            "count": count,
            "driver_version": as_text(nvml.nvmlSystemGetDriverVersion()),
        }
        try:
            info["cuda_driver_version"] = cuda_version_text(
                int(nvml.nvmlSystemGetCudaDriverVersion())
            )
        except Exception:
            info["cuda_driver_version"] = None
        info["devices"] = [_device(nvml, i) for i in range(count)]
        return info
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def capture_gpu() -> dict[str, Any]:
    return {**_nvml_info(), **_torch_info()}
