from __future__ import annotations

import io
import sys
import threading
import time

import pytest

from labledger.capture import ConsoleCapture

Record = tuple[str, float, str]


def _text(records: list[Record], stream: str) -> str:
    return "".join(text for name, _, text in records if name == stream)


def test_tees_print_while_the_user_still_sees_it(capfd: pytest.CaptureFixture[str]) -> None:
    records: list[Record] = []
    capture = ConsoleCapture(lambda *record: records.append(record))
    before = time.time()

    capture.start()
    print("epoch 1 loss 0.5")
    print("warning: lr high", file=sys.stderr)
    capture.stop()
    print("after stop")

    out, err = capfd.readouterr()
    assert out == "epoch 1 loss 0.5\nafter stop\n"
    assert err == "warning: lr high\n"
    assert _text(records, "stdout") == "epoch 1 loss 0.5\n"
    assert _text(records, "stderr") == "warning: lr high\n"
    assert all(before <= t <= time.time() for _, t, _ in records)
    assert all(text for _, _, text in records)


def test_stop_restores_the_original_streams_and_is_idempotent() -> None:
    out, err = sys.stdout, sys.stderr
    capture = ConsoleCapture(lambda *record: None)

    capture.start()
    assert sys.stdout is not out
    assert sys.stderr is not err
    capture.start()  # a second start does not wrap twice
    capture.stop()
    assert sys.stdout is out
    assert sys.stderr is err
    capture.stop()
    assert sys.stdout is out


class RecordingStream:
    """A console stream that remembers every call, to compare with what the tee passes on."""

    encoding = "latin-1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def write(self, text: str) -> int:
        self.calls.append(("write", text))
        return len(text)

    def flush(self) -> None:
        self.calls.append(("flush", ""))

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 42


def test_writes_flushes_and_attributes_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = RecordingStream()
    monkeypatch.setattr(sys, "stdout", stream)
    capture = ConsoleCapture(lambda *record: None)

    capture.start()
    print("a", "b", flush=True)
    written = sys.stdout.write("xyz")
    sys.stdout.writelines(["1", "2"])
    tee = sys.stdout
    capture.stop()

    assert stream.calls == [
        ("write", "a"),
        ("write", " "),
        ("write", "b"),
        ("write", "\n"),
        ("flush", ""),
        ("write", "xyz"),
        ("write", "1"),
        ("write", "2"),
    ]
    assert written == 3
    assert (tee.encoding, tee.isatty(), tee.fileno()) == ("latin-1", True, 42)


def test_failing_or_printing_sink_never_breaks_print(capfd: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []

    def sink(stream: str, t: float, text: str) -> None:
        calls.append(text)
        print("sink output")  # would recurse without the guard
        raise ValueError("store is down")

    capture = ConsoleCapture(sink)
    capture.start()
    try:
        print("still shown")
    finally:
        capture.stop()

    out, _ = capfd.readouterr()
    assert out == "still shownsink output\n\nsink output\n"
    assert calls == ["still shown", "\n"]


def test_threads(capfd: pytest.CaptureFixture[str]) -> None:
    records: list[Record] = []
    lock = threading.Lock()

    def sink(*record: Record) -> None:
        with lock:
            records.append(record)  # type: ignore[arg-type]

    def worker(n: int) -> None:
        for i in range(200):
            sys.stdout.write(f"t{n}-{i}\n")

    capture = ConsoleCapture(sink)  # type: ignore[arg-type]
    capture.start()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    capture.stop()

    expected = sorted(f"t{n}-{i}\n" for n in range(8) for i in range(200))
    assert sorted(text for _, _, text in records) == expected
    assert sorted(capfd.readouterr().out.splitlines(keepends=True)) == expected


def test_stream_replaced_after_start_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    records: list[Record] = []
    capture = ConsoleCapture(lambda *record: records.append(record))
    capture.start()
    tee = sys.stdout
    replacement = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replacement)

    capture.stop()
    tee.write("through the old tee\n")

    assert sys.stdout is replacement
    assert records == []
