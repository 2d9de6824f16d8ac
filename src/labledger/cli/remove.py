"""``labledger runs rm`` and ``labledger artifacts rm``: delete records, after confirmation,
and (``--gc``) the stored blobs nothing references any more."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from labledger.cli import render
from labledger.cli.common import open_api, user_errors
from labledger.entities import RunStatus
from labledger.errors import LabledgerError
from labledger.sdk.artifacts import Artifacts
from labledger.store.base import ArtifactVersion

_YES = click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
_GC = click.option(
    "--gc",
    "collect",
    is_flag=True,
    help="Also delete the stored blobs the deleted versions leave unreferenced.",
)


def _blob_digests(versions: Sequence[ArtifactVersion]) -> set[str]:
    return {
        str(entry["digest"])
        for v in versions
        if not v.reference or v.metadata.get("stored_copy")
        for entry in v.manifest
        if entry.get("digest")
    }


def _confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise LabledgerError(f"refusing to delete {what} without confirmation: pass --yes")
    if not click.confirm(f"Delete {what}?", default=False, err=True):
        raise LabledgerError("nothing deleted")


def _free(service: Artifacts, deleted: Sequence[ArtifactVersion], collect: bool) -> None:
    """Report (and with ``collect`` delete) the blobs the deleted versions freed."""
    candidates = _blob_digests(deleted)
    if not candidates:
        return
    try:
        freed = candidates - service.registry.referenced_digests()
    except LabledgerError as exc:  # a team server answers this to a server admin only
        click.echo(f"blobs left to a server admin's `labledger gc` ({exc})")
        return
    if not freed:
        click.echo("no blob freed: other versions still reference the same files")
        return
    if not collect:
        click.echo(f"{len(freed)} blob(s) now unreferenced: `labledger gc` removes them")
        return
    report = service.gc(min_age=0, only=freed)
    click.echo(
        f"deleted {len(report.removed)} blob(s), {render.format_bytes(report.removed_bytes)}"
    )


def _describe_versions(versions: Sequence[ArtifactVersion]) -> None:
    for v in versions:
        aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        click.echo(f"  artifact {v.ref}{aliases}  {render.format_bytes(v.size)}", err=True)


@click.command("rm")
@click.argument("refs", nargs=-1, required=True)
@_YES
@_GC
@click.option(
    "--force",
    is_flag=True,
    help="Also delete a running run, and artifact versions other runs consumed.",
)
@user_errors
def runs_rm(refs: tuple[str, ...], yes: bool, collect: bool, force: bool) -> None:
    """Delete runs with everything recorded for them and the artifact versions they produced.

    Lists what will go and asks first (--yes to skip, required without a terminal).
    A running run, or a version another run consumed (its lineage would break), is refused
    unless --force. Blobs are kept for `labledger gc` unless --gc.

    \b
    Examples:
      labledger runs rm 3fa9
      labledger runs rm 3fa9 b71c --yes --gc
    """
    api = open_api()
    store = api.store
    records = list({r.run_id: r for r in (store.get_run(ref) for ref in refs)}.values())
    ids = {r.run_id for r in records}
    produced: list[ArtifactVersion] = []
    problems: list[str] = []
    for record in records:
        if record.status is RunStatus.RUNNING and not force:
            problems.append(f"run {record.run_id} is running")
        for version in store.artifacts.produced_by(record.run_id):
            produced.append(version)
            users = set(store.artifacts.consumers(version.name, version.version)) - ids
            if users and not force:
                problems.append(f"{version.ref} was used by run(s) {', '.join(sorted(users))}")
    if problems:
        raise LabledgerError("; ".join(problems) + " (--force deletes anyway)")
    for record in records:
        click.echo(
            f"  run {record.run_id}  {record.project}/{record.name}  {record.status}", err=True
        )
    _describe_versions(produced)
    versions = f" and {len(produced)} artifact version(s)" if produced else ""
    _confirm(f"{len(records)} run(s){versions}", yes)
    deleted: list[ArtifactVersion] = []
    for record in records:
        deleted.extend(store.delete_run(record.run_id))
    click.echo(f"deleted {len(records)} run(s), {len(deleted)} artifact version(s)")
    _free(Artifacts(store, api.settings), deleted, collect)


@click.command("rm")
@click.argument("refs", nargs=-1, required=True)
@_YES
@_GC
@click.option("--force", is_flag=True, help="Also delete versions runs have consumed.")
@user_errors
def artifacts_rm(refs: tuple[str, ...], yes: bool, collect: bool, force: bool) -> None:
    """Delete artifact versions (NAME:vN or NAME:ALIAS; NAME:* for every version of NAME).

    Their aliases go with them; 'latest' moves to the newest remaining version. A version
    a run consumed is refused unless --force. Blobs are kept for `labledger gc` unless --gc.

    \b
    Examples:
      labledger artifacts rm digits-mlp:v0 digits-mlp:v1
      labledger artifacts rm 'scratch:*' --yes --gc
    """
    api = open_api()
    service = Artifacts(api.store, api.settings)
    chosen: dict[str, ArtifactVersion] = {}
    for ref in refs:
        name, sep, selector = ref.partition(":")
        if not sep:
            raise LabledgerError(
                f"{ref!r} names no version: give {ref}:vN, {ref}:ALIAS or '{ref}:*'"
            )
        found = service.registry.list_versions(name) if selector == "*" else [service.get(ref)]
        if not found:
            raise LabledgerError(f"no artifact named {name!r}")
        chosen.update((v.ref, v) for v in found)
    versions = list(chosen.values())
    used = {v.ref: service.registry.consumers(v.name, v.version) for v in versions if not force}
    problems = [f"{ref} was used by run(s) {', '.join(runs)}" for ref, runs in used.items() if runs]
    if problems:
        raise LabledgerError("; ".join(problems) + " (--force deletes anyway)")
    _describe_versions(versions)
    _confirm(f"{len(versions)} artifact version(s)", yes)
    deleted = [service.registry.delete_version(v.name, v.version) for v in versions]
    click.echo(f"deleted {len(deleted)} artifact version(s)")
    _free(service, deleted, collect)
