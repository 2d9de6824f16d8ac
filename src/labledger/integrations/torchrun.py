"""Distributed training (``torchrun``, ``torch.distributed``): all ranks as one run group.

    dist.init_process_group("gloo")
    run = labledger.integrations.torchrun.init(project="ddp", config=cfg)

Call it on every rank after the process group is up. Rank 0 chooses the group name
(``ddp-<hex>``) and broadcasts it, so every rank's run joins one group; each rank records its
own hardware, process and console (``rank``, ``local_rank`` and ``world_size`` in its config).
By default only rank 0 logs metrics and the user's config: on other ranks ``run.log`` is a
no-op unless ``log_all_ranks=True``. A rank that dies without finishing shows as ``crashed``
(its pid is gone) while the others end ``killed`` by torchrun, so the group says which rank
failed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

import labledger as ll
from labledger.integrations._common import require


class RankRun:
    """A non-zero rank's run: everything but metric logging goes to the real run."""

    def __init__(self, run: ll.Run) -> None:
        self._run = run

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Dropped: only rank 0 logs metrics (``log_all_ranks=True`` changes that)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def __enter__(self) -> RankRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._run.__exit__(*exc)


def init(
    project: str | None = None,
    config: Any = None,
    *,
    log_all_ranks: bool = False,
    **init_kwargs: Any,
) -> Any:
    """Start this rank's run in the job's group; returns the run (rank 0) or a ``RankRun``."""
    torch = require("torch", "demo", "torch")
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        raise ll.LabledgerError(
            "torchrun.init needs torch.distributed initialised: "
            "call torch.distributed.init_process_group() first"
        )
    rank, world_size = dist.get_rank(), dist.get_world_size()
    names = [f"ddp-{secrets.token_hex(4)}" if rank == 0 else None]
    dist.broadcast_object_list(names, src=0)
    group = init_kwargs.pop("group", None) or names[0]
    local_rank = _local_rank(rank)
    distributed = {"rank": rank, "local_rank": local_rank, "world_size": world_size}
    base_name = init_kwargs.pop("name", None) or group
    if rank == 0:
        run = ll.init(
            project=project, config=config, group=group, name=f"{base_name}-rank0", **init_kwargs
        )
        run.update_config({"distributed": {**distributed, "backend": dist.get_backend()}})
        return run
    tags = [*init_kwargs.pop("tags", ()), "rank"]
    run = ll.init(
        project=project,
        config={"distributed": {**distributed, "backend": dist.get_backend()}},
        group=group,
        name=f"{base_name}-rank{rank}",
        tags=tags,
        **init_kwargs,
    )
    if log_all_ranks:
        return run
    return RankRun(run)


def _local_rank(rank: int) -> int:
    """The rank on this machine as the launcher numbered it (torchrun's ``LOCAL_RANK``)."""
    value = os.environ.get("LOCAL_RANK", "")
    return int(value) if value.isdigit() else rank
