"""``labledger artifacts ls|show|get|alias|lineage|verify`` and ``labledger gc``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from labledger.cli import render
from labledger.cli.common import open_api, user_errors
from labledger.cli.lazy import LazyGroup
from labledger.sdk.artifacts import Artifacts
from labledger.store.base import ArtifactVersion

MANIFEST_PREVIEW = 50


def open_artifacts() -> Artifacts:
    """Artifacts of the configured store (a missing SQLite store is an error, not created)."""
    api = open_api()
    return Artifacts(api.store, api.settings)


def resolve_run(service: Artifacts, ref: str) -> str:
    return service.store.get_run(ref).run_id


def storage(version: ArtifactVersion) -> str:
    """``stored`` (copied into the blob store), or the URI a reference points to."""
    return (version.uri or "reference") if version.reference else "stored"


def versions_table(versions: Sequence[ArtifactVersion], title: str | None = None) -> Table:
    table = render.data_table(title)
    for column in ("artifact", "type", "size", "files", "aliases", "run", "created", "storage"):
        table.add_column(column, justify="right" if column in ("size", "files") else "left")
    for v in versions:
        table.add_row(
            Text(v.ref),
            Text(v.type),
            render.format_bytes(v.size),
            str(len(v.manifest)),
            Text(", ".join(v.aliases)),
            Text(v.run_id or render.MISSING_TEXT),
            render.format_timestamp(v.created_at),
            Text(storage(v)),
        )
    return table


@click.group("artifacts", cls=LazyGroup, lazy={"rm": "labledger.cli.remove:artifacts_rm"})
def artifacts_group() -> None:
    """Versioned files and folders: list, inspect, download, alias, trace and verify.

    Runs log artifacts with run.log_artifact(path, name=..., type=...); every
    file is stored once by SHA-256, and a new version (NAME:v0, v1, ...) is made
    only when the content changes. A reference (reference=True, or
    run.use_dataset) records a path or s3:// URI with checksums instead of copying.

    \b
    Examples:
      labledger artifacts ls
      labledger artifacts show digits-mlp:v2
      labledger artifacts get digits-mlp:production ./model
      labledger artifacts alias digits-mlp:v2 production
      labledger artifacts lineage digits-mlp:v2
      labledger artifacts verify mnist-train
    """


@artifacts_group.command("ls")
@click.argument("name", required=False)
@click.option("--type", "type_", help="Only artifacts of this type (model, dataset, ...).")
@user_errors
def ls_command(name: str | None, type_: str | None) -> None:
    """List artifact versions, oldest first (all names, or only NAME).

    \b
    Examples:
      labledger artifacts ls
      labledger artifacts ls digits-mlp
      labledger artifacts ls --type dataset
    """
    versions = open_artifacts().versions(name)
    if type_ is not None:
        versions = [v for v in versions if v.type == type_]
    if not versions:
        click.echo("No artifacts." if name is None else f"No versions of {name}.")
        return
    render.make_console().print(versions_table(versions))


@artifacts_group.command("show")
@click.argument("ref")
@click.option(
    "--all-files", is_flag=True, help=f"List every file (default: first {MANIFEST_PREVIEW})."
)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@user_errors
def show_command(ref: str, all_files: bool, as_json: bool) -> None:
    """Show one version: digest, size, producer, aliases, metadata and files.

    REF is NAME, NAME:vN or NAME:ALIAS (NAME alone means NAME:latest).

    \b
    Examples:
      labledger artifacts show digits-mlp
      labledger artifacts show digits-mlp:v3 --all-files
      labledger artifacts show digits-mlp:production --json
    """
    service = open_artifacts()
    version = service.get(ref)
    consumers = service.lineage(version.ref).consumers
    if as_json:
        document = {**dataclasses.asdict(version), "ref": version.ref, "consumers": consumers}
        click.echo(render.json_dumps(document, indent=2))
        return
    console = render.make_console()
    rows: list[tuple[str, object]] = [
        ("artifact", Text(version.ref)),
        ("type", Text(version.type)),
        ("digest", f"sha256:{version.digest}"),
        ("size", f"{render.format_bytes(version.size)} ({version.size} bytes)"),
        ("files", len(version.manifest)),
        ("aliases", Text(", ".join(version.aliases) or render.MISSING_TEXT)),
        ("storage", Text(storage(version))),
        ("produced by", Text(version.run_id or render.MISSING_TEXT)),
        ("used by", Text(", ".join(consumers) or render.MISSING_TEXT)),
        ("created", render.format_timestamp(version.created_at)),
    ]
    console.print(render.key_value_table(rows))
    if version.metadata:
        console.print(render.key_value_table(sorted(version.metadata.items()), title="metadata"))
    files = render.data_table("files")
    files.add_column("path", overflow="fold")
    files.add_column("size", justify="right", no_wrap=True)
    files.add_column("checksum", no_wrap=True)
    shown = version.manifest if all_files else version.manifest[:MANIFEST_PREVIEW]
    for entry in shown:
        checksum = entry.get("digest") or f"etag:{entry.get('etag')}"
        files.add_row(
            Text(entry["path"]), render.format_bytes(int(entry["size"])), str(checksum)[:16]
        )
    console.print(files)
    hidden = len(version.manifest) - len(shown)
    if hidden:
        console.print(Text(f"... and {hidden} more files (--all-files lists them)"))


@artifacts_group.command("get")
@click.argument("ref")
@click.argument("dest", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--run", "run_ref", help="Record this run (ID or prefix) as a consumer.")
@user_errors
def get_command(ref: str, dest: Path | None, run_ref: str | None) -> None:
    """Download a version and print where it is.

    Without DEST the files go to the local cache (inside the store folder) and
    are reused next time; with DEST they are written into that folder. The
    printed path is the file for an artifact logged from one file, else the
    folder. References are fetched from their URI and refused if changed.

    \b
    Examples:
      labledger artifacts get digits-mlp
      labledger artifacts get digits-mlp:production ./deploy
      labledger artifacts get mnist-train:v1 ./data --run 3fa9c2
    """
    service = open_artifacts()
    run_id = resolve_run(service, run_ref) if run_ref else None
    click.echo(str(service.use(ref, run_id=run_id, dest=dest)))


@artifacts_group.command("alias")
@click.argument("ref")
@click.argument("alias")
@user_errors
def alias_command(ref: str, alias: str) -> None:
    """Point ALIAS (best, production, ...) at the version REF names.

    An alias names one version of an artifact at a time; setting it again moves
    it. 'latest' moves by itself to the last logged version.

    \b
    Examples:
      labledger artifacts alias digits-mlp:v3 production
      labledger artifacts alias digits-mlp:best production
    """
    service = open_artifacts()
    version = service.get(ref)
    service.alias(version.ref, alias)
    click.echo(f"{version.name}:{alias} -> {version.ref}")


MAX_DEPTH = 8


def upstream(service: Artifacts, version: ArtifactVersion, depth: int = 0) -> dict[str, object]:
    """``version``, the run that logged it, that run's inputs, their runs... (a tree)."""
    node: dict[str, object] = {"artifact": version.ref, "type": version.type,
                               "digest": version.digest}  # fmt: skip
    if version.run_id is None or depth >= MAX_DEPTH:
        return node
    inputs = service.run_lineage(version.run_id).inputs
    node["run"] = {
        "run_id": version.run_id,
        "inputs": [upstream(service, v, depth + 1) for v in inputs],
    }
    return node


def downstream(service: Artifacts, version: ArtifactVersion, depth: int = 0) -> list[object]:
    """The runs that used ``version``, what they logged, who used that..."""
    consumers = service.lineage(version.ref).consumers
    result: list[object] = []
    for run_id in consumers:
        outputs = service.run_lineage(run_id).outputs if depth < MAX_DEPTH else []
        result.append(
            {
                "run_id": run_id,
                "outputs": [
                    {
                        "artifact": v.ref,
                        "type": v.type,
                        "used_by": downstream(service, v, depth + 1),
                    }
                    for v in outputs
                ],
            }
        )
    return result


def _tree_upstream(tree: Tree, node: dict[str, object]) -> None:
    run = node.get("run")
    if not isinstance(run, dict):
        return
    branch = tree.add(f"← run [bold]{run['run_id']}[/bold]")
    for item in run["inputs"]:
        leaf = branch.add(f"← {item['artifact']} ({item['type']})")
        _tree_upstream(leaf, item)


def _tree_downstream(tree: Tree, consumers: list[object]) -> None:
    for consumer in consumers:
        assert isinstance(consumer, dict)
        branch = tree.add(f"→ run [bold]{consumer['run_id']}[/bold]")
        for output in consumer["outputs"]:
            leaf = branch.add(f"→ {output['artifact']} ({output['type']})")
            _tree_downstream(leaf, output["used_by"])


@artifacts_group.command("lineage")
@click.argument("ref", required=False)
@click.option("--run", "run_ref", help="Show what this run (ID or prefix) used and logged.")
@click.option("--json", "as_json", is_flag=True, help="The lineage tree as JSON.")
@user_errors
def lineage_command(ref: str | None, run_ref: str | None, as_json: bool) -> None:
    """Trace an artifact version both ways, as a tree: up to the run that logged it, the data
    that run consumed and the runs behind that data; down to the runs that used it and what
    they logged. Or (--run) a run to its input and output artifacts.

    \b
    Examples:
      labledger artifacts lineage digits-mlp:best      # model ← run ← digits:v0 ← ...
      labledger artifacts lineage digits-mlp:v3 --json
      labledger artifacts lineage --run 3fa9c2
    """
    if (ref is None) == (run_ref is None):
        raise click.UsageError("give either NAME:VERSION or --run RUN")
    service = open_artifacts()
    if ref is not None:
        version = service.get(ref)
        up = upstream(service, version)
        down = downstream(service, version)
        if as_json:
            click.echo(render.json_dumps({**up, "used_by": down}, indent=2))
            return
        tree = Tree(f"[bold]{version.ref}[/bold] ({version.type}, {version.digest[:19]})")
        if version.run_id is None:
            tree.add("← logged outside a run")
        _tree_upstream(tree, up)
        _tree_downstream(tree, down)
        render.make_console().print(tree)
        return
    console = render.make_console()
    if run_ref is not None:
        run_id = resolve_run(service, run_ref)
        lineage = service.run_lineage(run_id)
        console.print(render.key_value_table([("run", Text(run_id))]))
        for title, versions in (("inputs", lineage.inputs), ("outputs", lineage.outputs)):
            if versions:
                console.print(versions_table(versions, title=title))
            else:
                console.print(Text(f"{title}: none"))
        return
    assert ref is not None
    found = service.lineage(ref)
    rows: list[tuple[str, object]] = [
        ("artifact", Text(f"{found.version.ref} ({found.version.type})")),
        ("produced by", Text(found.producer or "- (logged outside a run)")),
        ("used by", Text("\n".join(found.consumers) or "none")),
    ]
    console.print(render.key_value_table(rows))


@artifacts_group.command("verify")
@click.argument("ref")
@user_errors
def verify_command(ref: str) -> None:
    """Check a version's content: a reference is re-read at its URI and compared
    with the checksums recorded when it was logged; a stored artifact has every
    blob re-hashed. Exit code 1 when anything differs.

    \b
    Examples:
      labledger artifacts verify mnist-train
      labledger artifacts verify digits-mlp:v3
    """
    service = open_artifacts()
    version = service.get(ref)
    problems = service.verify(version.ref)
    if not problems:
        click.echo(f"{version.ref}: OK ({len(version.manifest)} files unchanged)")
        return
    click.echo(f"{version.ref}: {len(problems)} difference(s)")
    for problem in problems:
        click.echo(f"  {problem}")
    # SystemExit, not click's Exit: main() runs Click with standalone_mode=False, which turns
    # an Exit into a return value it does not pass on.
    raise SystemExit(1)


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Keep unreferenced blobs younger than this many seconds (a log may be in progress).",
)
@user_errors
def gc_command(dry_run: bool, min_age: float) -> None:
    """Delete stored artifact blobs that no artifact version references.

    Blobs referenced by any version are never deleted; neither are blobs
    written in the last --min-age seconds, which a concurrent log may be about
    to reference. References (external data) are never touched.

    \b
    Examples:
      labledger gc --dry-run
      labledger gc
      labledger gc --min-age 0
    """
    report = open_artifacts().gc(dry_run=dry_run, min_age=min_age)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {len(report.removed)} blob(s), {render.format_bytes(report.removed_bytes)}; "
        f"kept {report.kept} referenced blob(s), {render.format_bytes(report.kept_bytes)}"
    )
    if report.too_recent:
        click.echo(f"skipped {report.too_recent} unreferenced blob(s) younger than {min_age:g} s")
    for digest in report.removed:
        click.echo(f"  {digest}")
