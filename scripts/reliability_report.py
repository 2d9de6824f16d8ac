"""Run the reliability suite and write docs/reliability.md from what it found.

    python scripts/reliability_report.py            # the bounded CI subset (about a minute)
    python scripts/reliability_report.py --fuzz 500 # 500 random examples per property, seeded

Every figure in the table comes from this run: the cases pytest ran per fault or input class,
the examples the randomized tests generated, the points lost (tests record ``points_lost``)
and the failures. Run from the repository root.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# test file -> (class of fault or input, what the cases try)
CLASSES: dict[str, tuple[str, str]] = {
    "test_writer_isolation.py": (
        "Bad values and keys in the writer",
        "grad tensors, 10**400, steps 2**63/1e30/NaN/inf, None/tuple/int/empty/long keys, "
        "mixed bad values in one flush, in-place updates after log, a writer thread that dies",
    ),
    "test_properties.py": (
        "Random SDK and CLI input (hypothesis)",
        "metric names and values, steps, run name/notes/tags/config, artifact names, "
        "metadata and aliases, CLI argument lists",
    ),
    "test_api_fuzz.py": (
        "Random HTTP requests (schemathesis)",
        "every operation of /api/openapi.json with generated parameters and bodies",
    ),
    "test_bad_input.py": (
        "Garbage CLI and query input",
        "--sort -, 30-digit --limit, 3,000-deep filters, bad order_by, % and _ in tag "
        "filters, out-of-range paging over HTTP, a random-bytes database file, an "
        "unwritable store",
    ),
    "test_coercions.py": (
        "Silent coercions",
        "tags as a string, cyclic and 1000-deep config, resuming a live run, symlinks out "
        "of a logged folder",
    ),
    "test_store_faults.py": (
        "Store faults",
        "store file deleted, replaced, made read-only mid-run; disk full (RLIMIT_FSIZE); "
        "a backlog larger than a journal file",
    ),
    "test_postgres_down.py": (
        "PostgreSQL down at finish",
        "connections cut by a proxy mid-run; spooled, delivered by the next init",
    ),
    "test_signals.py": (
        "Signals inside flush, log_artifact, finish",
        "SIGTERM and SIGINT at a random moment in each",
    ),
    "test_crash_matrix.py": (
        "Crash matrix",
        "SIGKILL, SIGTERM, SIGINT, exception, os._exit, sys.exit(3) x with/without `with` "
        "x logging/uploading artifacts",
    ),
    "test_exit_codes.py": ("Exit codes", "sys.exit(n) with and without `with`"),
    "test_concurrency.py": (
        "Concurrency",
        "32 processes into one store, two processes resuming one run, 16 threads, alias "
        "moves and gc while logging; PRAGMA integrity_check after each",
    ),
    "test_secrets.py": (
        "Secrets",
        "15 planted secrets (argv, URLs, config, console, env, .env/.pem/secrets.yaml, git "
        "remote, hydra override, share URL) grepped in the whole store",
    ),
    "test_upgrade.py": (
        "Upgrades",
        "a committed store per schema revision, upgraded and read back",
    ),
}


@dataclass
class Row:
    cases: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    examples: int = 0
    points_lost: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_suite(fuzz: int, seed: int) -> tuple[dict[str, Row], float]:
    junit = Path(tempfile.mkdtemp()) / "reliability.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LABLEDGER_TEST_SEED": str(seed)}
    if fuzz:
        env["LABLEDGER_FUZZ"] = str(fuzz)
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p",
               "no:cacheprovider", "-n", "2", f"--junitxml={junit}"]  # fmt: skip
    started = time.time()
    subprocess.run(command, cwd=ROOT, env=env, check=False)
    elapsed = time.time() - started
    rows: dict[str, Row] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1] + ".py"
        row = rows.setdefault(module, Row())
        row.cases += 1
        row.seconds += float(case.get("time") or 0)
        props: dict[str, int] = {}
        for prop in case.iter("property"):
            name, value = prop.get("name", ""), int(prop.get("value") or 0)
            props[name] = max(props.get(name, 0), value)
        row.examples += props.get("examples", 1)
        row.points_lost += props.get("points_lost", 0)
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            row.failed += 1
            row.errors.append(f"{case.get('name')}: {(failure.get('message') or '')[:120]}")
        elif case.find("skipped") is not None:
            row.skipped += 1
        else:
            row.passed += 1
    return rows, elapsed


def render(rows: dict[str, Row], elapsed: float, fuzz: int, seed: int) -> str:
    mode = f"`--fuzz {fuzz}` (random, seed {seed})" if fuzz else "the bounded default subset"
    lines = [
        "# Reliability",
        "",
        "What `tests/reliability/` tries against labledger and what it found, from one real",
        f"run of {mode} on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"{elapsed:.0f} s wall time on two workers.",
        "Regenerate with `python scripts/reliability_report.py` (`--fuzz N` for N random",
        "examples per property; the seed is printed and `LABLEDGER_TEST_SEED` replays it).",
        "",
        "| Fault or input class | What the cases try | Cases | Examples | Passed | Failed "
        "| Points lost |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    total = Row()
    for module, (title, tried) in CLASSES.items():
        row = rows.get(module, Row())
        lines.append(
            f"| {title} | {tried} | {row.cases} | {row.examples} | {row.passed} | "
            f"{row.failed} | {row.points_lost} |"
        )
        for name in ("cases", "examples", "passed", "failed", "points_lost"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    lines.append(
        f"| **All** | | **{total.cases}** | **{total.examples}** | **{total.passed}** | "
        f"**{total.failed}** | **{total.points_lost}** |"
    )
    lines += ["", "Examples: generated inputs or requests for the randomized tests (one per",
              "case otherwise). Points lost: flushed or logged points missing afterwards, as",
              "counted by the crash, disk-full and 32-process tests.", ""]  # fmt: skip
    failures = [e for row in rows.values() for e in row.errors]
    lines += ["## Failures in this run", ""]
    lines += [f"- {e}" for e in failures] or ["None."]
    lines += ["", FINDINGS]
    return "\n".join(lines) + "\n"


FINDINGS = """## Bugs these suites found (each fixed, with a test that failed before)

- Disk full with a large backlog: the whole backlog was one journal record larger than a file
  may grow, so every folder refused it and it went to memory, lost at exit (the disk-full test
  failed whenever the run logged faster than the writer flushed). The spool now splits it.
- `GET /api/runs?offset=2**63` raised `OverflowError` (a 500); now a 4xx.
- A CLI argument holding `\r` or `\n` (or a terminal escape) split the one-line error
  (`labledger sync $'\r'`, found by a seeded long run); control characters are now escaped.
- `labledger runs` (a group without a subcommand) printed its whole help as a 16-line error;
  now the help on stdout, exit 0.
- The same artifact content logged again with other metadata dropped the new metadata
  without a word; now one warning.
- Earlier (issue 10's list): the writer dying on one bad value, `None`/tuple keys, the store
  deleted or replaced, disk full, spool never re-delivered, secrets in argv/URLs/env/files,
  SIGTERM/SIGINT inside `flush`, `sys.exit` codes, tag wildcards, tracebacks on garbage.

## Options the suites rely on

- `LABLEDGER_FUZZ=N`: N random examples per hypothesis property and per HTTP operation
  (default: a small derandomized subset); `LABLEDGER_TEST_SEED` replays a run.
- `LABLEDGER_CAPTURE_SECRET_FILES=1`: record the content of untracked files that look like
  secrets (`.env`, `*secret*`, `*.pem`, key files); by default only their name and digest.

## Known limits

- `gc --min-age 0` while another process logs an artifact can delete that put's temp file
  (the log then fails with a clear error); the default minimum age (1 h) prevents it.
- Points spooled to memory (no folder takes writes at all) are lost if the process ends
  before the store is back; the warning says so.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=0, help="random examples per property")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"LABLEDGER_TEST_SEED={seed}")
    rows, elapsed = run_suite(args.fuzz, seed)
    args.out.write_text(render(rows, elapsed, args.fuzz, seed))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
