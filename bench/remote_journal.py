"""What a remote run writes to local disk per flush: bytes and syncs of both journals.

    python bench/remote_journal.py                 # 20,000 steps × 2 keys into a loopback server
    python bench/remote_journal.py --steps 100000

A run logs through ``HttpStore`` into a server on loopback (SQLite behind it; the server's own
writes are not counted). In the client process, ``os.fsync`` / ``os.fdatasync`` /
``mmap.flush`` calls and the bytes written to client-journal files (``*.journal``) are counted;
the point journal's bytes are the records of the logged points (``8 + len(marshal)`` each,
written into the mapping without a syscall). Reports them in total and per writer flush.
"""

from __future__ import annotations

import argparse
import json
import marshal
import mmap
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.client.server import ServerProcess  # noqa: E402

COUNTS = {"fsync": 0, "fdatasync": 0, "msync": 0, "client_journal_bytes": 0}


def _instrument() -> None:
    real_fsync, real_fdatasync, real_write = os.fsync, os.fdatasync, os.write

    def fsync(fd: int) -> None:
        COUNTS["fsync"] += 1
        real_fsync(fd)

    def fdatasync(fd: int) -> None:
        COUNTS["fdatasync"] += 1
        real_fdatasync(fd)

    def write(fd: int, data: Any) -> int:
        n = real_write(fd, data)
        try:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(".journal"):
                COUNTS["client_journal_bytes"] += n
        except OSError:
            pass
        return n

    os.fsync, os.fdatasync, os.write = fsync, fdatasync, write  # type: ignore[assignment]
    real_flush = mmap.mmap.flush

    class Counted(mmap.mmap):
        def flush(self, *args: Any) -> None:
            COUNTS["msync"] += 1
            real_flush(self, *args)

    mmap.mmap = Counted  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ll-remote-journal-"))
    server = ServerProcess(f"sqlite:///{tmp / 'server' / 'db.sqlite'}", tmp / "server.log")
    server.start()
    os.environ.update(
        LABLEDGER_URI=server.url,
        LABLEDGER_DIR=str(tmp / "client"),
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
    )
    try:
        _instrument()
        import labledger as ll
        from labledger.sdk import writer
        from labledger.sdk.backend import close_stores

        flushes = [0]
        write = writer.Writer._write

        def counted(self: Any, store: Any, batch: Any) -> None:
            flushes[0] += 1
            write(self, store, batch)

        writer.Writer._write = counted  # type: ignore[method-assign]
        run = ll.init(project="bench", capture=False)
        point_bytes = 0
        for i in range(args.steps):
            data = {"loss": 1.0 / (i + 1), "acc": i / args.steps}
            run.log(data, step=i)
            point_bytes += 8 + len(marshal.dumps((time.time(), i, data), 2))
            if i % 200 == 0:
                time.sleep(0.02)  # a training step's pace: several flushes
        run.finish()
        close_stores()
    finally:
        server.stop()
    n = max(flushes[0], 1)
    syncs = COUNTS["fsync"] + COUNTS["fdatasync"] + COUNTS["msync"]
    print(
        json.dumps(
            {
                "steps": args.steps,
                "flushes": flushes[0],
                **COUNTS,
                "point_journal_bytes": point_bytes,
                "client_journal_bytes_per_flush": round(COUNTS["client_journal_bytes"] / n),
                "point_journal_bytes_per_flush": round(point_bytes / n),
                "syncs_per_flush": round(syncs / n, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
