"""System metrics: CPU, memory and per-GPU load, sampled on a daemon thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from labledger.capture import gpu

GIB = float(2**30)

Emit = Callable[[float, dict[str, float]], None]


class _Nvml:
    """An NVML session: initialised on first use, shut down by ``close``; off after a failure."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._failed = False

    def read(self, keep_open: bool) -> dict[str, float]:
        with self._lock:
            if self._failed:
                return {}
            try:
                if self._nvml is None:
                    nvml = gpu._load_nvml()
                    nvml.nvmlInit()
                    self._nvml = nvml
                return self._read(self._nvml)
            except Exception:
                # No NVML, no driver or a lost GPU: stop asking rather than fail every interval.
                self._failed = True
                keep_open = False
                return {}
            finally:
                if not keep_open:
                    self._close()

    @staticmethod
    def _read(nvml: Any) -> dict[str, float]:
        values: dict[str, float] = {}
        for i in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            values[f"system/gpu{i}/utilization"] = float(
                nvml.nvmlDeviceGetUtilizationRates(handle).gpu
            )
            values[f"system/gpu{i}/memory_used_gb"] = float(memory.used) / GIB
            values[f"system/gpu{i}/memory_percent"] = (
                100.0 * float(memory.used) / float(memory.total) if memory.total else 0.0
            )
        return values

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        nvml, self._nvml = self._nvml, None
        if nvml is not None:
            with contextlib.suppress(Exception):
                nvml.nvmlShutdown()


class SystemSampler:
    """Calls ``emit(unix_time, {key: value})`` every ``interval`` seconds from a daemon thread.

    Keys: ``system/cpu_percent``, ``system/memory_percent``, ``system/memory_used_gb``,
    ``system/process_rss_gb`` and, per NVIDIA GPU ``i``, ``system/gpu{i}/utilization``,
    ``system/gpu{i}/memory_used_gb``, ``system/gpu{i}/memory_percent``. Sizes are GiB (2**30
    bytes). A source that fails is left out; ``emit``'s exceptions are swallowed.
    """

    def __init__(self, emit: Emit, interval: float = 5.0) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self._emit = emit
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._nvml = _Nvml()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="labledger-system-sampler", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, self.interval))

    def sample(self) -> dict[str, float]:
        """One sample of every source. CPU percent covers the time since the previous sample."""
        values: dict[str, float] = {}
        with contextlib.suppress(Exception):
            values.update(self._host())
        # The sampling thread keeps its NVML session open between samples; a direct call does not.
        values.update(self._nvml.read(keep_open=threading.current_thread() is self._thread))
        return values

    def _host(self) -> dict[str, float]:
        import psutil

        if self._process is None:
            self._process = psutil.Process()
        memory = psutil.virtual_memory()
        return {
            "system/cpu_percent": float(psutil.cpu_percent(interval=None)),
            "system/memory_percent": float(memory.percent),
            "system/memory_used_gb": float(memory.used) / GIB,
            "system/process_rss_gb": float(self._process.memory_info().rss) / GIB,
        }

    @staticmethod
    def _prime_cpu() -> None:
        # psutil's cpu_percent(None) measures since its previous call on the same thread.
        try:
            import psutil

            psutil.cpu_percent(interval=None)
        except Exception:
            pass

    def _run(self, stop: threading.Event) -> None:
        self._prime_cpu()
        try:
            while not stop.wait(self.interval):
                values = self.sample()
                # A failing consumer must not end sampling.
                with contextlib.suppress(Exception):
                    self._emit(time.time(), values)
        finally:
            self._nvml.close()
