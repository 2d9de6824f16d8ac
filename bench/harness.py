"""Runs workloads × trackers, each phase in a fresh child process, and collects the cells."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workloads import MARKER, Sizes

BENCH = Path(__file__).resolve().parent
CHILD = BENCH / "child.py"
RESULT = "BENCH_RESULT "
KILL_DELAY_S = 1.0  # W6: SIGKILL this long after the writer's marker line
ORPHAN_GRACE_S = 10.0  # W6: let helper processes (wandb-core) exit on their own first
FULL_SCALE = ("labledger", "floor")  # never scaled down to a time budget
SLOW_READER_S = 30.0  # a reader process slower than this is not repeated


@dataclass
class Cell:
    """One tracker × workload result."""

    status: str = "ok"  # ok | error | n/a | skipped
    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reason: str = ""
    scale: dict[str, int] = field(default_factory=dict)

    def fail(self, status: str, reason: str) -> Cell:
        self.status, self.reason = status, reason
        return self


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _nice_floor(x: float) -> int:
    """Round down to two significant digits (12,345 -> 12,000)."""
    if x < 100:
        return max(1, int(x))
    digits = len(str(int(x))) - 2
    return int(x // 10**digits * 10**digits)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class Harness:
    def __init__(
        self,
        trackers: list[str],
        sizes: Sizes,
        work: Path,
        python: str,
        log: Callable[[str], None] = print,
        timeout_s: float = 900.0,
    ) -> None:
        self.trackers = trackers
        self.sizes = sizes
        self.work = work
        self.python = python
        self.log = log
        self.timeout_s = timeout_s
        self.results: dict[str, dict[str, Cell]] = {}
        self.available: dict[str, str] = {}  # tracker -> "" if usable, else why not

    # --- processes ----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
            LABLEDGER_CAPTURE_CONSOLE="0",
            WANDB_MODE="offline",
            WANDB_SILENT="true",
            WANDB_CONSOLE="off",
            GIT_PYTHON_REFRESH="quiet",
            AIM_UI_TELEMETRY_ENABLED="0",
            TQDM_DISABLE="1",
        )
        for key in ("LABLEDGER_URI", "LABLEDGER_DIR", "MLFLOW_TRACKING_URI", "WANDB_DIR"):
            env.pop(key, None)
        return env

    def fresh(self, tracker: str, name: str) -> Path:
        path = self.work / tracker / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def job(
        self, tracker: str, phase: str, workdir: Path, store: Path | None = None, **params: Any
    ) -> list[str]:
        spec = {
            "tracker": tracker,
            "phase": phase,
            "workdir": str(workdir),
            "store": str(store or workdir / "store"),
            "params": params,
        }
        return [self.python, str(CHILD), json.dumps(spec)]

    def spawn(self, cmd: list[str], workdir: Path, stdout: Any = None) -> subprocess.Popen[Any]:
        out = stdout if stdout is not None else open(workdir / "child.out", "ab")  # noqa: SIM115
        err = open(workdir / "child.err", "ab")  # noqa: SIM115
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=self.env(),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def finish_proc(self, proc: subprocess.Popen[Any], timeout: float) -> str | None:
        """Wait for ``proc``; on timeout kill its process group. Returns an error or None."""
        try:
            proc.wait(timeout=timeout)
            error = None
        except subprocess.TimeoutExpired:
            error = f"timeout after {timeout:.0f} s"
        _kill_group(proc.pid)
        proc.wait()
        return error

    @staticmethod
    def parse(workdir: Path, text: str | None = None) -> dict[str, Any] | None:
        if text is None:
            path = workdir / "child.out"
            text = path.read_text(errors="replace") if path.exists() else ""
        for line in reversed(text.splitlines()):
            if line.startswith(RESULT):
                result: dict[str, Any] = json.loads(line[len(RESULT) :])
                return result
        return None

    def run_child(
        self,
        tracker: str,
        phase: str,
        workdir: Path,
        store: Path | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Run one phase in a fresh process; always returns a dict with a ``status``."""
        out_file = workdir / "child.out"
        if out_file.exists():
            out_file.unlink()
        proc = self.spawn(self.job(tracker, phase, workdir, store, **params), workdir)
        error = self.finish_proc(proc, timeout or self.timeout_s)
        result = self.parse(workdir)
        if error:
            return {"status": "error", "reason": error}
        if result is None:
            tail = (workdir / "child.err").read_text(errors="replace").strip().splitlines()
            last = tail[-1] if tail else f"exit code {proc.returncode}"
            return {"status": "error", "reason": f"child died: {last[:200]}"}
        return result

    @staticmethod
    def cell_from(result: dict[str, Any]) -> Cell:
        cell = Cell()
        if result.get("status") != "ok":
            return cell.fail(result.get("status", "error"), result.get("reason", "?"))
        return cell

    # --- availability -----------------------------------------------------------------
    def check_available(self, status_file: Path | None = None) -> None:
        from adapters import REGISTRY

        setup: dict[str, str] = {}
        if status_file and status_file.exists():
            for line in status_file.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2:
                    setup[parts[0]] = parts[1]
        for tracker in self.trackers:
            module = REGISTRY[tracker][2]
            if not module:
                self.available[tracker] = ""
                continue
            probe = (
                f"import importlib.util,sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
            )
            ok = (
                subprocess.run(
                    [self.python, "-c", probe], env=self.env(), capture_output=True
                ).returncode
                == 0
            )
            if ok:
                self.available[tracker] = ""
            elif setup.get(tracker) == "failed":
                self.available[tracker] = (
                    "not installed: pip install failed (bench/.peers/install.log)"
                )
            else:
                self.available[tracker] = "not installed (run bench/setup_peers.sh)"

    # --- driver -------------------------------------------------------------------------
    def run(self, workloads: list[str], on_done: Callable[[], None] = lambda: None) -> None:
        for workload in workloads:
            self.log(f"== {workload}")
            started = time.perf_counter()
            try:
                getattr(self, workload.lower())()
            except Exception as exc:  # a harness bug must not lose the other workloads
                reason = f"harness: {type(exc).__name__}: {exc}"[:200]
                self.log(f"   {reason}")
                for tracker in self.usable():
                    self.results.setdefault(workload, {}).setdefault(
                        tracker, Cell().fail("error", reason)
                    )
            self.log(f"== {workload} done in {time.perf_counter() - started:.0f} s")
            on_done()

    def budget(self, tracker: str, seconds: float) -> float:
        """Time budgets only scale the peers down; labledger (and floor) always run full."""
        return 1e9 if tracker in FULL_SCALE else seconds

    def usable(self) -> list[str]:
        return [t for t in self.trackers if not self.available.get(t)]

    def put(self, workload: str, tracker: str, cell: Cell) -> None:
        self.results.setdefault(workload, {})[tracker] = cell
        for name in self.trackers:
            if self.available.get(name):
                self.results[workload].setdefault(
                    name, Cell().fail("skipped", self.available[name])
                )
        shown = cell.values if cell.status == "ok" else cell.reason
        self.log(f"   {tracker:<10} {cell.status:<7} {shown}")

    def rotations(self, repeats: int) -> list[list[str]]:
        """Tracker order for each repeat, rotated so none always runs first."""
        names = self.usable()
        return [names[i % len(names) :] + names[: i % len(names)] for i in range(repeats)]

    # --- W0 -----------------------------------------------------------------------------
    def w0(self) -> None:
        from adapters import REGISTRY

        times: dict[str, list[float]] = {t: [] for t in self.usable()}
        errors: dict[str, str] = {}
        for tracker in self.usable():  # untimed warm-up: bytecode and page caches
            module = REGISTRY[tracker][2]
            subprocess.run(
                [self.python, "-c", f"import {module}" if module else "pass"],
                env=self.env(),
                capture_output=True,
            )
        for order in self.rotations(self.sizes.w0_repeats):
            for tracker in order:
                module = REGISTRY[tracker][2]
                code = f"import {module}" if module else "pass"
                workdir = self.fresh(tracker, "w0")
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [self.python, "-c", code],
                    cwd=workdir,
                    env=self.env(),
                    capture_output=True,
                    text=True,
                )
                elapsed = time.perf_counter() - t0
                if proc.returncode:
                    errors[tracker] = (proc.stderr.strip().splitlines() or ["?"])[-1][:200]
                else:
                    times[tracker].append(elapsed)
        for tracker, samples in times.items():
            if tracker in errors:
                self.put("W0", tracker, Cell().fail("error", errors[tracker]))
                continue
            cell = Cell(values={"import_s": _median(samples)})
            cell.values["samples"] = samples
            if not REGISTRY[tracker][2]:
                cell.notes.append("bare interpreter (`python -c pass`)")
            self.put("W0", tracker, cell)

    # --- W1, W2, W3: pilot, then the measured run (scaled down to the budget if needed) --
    def scaled(
        self, tracker: str, phase: str, size_key: str, full: int, pilot: int, cost_key: str
    ) -> tuple[int, str]:
        workdir = self.fresh(tracker, f"{phase}-pilot")
        result = self.run_child(tracker, phase, workdir, **{size_key: pilot})
        if result.get("status") != "ok":
            return full, ""  # the measured run will report the problem
        per_unit = float(result[cost_key]) / pilot
        predicted = per_unit * full
        budget = self.budget(tracker, self.sizes.budget_s)
        if predicted <= budget:
            return full, ""
        n = max(pilot, _nice_floor(budget / per_unit))
        if n >= full:
            return full, ""
        note = (
            f"measured at {n:,} of {full:,} (a {pilot:,} pilot predicted "
            f"{predicted:.0f} s > {budget:.0f} s budget)"
        )
        return n, note

    def _write_workload(
        self,
        workload: str,
        phase: str,
        size_key: str,
        full: int,
        pilot: int | None,
        cost_key: str = "",
    ) -> None:
        """``pilot``: size of a pilot run that picks the scale; None: the child itself stops
        after the budget (fine when each unit is durable before the next starts)."""
        for tracker in self.rotations(1)[0]:
            budget = self.budget(tracker, self.sizes.budget_s)
            params: dict[str, Any] = {}
            if pilot is None:
                n, note = full, ""
                params["budget_s"] = budget
            elif tracker in FULL_SCALE:
                n, note = full, ""
            else:
                n, note = self.scaled(tracker, phase, size_key, full, pilot, cost_key)
            workdir = self.fresh(tracker, phase)
            timeout = max(self.timeout_s, min(budget, self.sizes.budget_s) * 4)
            result = self.run_child(
                tracker, phase, workdir, timeout=timeout, **{size_key: n}, **params
            )
            cell = self.cell_from(result)
            if cell.status == "ok":
                cell.values = {k: v for k, v in result.items() if k != "status"}
                done = int(result.get("n", n))
                cell.scale = {size_key: done}
                if pilot is None and done < full:
                    note = f"stopped after the {budget:.0f} s budget: {done:,} of {full:,}"
                if note:
                    cell.notes.append(note)
            self.put(workload, tracker, cell)

    def w1(self) -> None:
        s = self.sizes
        self._write_workload(
            "W1", "w1", "steps", s.w1_steps, max(1000, s.w1_steps // 50), "durable_s"
        )

    def w2(self) -> None:
        s = self.sizes
        self._write_workload(
            "W2", "w2", "steps", s.w2_steps, max(100, s.w2_steps // 50), "durable_s"
        )

    def w3(self) -> None:
        s = self.sizes
        self._write_workload("W3", "w3", "runs", s.w3_runs, None)

    # --- W4, W5: reads in fresh processes (median over repeats) --------------------------
    def _reads(
        self,
        workload: str,
        phase: str,
        source: Callable[[str], tuple[Path, dict[str, Any], list[str]] | str],
        keys: list[str],
        count_key: str,
    ) -> None:
        prepared: dict[str, tuple[Path, dict[str, Any], list[str]]] = {}
        for tracker in self.usable():
            src = source(tracker)
            if isinstance(src, str):
                self.put(workload, tracker, Cell().fail("error", src))
            else:
                prepared[tracker] = src
        samples: dict[str, list[dict[str, Any]]] = {t: [] for t in prepared}
        failure: dict[str, dict[str, Any]] = {}
        slow: set[str] = set()
        for i, order in enumerate(self.rotations(self.sizes.read_repeats)):
            for tracker in order:
                if tracker not in prepared or tracker in failure or tracker in slow:
                    continue
                store, params, notes = prepared[tracker]
                workdir = self.fresh(tracker, f"{phase}-{i}")
                started = time.perf_counter()
                result = self.run_child(tracker, phase, workdir, store=store, **params)
                if time.perf_counter() - started > SLOW_READER_S and i == 0:
                    slow.add(tracker)  # median of repeats only where cheap
                    notes.append(f"one reader process (it took > {SLOW_READER_S:.0f} s)")
                if result.get("status") == "ok":
                    samples[tracker].append(result)
                else:
                    failure[tracker] = result
        for tracker, (_, _, notes) in prepared.items():
            if tracker in failure:
                self.put(workload, tracker, self.cell_from(failure[tracker]))
                continue
            runs = samples[tracker]
            values: dict[str, Any] = {k: _median([r[k] for r in runs]) for k in keys}
            for k, v in runs[0].items():
                if k not in keys and k != "status":
                    values[k] = v
            cell = Cell(
                values=values, notes=list(notes), scale={count_key: int(runs[0].get(count_key, 0))}
            )
            self.put(workload, tracker, cell)

    def w4(self) -> None:
        def source(tracker: str) -> tuple[Path, dict[str, Any], list[str]] | str:
            store = self.work / tracker / "w3" / "store"
            w3 = self.results.get("W3", {}).get(tracker)
            if w3 is not None and w3.status != "ok":
                return f"needs W3, which failed: {w3.reason}"
            if not store.exists() and tracker != "floor":
                return "needs W3's store (run W3 first)"
            notes = []
            if w3 is not None and w3.scale.get("runs", self.sizes.w3_runs) < self.sizes.w3_runs:
                notes.append(f"over W3's {w3.scale['runs']:,} runs (W3 was scaled down)")
            return store, {}, notes

        self._reads("W4", "w4", source, ["query_s", "query_cold_s"], "rows")
        for tracker, cell in self.results["W4"].items():
            w3 = self.results.get("W3", {}).get(tracker)
            if cell.status == "ok" and w3 is not None:
                cell.scale = {"runs": w3.scale.get("runs", self.sizes.w3_runs)}

    def w5(self) -> None:
        full = self.sizes.w1_steps

        def source(tracker: str) -> tuple[Path, dict[str, Any], list[str]] | str:
            w1 = self.results.get("W1", {}).get(tracker)
            w1_dir = self.work / tracker / "w1"
            complete = w1 is not None and w1.status == "ok" and w1.scale.get("steps") == full
            if tracker == "floor" or complete or (w1 is None and (w1_dir / "ref.json").exists()):
                return w1_dir / "store", {"ref_file": str(w1_dir / "ref.json")}, []
            workdir = self.fresh(tracker, "w5-populate")
            result = self.run_child(
                tracker, "populate", workdir, points=full, budget_s=self.sizes.budget_s * 2
            )
            if result.get("status") != "ok":
                return f"populating the series failed: {result.get('reason')}"
            note = f"W1 was scaled down: series of {result['points']:,} points written by bulk API"
            return workdir / "store", {"ref_file": str(workdir / "ref.json")}, [note]

        self._reads("W5", "w5", source, ["read_s", "read_cold_s"], "points")

    # --- W6: SIGKILL mid-run --------------------------------------------------------------
    def w6(self) -> None:
        steps = self.sizes.w6_steps
        for tracker in self.rotations(1)[0]:
            workdir = self.fresh(tracker, "w6")
            cmd = self.job(tracker, "w6_writer", workdir, steps=steps)
            proc = self.spawn(cmd, workdir, stdout=subprocess.PIPE)
            error = self._kill_after_marker(proc, workdir)
            if error:
                self.put("W6", tracker, Cell().fail("error", error))
                continue
            reader_dir = self.fresh(tracker, "w6-read")
            result = self.run_child(
                tracker,
                "w6_reader",
                reader_dir,
                store=workdir / "store",
                ref_file=str(workdir / "ref.json"),
                steps=steps,
            )
            cell = self.cell_from(result)
            if cell.status == "ok":
                cell.values = {k: v for k, v in result.items() if k != "status"}
                cell.scale = {"steps": steps}
            self.put("W6", tracker, cell)

    def _kill_after_marker(self, proc: subprocess.Popen[Any], workdir: Path) -> str | None:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.timeout_s
        seen, buffer = False, b""
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                buffer += chunk
                if MARKER.encode() in buffer:
                    seen = True
                    break
        if seen:
            time.sleep(KILL_DELAY_S)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        else:  # died or timed out before the marker: keep what it printed
            _kill_group(proc.pid)
            buffer += proc.stdout.read()
        proc.wait()
        (workdir / "child.out").write_bytes(buffer)
        grace = time.monotonic() + ORPHAN_GRACE_S
        while _group_alive(proc.pid) and time.monotonic() < grace:
            time.sleep(0.1)
        _kill_group(proc.pid)
        proc.stdout.close()
        if seen:
            return None
        result = self.parse(workdir, buffer.decode(errors="replace"))
        if result is not None and result.get("status") != "ok":
            return str(result.get("reason"))
        return "writer ended without printing the marker"

    # --- W7: concurrent writers into one store ---------------------------------------------
    def w7(self) -> None:
        s = self.sizes
        expected = s.w7_procs * s.w7_steps * 5
        for tracker in self.rotations(1)[0]:
            workdir = self.fresh(tracker, "w7")
            store = workdir / "store"
            init_dir = self.fresh(tracker, "w7-init")
            init = self.run_child(tracker, "init_store", init_dir, store=store)
            if init.get("status") != "ok":
                self.put("W7", tracker, self.cell_from(init))
                continue
            procs = []
            t0 = time.perf_counter()
            for i in range(s.w7_procs):
                pdir = workdir / f"proc-{i}"
                pdir.mkdir()
                cmd = self.job(tracker, "w7_writer", workdir, store, steps=s.w7_steps, index=i)
                procs.append((pdir, self.spawn(cmd, pdir)))
            timeouts = [
                self.finish_proc(p, max(1.0, self.timeout_s - (time.perf_counter() - t0)))
                for _, p in procs
            ]
            wall = time.perf_counter() - t0
            errors, first = 0, ""
            for (pdir, _), timeout in zip(procs, timeouts, strict=True):
                result = {"status": "error", "reason": timeout} if timeout else self.parse(pdir)
                if result is None:
                    result = {"status": "error", "reason": "writer died"}
                if result.get("status") != "ok":
                    errors += 1
                    first = first or str(result.get("reason"))
                else:
                    errors += int(result.get("log_errors", 0))
                    first = first or str(result.get("first_error", ""))
            warnings = sum(
                1
                for pdir, _ in procs
                for line in (pdir / "child.err").read_text(errors="replace").splitlines()
                if any(w in line.lower() for w in ("error", "locked", "warning"))
            )
            reader_dir = self.fresh(tracker, "w7-read")
            result = self.run_child(
                tracker, "w7_reader", reader_dir, store=store, writers_dir=str(workdir)
            )
            cell = Cell(
                values={"errors": errors, "wall_s": wall, "stderr_warnings": warnings},
                scale={"points": expected},
            )
            if result.get("status") == "ok":
                cell.values["lost"] = expected - int(result["points"])
            else:
                cell.values["lost"] = str(result.get("status"))
                cell.notes.append(f"points lost: {result.get('reason')}")
            if first:
                cell.notes.append(f"first error: {first[:160]}")
            if warnings:
                cell.notes.append(f"{warnings} error/warning lines on the writers' stderr")
            self.put("W7", tracker, cell)

    # --- W8: scale ----------------------------------------------------------------------------
    def w8(self) -> None:
        s = self.sizes
        populated: dict[str, dict[str, Any]] = {}

        def source(tracker: str) -> tuple[Path, dict[str, Any], list[str]] | str:
            workdir = self.fresh(tracker, "w8")
            if tracker == "floor":
                return workdir / "store", {"ref_file": str(workdir / "ref.json")}, []
            result = self.run_child(
                tracker,
                "populate",
                workdir,
                timeout=max(3600.0, s.w8_budget_s * 3 + 600),
                runs=s.w8_runs,
                config_keys=50,
                final_keys=20,
                points=s.w8_points,
                budget_s=self.budget(tracker, s.w8_budget_s),
            )
            if result.get("status") != "ok":
                return f"population failed: {result.get('reason')}"
            populated[tracker] = result
            notes = []
            if result["runs"] < s.w8_runs or result["points"] < s.w8_points:
                notes.append(
                    f"smaller scale: {result['runs']:,} runs and {result['points']:,} points "
                    f"populated within the {s.w8_budget_s:.0f} s budget (spec: {s.w8_runs:,} "
                    f"runs, {s.w8_points:,} points); not extrapolated"
                )
            return workdir / "store", {"ref_file": str(workdir / "ref.json")}, notes

        self._reads(
            "W8",
            "w8_read",
            source,
            [
                "query_s",
                "query_cold_s",
                "read_s",
                "read_cold_s",
                "downsample_s",
                "downsample_cold_s",
            ],
            "points",
        )
        for tracker, cell in self.results["W8"].items():
            info = populated.get(tracker)
            if info is not None:
                cell.scale = {"runs": int(info["runs"]), "points": int(info["points"])}
                cell.values.update(
                    populate_runs_s=info["runs_s"], populate_series_s=info["series_s"]
                )


def default_python() -> str:
    venv = BENCH / ".peers" / "venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable
