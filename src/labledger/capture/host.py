"""Host probe: the machine the run executes on."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Per process: what cannot change while it runs (the CPU's model, its physical cores), so a
# process starting many runs reads /proc and /sys once.
_fixed: dict[str, Any] = {}


def _cpu_model() -> str | None:
    if "cpu_model" not in _fixed:
        _fixed["cpu_model"] = _read_cpu_model()
    return _fixed["cpu_model"]  # type: ignore[no-any-return]


def _read_cpu_model() -> str | None:
    import platform

    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            text = ""
        # x86 names the CPU in "model name"; some ARM kernels use "Hardware" or "Processor".
        for field in ("model name", "Hardware", "Processor", "cpu model"):
            for line in text.splitlines():
                key, sep, value = line.partition(":")
                if sep and key.strip() == field and value.strip():
                    return value.strip()
    return platform.processor() or platform.machine() or None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        pass
    try:  # POSIX fallback when psutil is missing or fails
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _physical_cpus() -> int | None:
    count = _fixed.get("cpu_count_physical")
    if count is None:
        count = _fixed["cpu_count_physical"] = _read_physical_cpus()
    return count


def _read_physical_cpus() -> int | None:
    try:
        import psutil

        count = psutil.cpu_count(logical=False)
    except Exception:
        return None
    return int(count) if count else None


def _usable_cpus() -> int | None:
    """CPUs this process may run on (smaller than the machine's count under taskset or cgroups)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            return None
    return os.cpu_count()


def _username() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no passwd entry for the uid, common in containers
        return None


def capture_host() -> dict[str, Any]:
    import platform
    import socket

    return {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_release": platform.release(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": _physical_cpus(),
        "cpu_count_usable": _usable_cpus(),
        "memory_total_bytes": _memory_total(),
        "username": _username(),
    }
