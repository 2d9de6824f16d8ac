"""Names, aliases, references and manifest paths: what is refused and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labledger.artifacts.manifest import validate_manifest
from labledger.artifacts.names import (
    NAME_PATTERN,
    ArtifactRef,
    default_name,
    parse_ref,
    safe_join,
    sanitize_name,
    validate_alias,
    validate_manifest_path,
    validate_name,
)
from labledger.errors import ArtifactError


@pytest.mark.parametrize("name", ["digits-mlp", "a", "Model_1.pt", "0abc", "x" * 128])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "../evil", "a/b", "-lead", ".hidden", "a b", "x" * 129, "a\x00b", "a\\b", "café"],
)
def test_invalid_names_are_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        validate_name(name)


@pytest.mark.parametrize("alias", ["v1", "v22", "12", "", "-x", "prod/1"])
def test_invalid_aliases(alias: str) -> None:
    with pytest.raises(ArtifactError, match="invalid alias"):
        validate_alias(alias)


def test_parse_ref() -> None:
    assert parse_ref("m") == ArtifactRef("m")
    assert parse_ref("m:v3") == ArtifactRef("m", "v3")
    assert parse_ref("m:3") == ArtifactRef("m", "v3")
    assert parse_ref("m:v007") == ArtifactRef("m", "v7")
    assert parse_ref("m:production") == ArtifactRef("m", "production")
    assert str(parse_ref("m:best")) == "m:best"
    for bad in ("", "m:", "../x:v1", "m:../x", ":v1"):
        with pytest.raises(ArtifactError):
            parse_ref(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("model.pt", "model.pt"),
        ("/data/train set/", "train-set"),
        ("s3://bucket/data/subset-a/", "subset-a"),
        ("s3://bucket", "bucket"),
        ("...", "artifact"),
        ("../../etc/passwd", "passwd"),
    ],
)
def test_default_name(raw: str, expected: str) -> None:
    assert default_name(raw) == expected


@given(st.text(max_size=300))
def test_sanitized_names_are_always_valid(raw: str) -> None:
    assert NAME_PATTERN.match(sanitize_name(raw))


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a\\..\\x",
        "a\x00b",
        "./a",
        "a//b",
        "a/",
        "",
        "..",
    ],
)
def test_unsafe_manifest_paths_are_refused(path: str) -> None:
    with pytest.raises(ArtifactError, match="invalid path in artifact"):
        validate_manifest_path(path)


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "c d", "é", "\\", "x\x00"]), max_size=6))
def test_accepted_paths_never_leave_the_folder(parts: list[str]) -> None:
    root = Path("/srv/dest")
    path = "/".join(parts)
    try:
        validate_manifest_path(path)
    except ArtifactError:
        return
    joined = root.joinpath(*path.split("/"))
    assert joined.is_relative_to(root) and ".." not in joined.parts


def test_safe_join_refuses_a_symlink_out_of_the_destination(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "link").symlink_to(tmp_path)
    with pytest.raises(ArtifactError, match="leaves the destination"):
        safe_join(dest, "link/escape.txt")


def test_manifest_with_duplicate_or_clashing_paths_is_refused() -> None:
    entry = {"digest": "0" * 64, "size": 1}
    with pytest.raises(ArtifactError, match="twice"):
        validate_manifest([{"path": "a", **entry}, {"path": "a", **entry}])
    with pytest.raises(ArtifactError, match="both a file and a folder"):
        validate_manifest([{"path": "a", **entry}, {"path": "a/b", **entry}])
