"""Settings resolution: environment, config file, project root."""

from __future__ import annotations

from pathlib import Path

import pytest

from labledger.config import ENV_VARS, load_settings
from labledger.errors import ConfigError


def test_default_store_is_at_the_git_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    settings = load_settings(env={}, cwd=nested)
    assert settings.root == tmp_path / ".labledger"
    assert settings.uri == f"sqlite:///{tmp_path / '.labledger' / 'labledger.db'}"
    assert settings.artifact_uri == str(tmp_path / ".labledger" / "artifacts")


def test_environment_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "labledger.toml").write_text('dir = "runs-store"\nproject = "vision"\n')
    from_file = load_settings(env={}, cwd=tmp_path)
    assert from_file.root == tmp_path / "runs-store" and from_file.project == "vision"
    from_env = load_settings(env={"LABLEDGER_URI": "postgresql://db/x"}, cwd=tmp_path)
    assert from_env.uri == "postgresql://db/x"


@pytest.mark.parametrize(
    "text",
    [
        '[tool.labledger]\nproject = "nlp"\n',
        '[ tool . "labledger" ]\nproject = "nlp"\n',
        '[tool.ruff]\nline-length = 100\n[tool.labledger]\nproject = "nlp"\n',
        'tool.labledger.project = "nlp"\n',
        '[tool]\nlabledger.project = "nlp"\n',
        'tool = { labledger = { project = "nlp" } }\n',
    ],
)
def test_pyproject_tool_section(tmp_path: Path, text: str) -> None:
    """Every TOML spelling of a tool.labledger key is read (the file is only parsed when it
    may hold one)."""
    (tmp_path / "pyproject.toml").write_text(text)
    assert load_settings(env={}, cwd=tmp_path).project == "nlp"


def test_a_pyproject_without_a_labledger_section_gives_no_file_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "labledger-demo"\n[tool.setuptools.package-data]\nlabledger = []\n'
    )
    assert load_settings(env={}, cwd=tmp_path).project is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LABLEDGER_FLUSH_INTERVAL": "soon"}, "LABLEDGER_FLUSH_INTERVAL must be a number"),
        ({"LABLEDGER_CRASH_AFTER": "-1"}, "must not be negative"),
        ({"LABLEDGER_URI": "just-a-path"}, "store URI must look like"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env, cwd=tmp_path)


def test_broken_config_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "labledger.toml").write_text("dir = \n")
    with pytest.raises(ConfigError, match=r"labledger\.toml"):
        load_settings(env={}, cwd=tmp_path)


def test_every_setting_is_documented() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in ENV_VARS:
        assert name in readme, f"{name} missing from README"


def test_every_command_is_documented() -> None:
    from labledger.cli.main import cli

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    import click

    for name in cli.list_commands(click.Context(cli)):
        assert f"labledger {name}" in readme, f"`labledger {name}` missing from README"
