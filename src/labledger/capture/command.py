"""Command probe: how the program was started and the environment variables that steer it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from labledger.capture.redact import redact_argv, redact_environment

# Variables recorded when their name starts with one of these. PATH and HOME stay out: they say
# more about the user than about the run.
ENV_PREFIXES = (
    "LABLEDGER_",
    "CUDA_",
    "NVIDIA_",
    "OMP_",
    "MKL_",
    "PYTHON",
    "TORCH_",
    "HF_",
    "WANDB_",
    "MLFLOW_",
    "SLURM_",
    "CUBLAS_",
)


def _entry_script(argv0: str) -> str | None:
    if not argv0 or argv0 in ("-c", "-m", "-"):
        return None
    path = Path(argv0)
    try:
        return str(path.resolve()) if path.is_file() else None
    except OSError:
        return None


def _start_time() -> float | None:
    try:
        import psutil

        return float(psutil.Process().create_time())
    except Exception:
        return None


def capture_command() -> dict[str, Any]:
    argv = list(sys.argv)
    return {
        "argv": redact_argv(argv),
        "orig_argv": redact_argv(list(getattr(sys, "orig_argv", argv))),
        "cwd": os.getcwd(),
        "entry_script": _entry_script(argv[0] if argv else ""),
        "python": sys.executable,
        "pid": os.getpid(),
        "start_time": _start_time(),
        "env": redact_environment(os.environ, ENV_PREFIXES),
    }
