"""``use_dataset`` inputs that can be re-checked later.

A path or URI is fingerprinted by reference (nothing copied). Data that will not stay where it
is gets its bytes stored too, when small (``LABLEDGER_DATASET_COPY_MAX_MB``, default 64):

- a file or folder in a temporary folder (``tempfile.gettempdir()``, ``/dev/shm``): still a
  reference to its path, plus a stored copy (``metadata["stored_copy"]``), so ``check`` and
  ``artifacts verify`` re-verify it from the copy once the path is gone;
- in-memory data (``bytes``, a numpy array): stored as a dataset version; over the limit only
  its digest is recorded, and ``check`` says it cannot verify it.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_COPY_MAX_MB = 64.0
COPY_LIMIT_ENV = "LABLEDGER_DATASET_COPY_MAX_MB"
MEMORY = "memory"


def copy_limit() -> int:
    """Bytes up to which temporary and in-memory datasets are stored."""
    text = os.environ.get(COPY_LIMIT_ENV)
    try:
        megabytes = float(text) if text else DEFAULT_COPY_MAX_MB
    except ValueError:
        megabytes = DEFAULT_COPY_MAX_MB
    return max(0, int(megabytes * (1 << 20)))


def _temporary_roots() -> list[Path]:
    roots = [Path(tempfile.gettempdir()), Path("/dev/shm")]
    return [r.resolve() for r in roots if r.is_dir()]


def is_temporary(path: Path) -> bool:
    try:
        resolved = path.resolve()
    except OSError:
        return False
    return any(resolved.is_relative_to(root) for root in _temporary_roots())


def local_size(path: Path, limit: int) -> int | None:
    """Total bytes of a file or folder; None once it exceeds ``limit`` (stops walking)."""
    if path.is_file():
        size = path.stat().st_size
        return size if size <= limit else None
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
            if total > limit:
                return None
    return total


def is_in_memory(data: Any) -> bool:
    return isinstance(data, bytes | bytearray | memoryview) or (
        hasattr(data, "dtype") and hasattr(data, "shape") and hasattr(data, "tobytes")
    )


def memory_bytes(data: Any) -> tuple[bytes, str]:
    """The bytes to fingerprint, and the file suffix: raw bytes, or a numpy ``.npy``."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data), ""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(data), allow_pickle=False)
    return buffer.getvalue(), ".npy"
