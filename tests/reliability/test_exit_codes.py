"""Issue 10: ``sys.exit(n)`` outside a ``with`` block is recorded ``failed`` with code n (before:
``finished`` with exit code 0)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labledger as ll

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ("run = ll.init(project='p', capture=False)\nsys.exit(3)", 3, ll.RunStatus.FAILED),
        ("run = ll.init(project='p', capture=False)\nsys.exit(0)", 0, ll.RunStatus.FINISHED),
        ("run = ll.init(project='p', capture=False)\nsys.exit('bad')", 1, ll.RunStatus.FAILED),
        ("with ll.init(project='p', capture=False):\n    sys.exit(4)", 4, ll.RunStatus.FAILED),
        ("with ll.init(project='p', capture=False):\n    sys.exit()", 0, ll.RunStatus.FINISHED),
    ],
    ids=["exit3", "exit0", "exit-message", "with-exit4", "with-exit"],
)
def test_sys_exit_code_is_recorded(
    tmp_path: Path, body: str, code: int, status: ll.RunStatus
) -> None:
    path = tmp_path / "train.py"
    path.write_text("import sys\nimport labledger as ll\n" + textwrap.dedent(body) + "\n")
    env = {**os.environ, "LABLEDGER_DIR": str(tmp_path / "store")}
    result = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, timeout=60)
    assert result.returncode == code
    (view,) = ll.runs("p")
    assert (view.status, view.record.exit_code) == (status, code)
