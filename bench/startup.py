"""Start-up costs of labledger, each in a fresh process (issue 11), labledger only.

    python bench/startup.py [--runs 1000] [--repeats 7] [--store DIR] [--src DIR] [--profile]

Fills a SQLite store with ``--runs`` runs through the ``Store`` interface once (W3's shape:
30 config keys, 10 summary metrics, a 100-point series each), byte-compiles the labledger
sources measured (``--src``, default this checkout's ``src``), then times in fresh
subprocesses, one warm-up and the median of ``--repeats``:

* ``python -c pass``: the floor every row pays;
* ``python -c "import labledger"``;
* ``ll.init()`` with full capture (git, environment), cwd inside this repository: the call
  itself, and the first run's ``finish()`` (which waits for the store to open);
* the first ``Api().runs(project=..., filter="metrics.acc > 0.5")`` then ``len`` and
  iteration, from before ``import labledger``;
* ``labledger runs ls`` (and ``--json``) end to end: process start to exit, stdout a pipe.

Wall times are what the targets are about; CPU time (user + sys of the child) is printed
beside them because on a shared 2-core machine the wall time includes waiting for a core.
``--profile`` adds the slowest imports (``-X importtime``) of the first query and of
``runs ls``. ``--instructions`` adds, where valgrind is installed, the instructions each whole
process executes (callgrind, one run each: ~50x slower, but the same under any load), which
compares two checkouts on a machine too busy for wall times to. Results:
``bench/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "startup.json"
PROJECT = "bench"
FILTER = "metrics.acc > 0.5"

INIT = """
import json, time
t0 = time.perf_counter()
import labledger as ll
t1 = time.perf_counter()
run = ll.init(project="startup", config={"lr": 0.1, "layers": [64, 32]})
t2 = time.perf_counter()
run.log({"loss": 0.5}, step=0)
run.finish()
t3 = time.perf_counter()
print(json.dumps({"init": t2 - t1, "import_init": t2 - t0, "finish": t3 - t2}))
"""

QUERY = f"""
import json, time
t0 = time.perf_counter()
import labledger
runs = labledger.Api().runs(project={PROJECT!r}, filter={FILTER!r})
n = len(runs)
ids = [run.id for run in runs]
t1 = time.perf_counter()
assert n == len(ids) > 0
print(json.dumps({{"query": t1 - t0}}))
"""

# name -> (what, target in ms or None, what the target is about)
TARGETS: dict[str, tuple[str, float | None, str]] = {
    "floor": ("python -c pass", None, "process wall"),
    "import": ('python -c "import labledger"', 30, "process wall less the floor"),
    "init": ("ll.init() return time", 50, "the call, in-process"),
    "first_finish": ("first run's finish() (store opens)", None, "the call, in-process"),
    "query": ("first Api().runs() + len/iteration", 150, "in-process, from before the import"),
    "query_process": ("first Api().runs(), whole process", None, "process wall"),
    "runs_ls": ("labledger runs ls", 300, "process wall"),
    "runs_ls_json": ("labledger runs ls --json", None, "process wall"),
}


def populate(uri: str, runs: int) -> None:
    """``runs`` finished runs through the public ``Store`` interface."""
    import numpy as np

    from labledger.entities import RunRecord, RunStatus, new_run_id
    from labledger.store import open_store
    from labledger.store.base import MetricColumns, RunBatch

    store = open_store(uri)
    rng = random.Random(0)
    now = time.time() - runs
    steps = np.arange(100)
    for i in range(runs):
        config: dict[str, Any] = {
            f"param_{k}": rng.random() if k % 3 else rng.randint(0, 100) for k in range(29)
        }
        config["optimizer"] = rng.choice(["adam", "sgd"])
        record = RunRecord(
            run_id=new_run_id(),
            project=PROJECT,
            name=f"run-{i}",
            created_at=now + i,
            config=config,
            status=RunStatus.FINISHED,
            ended_at=now + i + 0.5,
        )
        loss = MetricColumns(steps, rng.random() / (steps + 1), np.full(100, now + i))
        summary = {"acc": rng.random(), **{f"final_{k}": rng.random() for k in range(9)}}
        store.create_run_batch(record, RunBatch(metrics={"loss": loss}, summary=summary))
    store.close()


class Child:
    """Runs commands in fresh processes with the environment of the measured checkout."""

    def __init__(self, src: Path, uri: str, init_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
        env.update(
            PYTHONPATH=str(src),
            LABLEDGER_URI=uri,
            LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
            LABLEDGER_CAPTURE_CONSOLE="0",
        )
        self.env = env
        self.init_env = {**{k: v for k, v in env.items() if k != "LABLEDGER_URI"}}
        self.init_env["LABLEDGER_DIR"] = str(init_dir)
        script = Path(sys.executable).with_name("labledger")
        entry = "import sys; from labledger.cli.main import main; sys.argv[0] = 'labledger'; main()"
        # The console script when it is there (its wrapper is part of "end to end").
        self.cli = [str(script)] if script.exists() else [sys.executable, "-c", entry]

    def run(self, cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
        """(wall s, child CPU s, stdout) of one process."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(
            cmd,
            env=env or self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise SystemExit(f"{cmd} failed ({out.returncode}):\n{out.stderr[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, out.stdout


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def measure(child: Child, repeats: int) -> dict[str, dict[str, Any]]:
    py = sys.executable
    samples: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in TARGETS}

    def add(name: str, wall: float, cpu: float | None = None) -> None:
        samples[name]["wall"].append(wall)
        if cpu is not None:
            samples[name]["cpu"].append(cpu)

    for i in range(repeats + 1):  # the first round warms caches and is dropped
        rows: list[tuple[str, float, float | None]] = []
        wall, cpu, _ = child.run([py, "-c", "pass"])
        floor = wall
        rows.append(("floor", wall, cpu))
        wall, cpu, _ = child.run([py, "-c", "import labledger"])
        rows.append(("import", wall - floor, cpu))
        wall, cpu, out = child.run([py, "-c", INIT], env=child.init_env)
        inner = json.loads(out.strip().splitlines()[-1])
        rows += [("init", inner["init"], None), ("first_finish", inner["finish"], None)]
        wall, cpu, out = child.run([py, "-c", QUERY])
        rows.append(("query", json.loads(out.strip().splitlines()[-1])["query"], None))
        rows.append(("query_process", wall, cpu))
        wall, cpu, _ = child.run([*child.cli, "runs", "ls"])
        rows.append(("runs_ls", wall, cpu))
        wall, cpu, _ = child.run([*child.cli, "runs", "ls", "--json"])
        rows.append(("runs_ls_json", wall, cpu))
        if i:
            for row in rows:
                add(*row)
    results: dict[str, dict[str, Any]] = {}
    for name, (what, target, basis) in TARGETS.items():
        wall_ms = _median_ms(samples[name]["wall"])
        cpu = samples[name]["cpu"]
        results[name] = {
            "what": what,
            "basis": basis,
            "wall_ms": wall_ms,
            "cpu_ms": _median_ms(cpu) if cpu else None,
            "target_ms": target,
            "met": None if target is None else wall_ms <= target,
            "wall_samples_ms": [round(s * 1000, 1) for s in samples[name]["wall"]],
        }
    return results


def slowest_imports(child: Child, cmd: list[str], top: int = 12) -> list[tuple[str, float]]:
    """Import time (``-X importtime``, ms of each module's own time) summed per top-level
    package, slowest first: where the README's "why" comes from."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd],
        env=child.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line[len("import time:") :].split("|")
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(own) / 1000
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [(name, round(ms, 1)) for name, ms in ranked]


def instructions(child: Child) -> dict[str, int]:
    """Millions of instructions each measured process executes (valgrind's callgrind)."""
    py = sys.executable
    commands = {
        "floor": ([py, "-c", "pass"], child.env),
        "import": ([py, "-c", "import labledger"], child.env),
        "init": ([py, "-c", INIT], child.init_env),
        "query_process": ([py, "-c", QUERY], child.env),
        "runs_ls": ([*child.cli, "runs", "ls"], child.env),
        "runs_ls_json": ([*child.cli, "runs", "ls", "--json"], child.env),
    }
    counts = {}
    for name, (cmd, env) in commands.items():
        if cmd[0] != py:  # the console script: run its interpreter under valgrind
            cmd = [py, *cmd]
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        collected = [line for line in out.stderr.splitlines() if "Collected :" in line]
        counts[name] = round(int(collected[-1].split(":")[-1]) / 1e6)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--store", type=Path, help="reuse (or create) the store here")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="labledger to measure")
    parser.add_argument("--profile", action="store_true", help="also list the slowest imports")
    parser.add_argument("--instructions", action="store_true", help="also count instructions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.repeats = max(5, args.repeats)

    work = Path(tempfile.mkdtemp(prefix="ll-startup-"))
    folder = args.store or work / "store"
    db = folder / "labledger.db"
    uri = f"sqlite:///{db}"
    if not db.exists():
        t0 = time.perf_counter()
        populate(uri, args.runs)
        print(f"populated {args.runs} runs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    src = args.src.resolve()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    child = Child(src, uri, work / "init-store")
    load = os.getloadavg()
    results = measure(child, args.repeats)
    report: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs_in_store": args.runs,
        "repeats": args.repeats,
        "results": results,
    }
    if args.profile:
        query = [
            "-c",
            f"import labledger; len(labledger.Api().runs({PROJECT!r}, filter={FILTER!r}))",
        ]
        ls = ["-c", "import sys; from labledger.cli.main import main; main()", "runs", "ls"]
        report["imports_ms"] = {
            "query": slowest_imports(child, query),
            "runs_ls": slowest_imports(child, ls),
        }
    if args.instructions and shutil.which("valgrind"):
        report["instructions_millions"] = instructions(child)
    shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'measure':<40} {'wall ms':>8} {'cpu ms':>8} {'target':>7}  basis")
    for r in results.values():
        cpu = "" if r["cpu_ms"] is None else f"{r['cpu_ms']:.1f}"
        target = "" if r["target_ms"] is None else f"<= {r['target_ms']:g}"
        verdict = {True: " met", False: " MISSED", None: ""}[r["met"]]
        print(f"{r['what']:<40} {r['wall_ms']:>8.1f} {cpu:>8} {target:>7}  {r['basis']}{verdict}")
    print(f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after", file=sys.stderr)
    if "instructions_millions" in report:
        print("instructions (millions): " + json.dumps(report["instructions_millions"]))
    for name, rows in report.get("imports_ms", {}).items():
        print(f"slowest imports, {name}: " + ", ".join(f"{p} {ms:g}" for p, ms in rows))


if __name__ == "__main__":
    main()
