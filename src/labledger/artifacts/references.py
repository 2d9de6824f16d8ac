"""External references: data that stays where it is (a local path or ``s3://``), recorded by
URI plus a checksum and size per file, so later runs can tell whether it changed.

Local files are fingerprinted by SHA-256 (through the hash cache when logging; ``verify``
always re-reads them). S3 objects are fingerprinted by ETag and size, read from a listing,
so referencing a bucket prefix downloads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from labledger.artifacts.hashing import HashCache
from labledger.artifacts.local import copy_verified
from labledger.artifacts.manifest import Entry, diff_manifests, is_single_file, scan_local
from labledger.artifacts.names import safe_join, validate_manifest_path
from labledger.errors import ArtifactError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ClientFactory = Callable[[], "S3Client"]


@dataclass
class ReferenceScan:
    """The normalized URI of a reference and its manifest."""

    uri: str
    entries: list[Entry]


def is_s3_uri(value: str) -> bool:
    return value.startswith("s3://")


def local_reference_uri(path: Path) -> str:
    return path.absolute().as_uri()


def path_from_file_uri(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise ArtifactError(f"not a local file URI: {uri!r}")
    return Path(unquote(parsed.path))


def _strip_etag(etag: str) -> str:
    return etag.strip('"')


def scan_s3(client: S3Client, uri: str) -> ReferenceScan:
    """One object (``s3://b/key``) or every object under a prefix (``s3://b/prefix/``)."""
    from labledger.artifacts.s3 import is_not_found, parse_s3_uri, s3_errors

    bucket, key = parse_s3_uri(uri)
    with s3_errors(f"reading {uri}"):
        if key and not key.endswith("/"):
            try:
                head = client.head_object(Bucket=bucket, Key=key)
            except Exception as exc:
                if not is_not_found(exc):
                    raise
                key += "/"
            else:
                name = validate_manifest_path(PurePosixPath(key).name)
                entry = {
                    "path": name,
                    "etag": _strip_etag(head["ETag"]),
                    "size": int(head["ContentLength"]),
                    "kind": "file",
                }
                return ReferenceScan(f"s3://{bucket}/{key}", [entry])
        entries: list[Entry] = []
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(key) :]
                if not rel or rel.endswith("/"):
                    continue  # folder markers
                try:
                    validate_manifest_path(rel)
                except ArtifactError as exc:
                    raise ArtifactError(
                        f"cannot reference s3://{bucket}/{obj['Key']}: {exc}"
                    ) from None
                entries.append(
                    {"path": rel, "etag": _strip_etag(obj["ETag"]), "size": int(obj["Size"])}
                )
    if not entries:
        raise ArtifactError(f"nothing found at {uri}")
    entries.sort(key=lambda e: e["path"])
    return ReferenceScan(f"s3://{bucket}/{key}", entries)


def scan_reference(
    path_or_uri: str, cache: HashCache | None, s3_client: ClientFactory
) -> ReferenceScan:
    """Fingerprint a local path or ``s3://`` URI without copying it."""
    if is_s3_uri(path_or_uri):
        return scan_s3(s3_client(), path_or_uri)
    if "://" in path_or_uri and not path_or_uri.startswith("file://"):
        raise ArtifactError(f"cannot reference {path_or_uri!r}: use a local path or s3:// URI")
    path = (
        path_from_file_uri(path_or_uri)
        if path_or_uri.startswith("file://")
        else Path(path_or_uri).expanduser()
    ).absolute()
    scan = scan_local(path, cache)
    return ReferenceScan(local_reference_uri(path), scan.entries)


def verify_reference(uri: str, expected: Sequence[Entry], s3_client: ClientFactory) -> list[str]:
    """What changed at ``uri`` since ``expected`` was recorded (empty: nothing)."""
    try:
        if is_s3_uri(uri):
            actual = scan_s3(s3_client(), uri).entries
        else:
            path = path_from_file_uri(uri)
            if not path.exists():
                return [f"missing: {path} no longer exists"]
            actual = scan_local(path, cache=None).entries
    except ArtifactError as exc:
        if str(exc).startswith("nothing found at"):
            return [f"missing: {uri} no longer exists"]
        raise
    return diff_manifests(expected, actual)


def fetch_reference(
    uri: str, manifest: Sequence[Entry], dest: Path, s3_client: ClientFactory
) -> None:
    """Copy a reference's files into folder ``dest``, refusing any file that changed."""
    single = is_single_file(manifest)
    for entry in manifest:
        target = safe_join(dest, entry["path"])
        if is_s3_uri(uri):
            from labledger.artifacts.s3 import download_object, parse_s3_uri

            bucket, key = parse_s3_uri(uri)
            object_key = key if single else key + entry["path"]
            download_object(s3_client(), bucket, object_key, target, etag=f'"{entry["etag"]}"')
        else:
            root = path_from_file_uri(uri)
            source = root if single else safe_join(root, entry["path"])
            if not source.is_file():
                raise ArtifactError(f"{source} no longer exists (referenced by {uri})")
            try:
                copy_verified(source, target, entry["digest"])
            except ArtifactError:
                raise ArtifactError(f"{source} changed since it was logged") from None
