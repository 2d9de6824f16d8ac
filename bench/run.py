"""Benchmark labledger against MLflow, W&B and Aim: ``python bench/run.py [--quick]``.

Every workload runs for every tracker, each phase in a fresh child process under
``bench/.work/<tracker>/<workload>``; results go to ``bench/results/latest.{md,json}``.
Run ``bash bench/run.sh`` to install the peers first (``bench/setup_peers.sh``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from adapters import REGISTRY  # noqa: E402
from harness import Harness, default_python  # noqa: E402
from report import update_readme, write  # noqa: E402
from workloads import Sizes  # noqa: E402

WORKLOADS = ["W0", "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"]
TRACKERS = ["floor", "labledger", "mlflow", "wandb", "aim"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a few minutes in all")
    ap.add_argument("--trackers", default=",".join(TRACKERS), help="comma-separated")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="e.g. W0,W1,W5")
    ap.add_argument("--python", default=default_python(), help="interpreter for children")
    ap.add_argument("--timeout", type=float, default=900.0, help="per child process, s")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    ap.add_argument("--work", type=Path, default=BENCH / ".work")
    ap.add_argument(
        "--update-readme", action="store_true", help="paste the table into bench/README.md"
    )
    for name, value in Sizes().as_dict().items():
        flag = "--" + name.replace("_", "-")
        ap.add_argument(flag, type=type(value), default=None, help=f"default {value}")
    return ap.parse_args(argv)


def machine() -> str:
    cpu = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0.0
    return f"{platform.system()} {platform.machine()}, {cpu} cores, {mem:.0f} GiB"


def versions(python: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, platform\n"
        "print('python', platform.python_version())\n"
        "for n in ('labledger', 'mlflow', 'wandb', 'aim', 'pandas', 'numpy'):\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def git_commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    for name in sizes.as_dict():
        value = getattr(args, name)
        if value is not None:
            setattr(sizes, name, value)
    trackers = [t.strip() for t in args.trackers.split(",") if t.strip()]
    unknown = [t for t in trackers if t not in REGISTRY]
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    if unknown or any(w not in WORKLOADS for w in workloads):
        print(f"unknown tracker or workload: {unknown or workloads}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    harness = Harness(
        trackers,
        sizes,
        args.work,
        args.python,
        timeout_s=args.timeout,
        log=lambda msg: print(msg, flush=True),
    )
    harness.check_available(BENCH / ".peers" / "status.txt")
    for tracker, why in harness.available.items():
        if why:
            print(f"skipping {tracker}: {why}", flush=True)
    meta = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "scale": "quick" if args.quick else "full",
        "sizes": sizes.as_dict(),
        "versions": versions(args.python),
        "commit": git_commit(),
        "kill_delay_s": 1.0,
    }

    def save() -> None:
        meta["elapsed_s"] = round(time.perf_counter() - started, 1)
        write(harness.results, trackers, meta, args.out)

    harness.run(workloads, on_done=save)
    save()
    if args.update_readme:
        update_readme(BENCH / "README.md", (args.out / "latest.md").read_text())
    print((args.out / "latest.md").read_text())
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
