"""Integration tests: each trains a tiny real model and reads back what the store holds."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # transformers: tiny models from config only
os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(autouse=True)
def _no_console_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABLEDGER_CAPTURE_CONSOLE", "0")
