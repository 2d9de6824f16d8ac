from __future__ import annotations

import threading
import time
from typing import Any

import psutil
import pytest

from labledger.capture import SystemSampler

from .conftest import FakeNvml

HOST_KEYS = {
    "system/cpu_percent",
    "system/memory_percent",
    "system/memory_used_gb",
    "system/process_rss_gb",
}


def test_sample_without_gpu(no_nvml: None) -> None:
    values = SystemSampler(lambda t, v: None).sample()

    assert set(values) == HOST_KEYS
    assert all(isinstance(v, float) for v in values.values())
    assert 0.0 <= values["system/cpu_percent"] <= 100.0
    assert 0.0 < values["system/memory_percent"] <= 100.0
    rss = psutil.Process().memory_info().rss / 2**30
    assert values["system/process_rss_gb"] == pytest.approx(rss, rel=0.5)
    total = psutil.virtual_memory().total / 2**30
    assert 0.0 < values["system/memory_used_gb"] < total


def test_sample_with_fake_gpus(fake_nvml: FakeNvml) -> None:
    values = SystemSampler(lambda t, v: None).sample()

    assert values["system/gpu0/utilization"] == 87.0
    assert values["system/gpu0/memory_used_gb"] == 10.0
    assert values["system/gpu0/memory_percent"] == 25.0
    assert values["system/gpu1/utilization"] == 12.0
    assert values["system/gpu1/memory_percent"] == 25.0
    assert set(values) - HOST_KEYS == {
        f"system/gpu{i}/{key}"
        for i in (0, 1)
        for key in ("utilization", "memory_used_gb", "memory_percent")
    }
    assert fake_nvml.inits == fake_nvml.shutdowns == 1  # a direct sample leaves NVML closed


def _wait_for(condition: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_thread_emits_then_stops_quickly(fake_nvml: FakeNvml) -> None:
    emitted: list[tuple[float, dict[str, float]]] = []
    sampler = SystemSampler(lambda t, v: emitted.append((t, v)), interval=0.05)

    sampler.start()
    assert _wait_for(lambda: len(emitted) >= 2)
    start = time.monotonic()
    sampler.stop()
    assert time.monotonic() - start < 0.5
    count = len(emitted)
    time.sleep(0.2)

    assert len(emitted) == count  # nothing after stop
    assert "system/gpu0/utilization" in emitted[0][1]
    assert emitted[0][0] <= emitted[1][0]
    assert fake_nvml.inits == fake_nvml.shutdowns == 1  # one session for the whole thread
    assert not [t for t in threading.enumerate() if t.name == "labledger-system-sampler"]


def test_stop_does_not_wait_for_the_interval(no_nvml: None) -> None:
    sampler = SystemSampler(lambda t, v: None, interval=60.0)
    sampler.start()
    time.sleep(0.05)

    start = time.monotonic()
    sampler.stop()
    sampler.stop()

    assert time.monotonic() - start < 1.0


def test_failing_emit_does_not_end_sampling(no_nvml: None) -> None:
    calls: list[float] = []

    def emit(t: float, values: dict[str, float]) -> None:
        calls.append(t)
        raise RuntimeError("queue full")

    sampler = SystemSampler(emit, interval=0.02)
    sampler.start()
    try:
        assert _wait_for(lambda: len(calls) >= 3)
    finally:
        sampler.stop()


def test_restart_after_stop(no_nvml: None) -> None:
    emitted: list[float] = []
    sampler = SystemSampler(lambda t, v: emitted.append(t), interval=0.02)
    sampler.start()
    sampler.stop()
    emitted.clear()

    sampler.start()
    try:
        assert _wait_for(lambda: len(emitted) >= 1)
    finally:
        sampler.stop()


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        SystemSampler(lambda t, v: None, interval=0)
