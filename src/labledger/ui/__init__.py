"""The web UI's static front end (ES modules, CSS and vendored libraries), served by the server."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
