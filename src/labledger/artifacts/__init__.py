"""Artifact bytes: content-addressed blob stores, manifests, hashing and references.

This package knows nothing about runs or the database (``labledger.store`` holds the version
rows; ``labledger.sdk.artifacts`` joins the two). Importing it loads no optional dependency:
boto3 is imported when an ``s3://`` URI is first used.
"""

from __future__ import annotations

from labledger.artifacts.blobstore import BlobInfo, BlobStore, open_blob_store
from labledger.artifacts.gc import GcReport, collect_garbage
from labledger.artifacts.hashing import HashCache, hash_file
from labledger.artifacts.local import LocalBlobStore
from labledger.artifacts.manifest import content_digest, is_single_file, scan_local
from labledger.artifacts.memory import MemoryBlobStore
from labledger.artifacts.names import ArtifactRef, default_name, parse_ref

__all__ = [
    "ArtifactRef",
    "BlobInfo",
    "BlobStore",
    "GcReport",
    "HashCache",
    "LocalBlobStore",
    "MemoryBlobStore",
    "collect_garbage",
    "content_digest",
    "default_name",
    "hash_file",
    "is_single_file",
    "open_blob_store",
    "parse_ref",
    "scan_local",
]
