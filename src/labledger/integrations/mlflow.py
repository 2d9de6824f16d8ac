"""MLflow client runs logged into a labledger server, with labledger's automatic capture.

With ``MLFLOW_TRACKING_URI`` pointing at a labledger server (its MLflow-compatible endpoint),
MLflow's client creates and fills the run; this module adds what labledger records for its own
runs — git state and diff, packages, host and GPUs, command line, determinism settings — to
that same run (one run, not two), through the server's store API with the same token
(``MLFLOW_TRACKING_TOKEN``)::

    import labledger.integrations.mlflow as llm
    llm.enable()                 # every mlflow.start_run() from now on is captured
    with mlflow.start_run():     # or: llm.capture() inside a run started otherwise
        ...
"""

from __future__ import annotations

import os
import threading
from typing import Any

from labledger.integrations._common import require

require("mlflow", "mlflow")

_enabled: dict[str, Any] = {}


def capture(
    run_id: str | None = None, *, tracking_uri: str | None = None, token: str | None = None
) -> dict[str, dict[str, Any]]:
    """Record labledger's capture sections on the MLflow run ``run_id`` (default: the active
    run) and return them."""
    import mlflow

    from labledger.capture.registry import capture_all
    from labledger.store.http import HttpStore

    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise RuntimeError("no active MLflow run: pass run_id or call inside start_run()")
        run_id = active.info.run_id
    uri = (tracking_uri or mlflow.get_tracking_uri()).rstrip("/")
    if not uri.startswith(("http://", "https://")):
        raise RuntimeError(f"MLflow logs to {uri!r}, not to a labledger server over HTTP")
    sections = capture_all()
    store = HttpStore(uri, token=token or os.environ.get("MLFLOW_TRACKING_TOKEN"))
    try:
        store.put_captures(run_id, sections)
    finally:
        store.close()
    return sections


def enable() -> None:
    """Capture every run ``mlflow.start_run`` starts from now on (in a background thread, so
    training does not wait for git); ``disable()`` undoes it."""
    import mlflow

    if _enabled:
        return
    original = mlflow.start_run

    def start_run(*args: Any, **kwargs: Any) -> Any:
        active = original(*args, **kwargs)
        thread = threading.Thread(target=_capture_quietly, args=(active.info.run_id,), daemon=True)
        thread.start()
        _enabled.setdefault("threads", []).append(thread)
        return active

    _enabled["original"] = original
    mlflow.start_run = start_run


def wait(timeout: float = 60.0) -> None:
    """Wait for the captures ``enable`` started."""
    for thread in _enabled.get("threads", []):
        thread.join(timeout)


def disable() -> None:
    import mlflow

    wait()
    original = _enabled.pop("original", None)
    if original is not None:
        mlflow.start_run = original
    _enabled.clear()


def _capture_quietly(run_id: str) -> None:
    import logging

    try:
        capture(run_id)
    except Exception as exc:  # capture never breaks training
        logging.getLogger("labledger").warning("labledger: capture of %s failed: %s", run_id, exc)
