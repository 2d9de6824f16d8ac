"""Entry point of one benchmark child process: ``python bench/child.py '<json job>'``.

Runs one phase of one workload for one tracker and prints ``BENCH_RESULT {json}`` as its
last line. Failures are reported in that line, never raised to the parent.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

RESULT = "BENCH_RESULT "


def main(job: dict[str, Any]) -> dict[str, Any]:
    from adapters import NotSupported, load
    from workloads import PHASES

    workdir = Path(job["workdir"])
    os.chdir(workdir)
    try:
        adapter = load(job["tracker"], Path(job["store"]))
        out = PHASES[job["phase"]](adapter, workdir, job.get("params", {}))
        out.setdefault("status", "ok")
        return out
    except NotSupported as exc:
        return {"status": "n/a", "reason": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    result = main(json.loads(sys.argv[1]))
    print(RESULT + json.dumps(result, default=str), flush=True)
