"""Command probe: how the program was started, from which folder, and its environment variables.

``env`` holds the whole environment except machine noise (``PATH``, ``HOME``, terminal, desktop,
SSH and shell bookkeeping, installer settings) with secrets redacted, so a reproduction can
replay exactly the variables that could steer the run (``SEED=3 python train.py``) and unset
the ones the original did not have. ``env_complete`` marks such a record (older records held
only a few prefixes).

``start_cwd`` is the folder the program was started from: Hydra's ``runtime.cwd`` when Hydra
runs the program, else the working directory when ``labledger`` was first imported; ``cwd`` is
the one at ``init`` (Hydra's ``hydra.job.chdir=True`` moves it into its output folder).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labledger.capture.redact import REDACTED, is_secret_name, redact_argv, redact_text

__all__ = ["MACHINE_PREFIXES", "MACHINE_VARIABLES", "capture_command", "is_machine_variable"]

# Variables that describe the machine, the user or the shell rather than the run: not recorded,
# and in a reproduction taken from the reproducing machine.
MACHINE_VARIABLES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "SHLVL", "_", "TERM",
        "COLORTERM", "COLORFGBG", "DISPLAY", "HOSTNAME", "HOSTTYPE", "MACHTYPE", "OSTYPE", "MAIL",
        "EDITOR", "VISUAL", "PAGER", "LESS", "LESSOPEN", "LESSCLOSE", "LS_COLORS", "LSCOLORS",
        "MANPATH", "INFOPATH", "PS1", "PS2", "PS4", "PROMPT_COMMAND", "HISTFILE", "HISTSIZE",
        "HISTFILESIZE", "HISTCONTROL", "COLUMNS", "LINES", "WINDOWID", "MOTD_SHOWN",
        "VIRTUAL_ENV", "VIRTUAL_ENV_PROMPT", "LD_LIBRARY_PATH", "LD_PRELOAD", "TMPDIR", "TMP",
        "TEMP", "INVOCATION_ID", "JOURNAL_STREAM", "NOTIFY_SOCKET", "SYSTEMD_EXEC_PID",
        "MANAGERPID", "SESSION_MANAGER", "LOGINSHELL", "STY", "WINDOW", "TMUX", "TMUX_PANE",
        "SUDO_USER", "SUDO_UID", "SUDO_GID", "SUDO_COMMAND", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CI",
    }
)  # fmt: skip
MACHINE_PREFIXES = (
    "SSH_", "XDG_", "TERM_", "DBUS_", "GPG_", "WAYLAND_", "KONSOLE_", "GNOME_", "GTK_", "QT_",
    "VSCODE_", "ITERM", "KITTY_", "ALACRITTY_", "WT_", "CONDA_", "_CE_", "MAMBA_", "PYENV_",
    "DESKTOP_", "GIO_", "GIT_", "PIP_", "UV_", "npm_", "BASH_FUNC_", "COMP_", "__", "PYCHARM_",
    "IDEA_", "JPY_", "PYTEST_", "COV_CORE_", "COVERAGE_", "GITHUB_", "RUNNER_",
)  # fmt: skip


def is_machine_variable(name: str) -> bool:
    return name in MACHINE_VARIABLES or name.startswith(MACHINE_PREFIXES)


def record_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Every variable but machine noise; secret-named ones redacted, and URL credentials and
    token query parameters removed from the others."""
    return {
        name: REDACTED if is_secret_name(name) else redact_text(env[name])
        for name in sorted(env)
        if not is_machine_variable(name)
    }


def _entry_script(argv0: str) -> str | None:
    if not argv0 or argv0 in ("-c", "-m", "-"):
        return None
    path = Path(argv0)
    try:
        return str(path.resolve()) if path.is_file() else None
    except OSError:
        return None


_started: dict[int, float] = {}  # pid -> when that process started


def _start_time() -> float | None:
    pid = os.getpid()
    if pid in _started:
        return _started[pid]
    try:
        import psutil

        started = _started[pid] = float(psutil.Process(pid).create_time())
    except Exception:
        return None
    return started


def _hydra_cwd() -> str | None:
    if "hydra" not in sys.modules:
        return None
    try:
        from hydra.core.hydra_config import HydraConfig

        return str(HydraConfig.get().runtime.cwd)
    except Exception:  # Hydra imported but not running this program
        return None


def start_cwd() -> str | None:
    """The folder the program was started from (see the module docstring)."""
    hydra = _hydra_cwd()
    if hydra:
        return hydra
    at_import = getattr(sys.modules.get("labledger"), "_START_CWD", None)
    return str(at_import) if at_import else None


def capture_command() -> dict[str, Any]:
    argv = list(sys.argv)
    cwd = os.getcwd()
    return {
        "argv": redact_argv(argv),
        "orig_argv": redact_argv(list(getattr(sys, "orig_argv", argv))),
        "cwd": cwd,
        "start_cwd": start_cwd() or cwd,
        "entry_script": _entry_script(argv[0] if argv else ""),
        "python": sys.executable,
        "pid": os.getpid(),
        "start_time": _start_time(),
        "env": record_environment(os.environ),
        "env_complete": True,
    }
