"""Artifacts for runs: log files and folders as named, versioned, content-addressed artifacts,
use them (recording lineage), reference external data, verify, and collect garbage.

This is the glue between the bytes (``labledger.artifacts``: blob stores, manifests, hashing)
and the rows (``Store.artifacts``: versions, aliases, usage). ``Run.log_artifact``,
``Run.use_artifact``, ``Run.use_dataset`` and ``labledger.use_artifact`` call into one
``Artifacts`` object per store.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labledger.artifacts.blobstore import BlobStore, open_blob_store
from labledger.artifacts.gc import DEFAULT_MIN_AGE, GcReport, collect_garbage
from labledger.artifacts.hashing import HashCache, file_changed, open_hash_cache, sha256_chunks
from labledger.artifacts.manifest import (
    LocalScan,
    content_digest,
    is_single_file,
    reference_digest,
    scan_local,
    validate_manifest,
)
from labledger.artifacts.names import (
    LATEST,
    default_name,
    parse_ref,
    safe_join,
    validate_alias,
    validate_name,
)
from labledger.artifacts.references import (
    fetch_reference,
    scan_reference,
    verify_reference,
)
from labledger.config import Settings
from labledger.encoding import to_jsonable
from labledger.errors import ArtifactError
from labledger.sdk import datasets
from labledger.store.base import ArtifactRegistry, ArtifactVersion, Store

_log = logging.getLogger("labledger")
LOGGED_SECTION = "logged_artifacts"

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Artifacts", "GcReport", "Lineage", "RunLineage"]

CACHE_DIRNAME = "cache"


@dataclass
class Lineage:
    """Who made one artifact version and who used it."""

    version: ArtifactVersion
    producer: str | None
    consumers: list[str]


@dataclass
class RunLineage:
    """The artifact versions one run used (inputs) and logged (outputs)."""

    run_id: str
    inputs: list[ArtifactVersion]
    outputs: list[ArtifactVersion]


class Artifacts:
    """Artifact operations for one store; the blob store and S3 client are opened lazily."""

    def __init__(self, store: Store, settings: Settings, blobs: BlobStore | None = None) -> None:
        """``blobs`` overrides the blob store ``settings.artifact_uri`` names."""
        self._store = store
        self._settings = settings
        self._lock = threading.Lock()
        self._blobs: BlobStore | None = blobs
        self._s3_client: S3Client | None = None
        self._hash_cache: HashCache | None = None

    # --- lazily opened parts ----------------------------------------------------------
    @property
    def store(self) -> Store:
        return self._store

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def registry(self) -> ArtifactRegistry:
        return self._store.artifacts

    @property
    def blobs(self) -> BlobStore:
        with self._lock:
            if self._blobs is None:
                self._blobs = open_blob_store(
                    self._settings.artifact_uri,
                    s3_endpoint_url=self._settings.s3_endpoint_url,
                    token=self._settings.token,
                )
            return self._blobs

    @property
    def cache_dir(self) -> Path:
        return self._settings.root / CACHE_DIRNAME

    def _s3(self) -> S3Client:
        from labledger.artifacts.s3 import make_client

        with self._lock:
            if self._s3_client is None:
                self._s3_client = make_client(self._settings.s3_endpoint_url)
            return self._s3_client

    def _cache(self) -> HashCache:
        with self._lock:
            if self._hash_cache is None:
                self._hash_cache = open_hash_cache(self._settings.root)
            return self._hash_cache

    def close(self) -> None:
        with self._lock:
            if self._hash_cache is not None:
                self._hash_cache.close()
                self._hash_cache = None

    # --- reading ----------------------------------------------------------------------
    def get(self, ref: str) -> ArtifactVersion:
        """The version ``NAME``, ``NAME:vN`` or ``NAME:ALIAS`` names (``latest`` by default)."""
        parsed = parse_ref(ref)
        return self.registry.get_version(parsed.name, parsed.selector)

    def versions(self, name: str | None = None) -> list[ArtifactVersion]:
        if name is not None:
            validate_name(name)
        return self.registry.list_versions(name)

    # --- logging ----------------------------------------------------------------------
    def log(
        self,
        run_id: str | None,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        type: str = "artifact",
        metadata: Mapping[str, Any] | None = None,
        reference: bool = False,
        aliases: Sequence[str] = (),
        follow_symlinks: bool = False,
    ) -> ArtifactVersion:
        """Log a file or folder (or, with ``reference=True``, a path or ``s3://`` URI left in
        place) as the next version of ``name``; the same content gives back the same version.
        A folder's symlinks pointing outside it are refused unless ``follow_symlinks``."""
        source = os.fspath(path)
        name = validate_name(name) if name is not None else default_name(source)
        aliases = [validate_alias(a) for a in aliases if a != LATEST]
        previous = self._latest_version(name) if self._in_reproduction() else None
        if not type or len(type) > 64:
            raise ArtifactError(f"artifact type must be 1-64 characters, got {type!r}")
        self._check_type(name, type)

        if reference:
            scan = scan_reference(source, self._cache(), self._s3)
            manifest, uri = scan.entries, scan.uri
            digest = reference_digest(uri, manifest)
        else:
            if "://" in source:
                raise ArtifactError(
                    f"cannot copy {source!r} into the artifact store: log it with reference=True"
                )
            local = scan_local(
                Path(source).expanduser().absolute(),
                self._cache(),
                follow_symlinks=follow_symlinks,
            )
            self._upload(local)
            manifest, uri, digest = local.entries, None, content_digest(local.entries)

        version = self.registry.add_version(
            ArtifactVersion(
                name=name,
                version=0,
                type=type,
                digest=digest,
                size=sum(int(e["size"]) for e in manifest),
                manifest=manifest,
                metadata=to_jsonable(dict(metadata or {})),
                reference=reference,
                uri=uri,
                run_id=run_id,
                created_at=time.time(),
            )
        )
        wanted = to_jsonable(dict(metadata or {}))
        if metadata and version.metadata != wanted:  # the same content: an existing version
            _log.warning(
                "labledger: artifact %s: same content as v%d, whose metadata is kept; the "
                "new metadata is not recorded",
                name,
                version.version,
            )
        if run_id is not None and not reference:
            self._note_logged(run_id, version)
        if self._in_reproduction():
            # A reproduction never moves the original's aliases: latest goes back where it was.
            if previous is not None and previous != version.version:
                self.registry.set_alias(name, LATEST, previous)
            if aliases:
                _log.info("labledger: a reproduction leaves aliases %s of %s alone", aliases, name)
            return self.registry.get_version(name, f"v{version.version}")
        for alias in aliases:
            self.registry.set_alias(name, alias, version.version)
        if aliases:
            version = self.registry.get_version(name, f"v{version.version}")
        return version

    def _note_logged(self, run_id: str, version: ArtifactVersion) -> None:
        """What the run logged, by name: also a version an earlier run made with the same bytes
        (which stays that run's), so ``verify`` can compare the digests of two runs' outputs."""
        section = dict(self._store.get_captures(run_id).get(LOGGED_SECTION, {}))
        section[version.name] = {"digest": version.digest, "version": version.version}
        self._store.put_captures(run_id, {LOGGED_SECTION: section})

    def _in_reproduction(self) -> bool:
        return self._settings.reproduces is not None

    def _latest_version(self, name: str) -> int | None:
        try:
            return self.registry.get_version(name).version
        except ArtifactError:
            return None

    def _check_type(self, name: str, type: str) -> None:
        try:
            latest = self.registry.get_version(name)
        except ArtifactError:
            return  # a new name
        if latest.type != type:
            raise ArtifactError(
                f"artifact {name!r} holds type {latest.type!r}, not {type!r}; choose another name"
            )

    def _upload(self, scan: LocalScan) -> None:
        blobs = self.blobs
        done: set[str] = set()
        for entry in scan.entries:
            digest = entry["digest"]
            if digest in done:
                continue
            source, stat = scan.sources[entry["path"]]
            blobs.put_file(digest, source)
            if file_changed(source, stat):
                raise ArtifactError(f"{source} changed while it was being logged; log it again")
            done.add(digest)

    # --- using ------------------------------------------------------------------------
    def use(
        self,
        ref: str,
        run_id: str | None = None,
        dest: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Download a version into the cache (or ``dest``) and record ``run_id`` as a consumer.

        Returns the file for an artifact logged from one file, else the folder."""
        version = self.get(ref)
        validate_manifest(version.manifest)
        if dest is None:
            folder = self.cache_dir / version.name / f"v{version.version}-{version.digest[:12]}"
            if not _is_complete(folder, version):
                self._fill_cache(version, folder)
        else:
            folder = Path(dest).expanduser()
            self._materialize(version, folder)
        if run_id is not None:
            self.registry.record_use(run_id, version.name, version.version)
        if is_single_file(version.manifest):
            return folder / str(version.manifest[0]["path"])
        return folder

    def _materialize(self, version: ArtifactVersion, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot create {folder}: {exc.strerror or exc}") from exc
        if version.reference and not version.metadata.get("stored_copy"):
            assert version.uri is not None
            fetch_reference(version.uri, version.manifest, folder, self._s3)
            return
        blobs = self.blobs  # stored, or a reference's stored copy: the bytes the run used
        for entry in version.manifest:
            blobs.get_to(entry["digest"], safe_join(folder, entry["path"]))

    def _fill_cache(self, version: ArtifactVersion, folder: Path) -> None:
        """Download into a temporary sibling, then rename: readers never see half a folder."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            self._materialize(version, partial)
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)  # an incomplete earlier download
            try:
                partial.rename(folder)
            except OSError:
                if not _is_complete(folder, version):  # another process did not finish it
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def use_dataset(
        self,
        run_id: str | None,
        data: Any,
        name: str | None = None,
        *,
        copy: bool | None = None,
    ) -> ArtifactVersion:
        """Fingerprint input data and record it as used: a path or URI by reference; data in
        a temporary folder also with a stored copy, and in-memory data (bytes, a numpy array)
        stored, when small (``labledger.sdk.datasets``). ``copy`` forces or refuses the copy."""
        if datasets.is_in_memory(data):
            version = self._use_memory(data, name, copy)
        else:
            version = self._use_path(os.fspath(data), name, copy)
        if run_id is not None:
            self.registry.record_use(run_id, version.name, version.version)
        return version

    def _use_path(self, source: str, name: str | None, copy: bool | None) -> ArtifactVersion:
        path = Path(source).expanduser()
        local = "://" not in source and path.exists()
        temporary = local and datasets.is_temporary(path)
        if copy is None and temporary:
            copy = datasets.local_size(path, datasets.copy_limit()) is not None
            if not copy:
                _log.warning(
                    "labledger: %s is in a temporary folder and over the %s limit: recorded "
                    "by reference only, so it cannot be re-verified once it is deleted "
                    "(use_dataset(..., copy=True) stores it anyway)",
                    source,
                    datasets.COPY_LIMIT_ENV,
                )
        metadata: dict[str, Any] = {}
        if copy and local:
            self._upload(scan_local(path.absolute(), self._cache()))
            metadata["stored_copy"] = True
        return self.log(None, source, name=name, type="dataset", reference=True, metadata=metadata)

    def _use_memory(self, data: Any, name: str | None, copy: bool | None) -> ArtifactVersion:
        if name is None:
            raise ArtifactError("use_dataset of in-memory data needs name=")
        content, suffix = datasets.memory_bytes(data)
        store = copy if copy is not None else len(content) <= datasets.copy_limit()
        with tempfile.TemporaryDirectory(prefix="labledger-data-") as tmp:
            path = Path(tmp) / f"{validate_name(name)}{suffix}"
            path.write_bytes(content)
            metadata = {"source": datasets.MEMORY, "bytes": len(content)}
            if store:
                return self.log(None, path, name=name, type="dataset", metadata=metadata)
            _log.warning(
                "labledger: in-memory dataset %s is over the %s limit: only its digest is "
                "recorded (check cannot re-verify it)",
                name,
                datasets.COPY_LIMIT_ENV,
            )
            return self.log(
                None, path, name=name, type="dataset", reference=True, metadata=metadata
            )

    # --- aliases and lineage ----------------------------------------------------------
    def alias(self, ref: str, alias: str) -> None:
        """Point ``alias`` (``best``, ``production``...) at the version ``ref`` names."""
        if alias == LATEST:
            raise ArtifactError("'latest' moves by itself to the last logged version")
        validate_alias(alias)
        version = self.get(ref)
        if self._in_reproduction():
            _log.info("labledger: a reproduction leaves alias %s of %s alone", alias, version.name)
            return
        self.registry.set_alias(version.name, alias, version.version)

    def lineage(self, ref: str) -> Lineage:
        version = self.get(ref)
        consumers = self.registry.consumers(version.name, version.version)
        return Lineage(version=version, producer=version.run_id, consumers=consumers)

    def run_lineage(self, run_id: str) -> RunLineage:
        return RunLineage(
            run_id=run_id,
            inputs=self.registry.used_by(run_id),
            outputs=self.registry.produced_by(run_id),
        )

    # --- maintenance ------------------------------------------------------------------
    def verify(self, ref: str) -> list[str]:
        """Differences found (empty: unchanged). References are re-read at their URI; stored
        artifacts have every blob re-hashed."""
        version = self.get(ref)
        validate_manifest(version.manifest)
        if version.reference:
            assert version.uri is not None
            if version.metadata.get("source") == datasets.MEMORY:
                return [f"missing: {version.ref} was in-memory data, not stored (digest only)"]
            problems = verify_reference(version.uri, version.manifest, self._s3)
            gone = problems and all(p.startswith("missing") for p in problems)
            if gone and version.metadata.get("stored_copy"):
                return self._verify_blobs(version)  # the path is gone: check the stored copy
            return problems
        return self._verify_blobs(version)

    def _verify_blobs(self, version: ArtifactVersion) -> list[str]:
        problems: list[str] = []
        checked: dict[str, str | None] = {}
        blobs = self.blobs
        for entry in version.manifest:
            digest = entry["digest"]
            if digest not in checked:
                checked[digest] = _check_blob(blobs, digest, int(entry["size"]))
            if checked[digest] is not None:
                problems.append(f"{checked[digest]}: {entry['path']} ({digest[:12]})")
        return problems

    def gc(
        self,
        dry_run: bool = False,
        min_age: float = DEFAULT_MIN_AGE,
        only: Set[str] | None = None,
    ) -> GcReport:
        """Delete blobs no stored version references (older than ``min_age`` seconds); with
        ``only``, just those among these digests."""
        return collect_garbage(
            self.blobs,
            self.registry.referenced_digests,
            dry_run=dry_run,
            min_age=min_age,
            only=only,
        )


def _check_blob(blobs: BlobStore, digest: str, size: int) -> str | None:
    info = blobs.info(digest)
    if info is None:
        return "missing blob"
    if info.size != size:
        return "corrupt blob"
    actual, _ = sha256_chunks(blobs.iter_bytes(digest))
    return None if actual == digest else "corrupt blob"


def _is_complete(folder: Path, version: ArtifactVersion) -> bool:
    """Every file of ``version`` is in ``folder`` with the right size (a cheap cache check)."""
    if not folder.is_dir():
        return False
    for entry in version.manifest:
        try:
            if safe_join(folder, entry["path"]).stat().st_size != int(entry["size"]):
                return False
        except OSError:
            return False
    return True
