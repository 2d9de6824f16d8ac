"""Hydra / OmegaConf: ``labledger.integrations.hydra.init(cfg)`` inside a ``@hydra.main`` task.

Records the resolved config, Hydra's command-line overrides and job details under ``hydra.*``,
and the job's ``.hydra/`` folder (config.yaml, hydra.yaml, overrides.yaml) as a ``config``
artifact. Every job of one ``--multirun`` sweep joins one group named after the sweep folder.
Outside a Hydra app it is ``labledger.init`` with the OmegaConf config resolved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import labledger as ll
from labledger.integrations._common import artifact_name, guarded, require


def init(cfg: Any, project: str | None = None, **kwargs: Any) -> ll.Run:
    """Start a run for the current Hydra job; ``kwargs`` go to ``labledger.init``."""
    require("omegaconf", "hydra", "hydra-core")
    job = hydra_job()
    if job is not None and job.get("mode") == "MULTIRUN":
        kwargs.setdefault("group", f"hydra-{Path(job['sweep_dir']).name}")
        kwargs.setdefault("name", f"{job['name']}-{job['num']}")
    run = ll.init(project=project, config=cfg, **kwargs)
    if job is not None:
        run.update_config({"hydra": {k: v for k, v in job.items() if k != "files"}})
        files = job.get("files")
        if files:
            guarded(
                "logging the .hydra folder",
                run.log_artifact,
                files,
                name=artifact_name(run.project, "hydra-config"),
                type="config",
                metadata={"framework": "hydra"},
            )
    return run


def hydra_job() -> dict[str, Any] | None:
    """What Hydra knows about the running job, or None outside a Hydra app."""
    try:
        from hydra.core.hydra_config import HydraConfig
    except ImportError:
        return None
    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    output_dir = Path(hc.runtime.output_dir)
    num = hc.job.get("num")  # type: ignore[attr-defined]  # a DictConfig; unset in RUN mode
    files = output_dir / hc.output_subdir if hc.output_subdir else None
    return {
        "mode": str(hc.mode.name) if hc.mode is not None else "RUN",
        "overrides": list(hc.overrides.task),
        "name": hc.job.name,
        "num": int(num) if num is not None else 0,
        "output_dir": str(output_dir),
        "sweep_dir": str(hc.sweep.dir),
        "files": str(files) if files is not None and files.is_dir() else None,
    }
