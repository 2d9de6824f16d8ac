from __future__ import annotations

import os
import socket
import sys

import pytest

from labledger.capture import host as host_probe
from labledger.capture.host import capture_host


def test_host() -> None:
    host = capture_host()

    assert host["hostname"] == socket.gethostname()
    assert host["cpu_count_logical"] == os.cpu_count()
    assert host["cpu_count_logical"] > 0
    assert 0 < host["cpu_count_usable"] <= host["cpu_count_logical"]
    assert host["memory_total_bytes"] > 2**20
    assert isinstance(host["cpu_model"], str)
    assert host["cpu_model"]


def test_ram_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    expected = psutil.virtual_memory().total
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil now raises ImportError
    monkeypatch.setattr(host_probe, "_fixed", {})  # not what an earlier capture found

    host = capture_host()

    assert host["cpu_count_physical"] is None
    if hasattr(os, "sysconf"):
        assert host["memory_total_bytes"] == expected


def test_fixed_values_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    first = capture_host()
    monkeypatch.setattr(host_probe, "_read_cpu_model", lambda: pytest.fail("read again"))
    monkeypatch.setattr(host_probe, "_read_physical_cpus", lambda: pytest.fail("read again"))

    assert capture_host() == first
