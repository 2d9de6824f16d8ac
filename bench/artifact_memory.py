"""Peak memory of logging a large file as an artifact (target: under 100 MB for 1 GB).

Writes a file of ``--size-mb`` MiB (default 1024) in a temporary folder, 1 MiB of fresh random
bytes at a time, so no block is sparse or compressible, then through ``Artifacts.log`` into a
fresh local store in the same folder: hash (streamed), copy into the blob store (streamed,
fsync, rename). It then logs the unchanged file again (hash cache hit, blob already present)
and downloads it with ``Artifacts.use`` (streamed copy, digest checked).

Peak resident memory is reported two ways: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(the kernel's high-water mark for this process) and the largest ``psutil`` RSS sample taken
every 5 ms by a background thread. Exit status 1 when the peak reaches the limit.

    python bench/artifact_memory.py [--size-mb 1024] [--limit-mb 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

MIB = 1024 * 1024


class PeakSampler:
    """The largest RSS seen by polling psutil (ru_maxrss is the authoritative figure)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.peak = 0
        self._interval = interval
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def max_rss_bytes() -> int:
    # Linux reports kilobytes, macOS bytes.
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def write_big_file(path: Path, size_mb: int) -> None:
    with open(path, "wb") as out:
        for _ in range(size_mb):
            out.write(os.urandom(MIB))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--limit-mb", type=float, default=100.0, help="peak RSS limit in MB")
    args = parser.parse_args()

    from labledger.config import load_settings
    from labledger.sdk.artifacts import Artifacts
    from labledger.store import open_store

    with tempfile.TemporaryDirectory(prefix="labledger-bench-") as tmp:
        root = Path(tmp)
        big = root / "big.bin"
        started = time.perf_counter()
        write_big_file(big, args.size_mb)
        wrote = time.perf_counter() - started
        # As if the checkpoint was written a minute ago: files modified within the last two
        # seconds are never trusted to the hash cache (a same-tick rewrite would go unseen).
        os.utime(big, (time.time() - 60, time.time() - 60))

        settings = load_settings(env={"LABLEDGER_DIR": str(root / "store")}, cwd=root)
        store = open_store(settings.uri)
        service = Artifacts(store, settings)
        baseline = psutil.Process().memory_info().rss

        with PeakSampler() as sampler:
            t0 = time.perf_counter()
            version = service.log(None, big, name="big", type="model")
            t1 = time.perf_counter()
            again = service.log(None, big, name="big", type="model")
            t2 = time.perf_counter()
            fetched = service.use("big", dest=root / "download")
            t3 = time.perf_counter()
        assert again.version == version.version
        assert fetched.stat().st_size == big.stat().st_size
        service.close()
        store.close()

    peak = max_rss_bytes()
    mb = 1e6
    print(f"file:                {args.size_mb} MiB random bytes (written in {wrote:.1f} s)")
    print(f"artifact:            {version.ref} sha256:{version.digest[:16]}")
    print(f"log (hash + store):  {t1 - t0:6.2f} s  ({args.size_mb / (t1 - t0):.0f} MiB/s)")
    print(f"log again (cached):  {t2 - t1:6.2f} s  (same version, nothing re-hashed)")
    print(f"use (download):      {t3 - t2:6.2f} s")
    print(f"RSS before logging:  {baseline / mb:6.1f} MB (interpreter, numpy, SQLAlchemy)")
    print(f"peak RSS (psutil):   {sampler.peak / mb:6.1f} MB")
    print(f"peak RSS (ru_maxrss):{peak / mb:6.1f} MB  (limit {args.limit_mb:.0f} MB)")
    if peak >= args.limit_mb * mb:
        print("FAIL: peak memory over the limit")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
