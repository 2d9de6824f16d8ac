from __future__ import annotations

import json
import subprocess
import sys

import labledger.capture


def test_exported_names() -> None:
    assert sorted(labledger.capture.__all__) == [
        "ConsoleCapture",
        "SystemSampler",
        "capture_all",
        "capture_git",
    ]
    for name in labledger.capture.__all__:
        assert getattr(labledger.capture, name).__module__.startswith("labledger.capture.")


def test_import_loads_no_heavy_modules() -> None:
    heavy = ["psutil", "pynvml", "torch", "numpy", "subprocess", "importlib.metadata"]
    code = (
        "import json, sys; before = set(sys.modules); import labledger.capture; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))

    assert "labledger.capture" in loaded
    assert loaded.isdisjoint(heavy), sorted(loaded & set(heavy))
