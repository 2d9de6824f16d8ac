"""Garbage collection: delete blobs that no artifact version references.

``keep`` is read from the registry after the blob listing, and a blob modified within
``min_age`` seconds is never deleted, so a ``log`` that is uploading (or re-using) a blob while
``gc`` runs keeps it: the local store touches a re-used blob, and every blob's age is checked
again just before it is deleted. The blob store must belong to one labledger store only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Set
from dataclasses import dataclass, field

from labledger.artifacts.blobstore import BlobInfo, BlobStore
from labledger.artifacts.local import LocalBlobStore

DEFAULT_MIN_AGE = 3600.0


@dataclass
class GcReport:
    """What ``gc`` removed (or, with ``dry_run``, would remove)."""

    dry_run: bool
    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    too_recent: int = 0
    temp_bytes: int = 0


def collect_garbage(
    blobs: BlobStore,
    referenced: Callable[[], Set[str]],
    *,
    dry_run: bool = False,
    min_age: float = DEFAULT_MIN_AGE,
    only: Set[str] | None = None,
) -> GcReport:
    """Remove every blob not in ``referenced()`` and older than ``min_age`` seconds; with
    ``only``, just those of these digests (what a ``runs rm`` / ``artifacts rm`` freed)."""
    report = GcReport(dry_run=dry_run)
    listed: list[BlobInfo] = [b for b in blobs.iter_blobs() if only is None or b.digest in only]
    keep = referenced()
    cutoff = time.time() - min_age
    for blob in listed:
        if blob.digest in keep:
            report.kept += 1
            report.kept_bytes += blob.size
            continue
        fresh = blobs.info(blob.digest)
        if fresh is None:
            continue
        if fresh.modified > cutoff:
            report.too_recent += 1
            continue
        if not dry_run:
            blobs.delete(blob.digest)
        report.removed.append(blob.digest)
        report.removed_bytes += fresh.size
    if not dry_run and isinstance(blobs, LocalBlobStore):
        report.temp_bytes = blobs.remove_stale_temp(min_age)
    return report
