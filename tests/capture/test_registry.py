from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labledger.capture import capture_all, registry

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ["git", "environment", "host", "gpu", "command", "determinism"]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let a hung probe's thread finish


@pytest.fixture
def hang(release: threading.Event) -> Any:
    """A probe that hangs until the test ends."""

    def probe(cwd: Path | None) -> dict[str, Any]:
        release.wait(60)
        return {"late": True}

    return probe


def test_every_section_json_ready_and_silent(capfd: pytest.CaptureFixture[str]) -> None:
    result = capture_all(cwd=REPO)

    assert list(result) == SECTIONS
    assert not [name for name, section in result.items() if "error" in section]
    assert result["git"]["root"] == str(REPO)
    json.dumps(result)
    assert capfd.readouterr() == ("", "")


def test_cwd_reaches_the_git_probe(tmp_path: Path) -> None:
    assert capture_all(cwd=tmp_path)["git"]["present"] is False


def test_failing_probe_costs_only_its_section(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cwd: Path | None) -> dict[str, Any]:
        raise RuntimeError("no /proc here\nsecond line")

    monkeypatch.setitem(registry.PROBES, "host", broken)

    result = capture_all()

    assert result["host"] == {"error": "RuntimeError: no /proc here"}
    assert [name for name, section in result.items() if "error" in section] == ["host"]
    assert result["environment"]["packages"]


@pytest.mark.parametrize(
    "probe",
    [lambda cwd: ["not", "a", "dict"], lambda cwd: exec("raise SystemExit(3)")],
    ids=["not-a-dict", "system-exit"],
)
def test_misbehaving_probe(probe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.PROBES, "gpu", probe)

    section = capture_all()["gpu"]

    assert list(section) == ["error"]


def test_hanging_probe_times_out(monkeypatch: pytest.MonkeyPatch, hang: Any) -> None:
    capture_all()  # warm caches and imports so only the hung probe is slow

    monkeypatch.setitem(registry.PROBES, "determinism", hang)

    start = time.monotonic()
    result = capture_all(timeout=1.5)
    elapsed = time.monotonic() - start

    assert result["determinism"] == {"error": "timed out after 1.5s"}
    assert 1.5 <= elapsed < 3.5
    assert [name for name, section in result.items() if "error" in section] == ["determinism"]


def test_probes_run_concurrently(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(cwd: Path | None) -> dict[str, Any]:
        time.sleep(0.5)
        return {"ok": True}

    monkeypatch.setattr(registry, "PROBES", dict.fromkeys(SECTIONS, slow))

    start = time.monotonic()
    result = capture_all()

    assert time.monotonic() - start < 1.5
    assert result == {name: {"ok": True} for name in SECTIONS}


def test_later_jobs_reuse_the_probe_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every probe counts as quick: on a loaded machine a real probe can take over 50 ms and
    # rightly get a thread of its own, which is not what this test is about.
    monkeypatch.setattr(registry, "FAST_SECONDS", 3600.0)
    for _ in range(2):  # the first job times the probes, the second starts the kept runner
        assert registry.CaptureJob(on_complete=lambda sections: None).delivered(30)
    before = set(threading.enumerate())

    for _ in range(3):
        delivered: list[dict[str, Any]] = []
        job = registry.CaptureJob(on_complete=delivered.append)
        assert job.delivered(30) and list(delivered[0]) == SECTIONS

    assert set(threading.enumerate()) <= before


def test_a_probe_hanging_from_an_earlier_job_does_not_delay_the_next(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    capture_all()

    hanging = threading.Event()

    def hang_once(cwd: Path | None) -> dict[str, Any]:
        hanging.set()
        release.wait(60)
        return {"late": True}

    monkeypatch.setitem(registry.PROBES, "determinism", hang_once)
    registry.CaptureJob()  # its determinism probe hangs on the kept thread
    assert hanging.wait(10)
    monkeypatch.setitem(registry.PROBES, "determinism", lambda cwd: {"second": True})

    start = time.monotonic()
    result = capture_all(timeout=20)

    assert result["determinism"] == {"second": True}
    assert time.monotonic() - start < 10


def test_sections_are_handed_over_at_the_deadline_when_a_probe_hangs(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, hang: Any
) -> None:
    capture_all()

    monkeypatch.setitem(registry.PROBES, "host", hang)
    delivered: list[dict[str, Any]] = []

    job = registry.CaptureJob(on_complete=delivered.append, timeout=0.5)

    assert job.delivered(10)
    assert delivered[0]["host"] == {"error": "timed out after 0.5s"}
    assert [name for name, section in delivered[0].items() if "error" in section] == ["host"]
    release.set()
    time.sleep(0.2)
    assert len(delivered) == 1  # the late answer is not handed over again


def test_quick_probes_share_one_thread_and_a_stall_there_costs_only_its_section(
    monkeypatch: pytest.MonkeyPatch, hang: Any
) -> None:
    seen: dict[str, str] = {}

    def quick(name: str) -> Any:
        def probe(cwd: Path | None) -> dict[str, Any]:
            seen[name] = threading.current_thread().name
            return {"ok": name}

        return probe

    probes = {name: quick(name) for name in SECTIONS}
    monkeypatch.setattr(registry, "PROBES", probes)
    capture_all()  # learns that they are quick
    seen.clear()
    assert capture_all() == {name: {"ok": name} for name in SECTIONS}
    assert set(seen.values()) == {"labledger-capture"}  # one thread, in turn

    # Not git, whose deadline is minutes; timed 0 s, the hang runs first and stalls the thread.
    first = min((n for n in SECTIONS if n != "git"), key=lambda n: registry._durations[probes[n]])
    probes[first] = hang
    registry._durations[hang] = 0.0
    delivered: list[dict[str, Any]] = []
    job = registry.CaptureJob(on_complete=delivered.append, timeout=6.0)

    assert job.delivered(30)
    assert delivered[0][first] == {"error": "timed out after 6s"}
    assert [n for n, section in delivered[0].items() if "error" in section] == [first]


def test_a_blocking_handover_does_not_hold_up_another_jobs_deadline(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, hang: Any
) -> None:
    capture_all()

    monkeypatch.setitem(registry.PROBES, "host", hang)
    handing_over = threading.Event()

    def block(sections: dict[str, dict[str, Any]]) -> None:
        handing_over.set()
        release.wait(60)  # e.g. a flush to a store that does not answer

    registry.CaptureJob(on_complete=block, timeout=0.5)
    assert handing_over.wait(10)
    delivered: list[dict[str, Any]] = []

    job = registry.CaptureJob(on_complete=delivered.append, timeout=0.5)

    assert job.delivered(10)
    assert delivered[0]["host"] == {"error": "timed out after 0.5s"}
