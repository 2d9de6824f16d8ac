"""Reading TensorBoard event files with tensorboard's own ``EventAccumulator``.

Every folder under LOGDIR that holds ``events.out.tfevents.*`` files is one run, named by its
path relative to LOGDIR. Scalars (old-style ``simple_value`` and the tensor-based ``scalars``
plugin) keep their step and wall time; the hparams plugin's session values become the
config. The run spans its first to last event and is ``finished``: event files do not say
whether training ended well, and the ``origin`` capture says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from labledger.entities import RunRecord, RunStatus
from labledger.errors import LabledgerError, MissingExtra
from labledger.sdk.importing import ImportedRun

HPARAMS_TAG = "_hparams_/session_start_info"


class TensorboardSource:
    """The runs of one TensorBoard log folder."""

    name = "tensorboard"

    def __init__(self, logdir: str, project: str | None = None) -> None:
        try:
            from tensorboard.backend.event_processing import event_accumulator
        except ImportError:
            raise MissingExtra("tensorboard", "tensorboard") from None
        self._accumulator = event_accumulator
        self.logdir = Path(logdir).expanduser().absolute()
        self.project = project or self.logdir.name

    def run_ids(self) -> Iterator[tuple[str, Any, Any]]:
        folders = sorted({p.parent for p in self.logdir.rglob("events.out.tfevents.*")})
        if not folders:
            raise LabledgerError(f"no TensorBoard event files under {self.logdir}")
        for folder in folders:
            relative = folder.relative_to(self.logdir).as_posix()
            yield f"{self.logdir}#{relative}", folder, relative

    def load(self, source_id: str, folder: Any, relative: Any, scratch: Path) -> ImportedRun:
        acc = self._accumulator.EventAccumulator(
            str(folder), size_guidance={"scalars": 0, "tensors": 0}
        )
        acc.Reload()
        metrics: dict[str, tuple[Sequence[int], Sequence[float], Sequence[float]]] = {}
        times: list[float] = []
        tags = acc.Tags()
        for tag in tags.get("scalars", []):
            events = acc.Scalars(tag)
            metrics[tag] = (
                [e.step for e in events],
                [float(e.value) for e in events],
                [e.wall_time for e in events],
            )
        for tag in tags.get("tensors", []):
            if tag in metrics or _plugin(acc, tag) != "scalars":
                continue
            from tensorboard.util import tensor_util

            events = acc.Tensors(tag)
            metrics[tag] = (
                [e.step for e in events],
                [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events],
                [e.wall_time for e in events],
            )
        for *_, stamps in metrics.values():
            times.extend(stamps)
        start = min(times) if times else acc.FirstEventTimestamp()
        end = max(times) if times else start
        record = RunRecord(
            run_id="",
            project=self.project,
            name=relative if relative != "." else self.logdir.name,
            status=RunStatus.FINISHED,
            created_at=start,
            ended_at=end,
            heartbeat_at=end,
            config=_hparams(acc),
        )
        return ImportedRun(
            source=self.name,
            source_id=source_id,
            record=record,
            metrics=metrics,
            details={
                "logdir": str(self.logdir),
                "run": relative,
                "status_known": False,
                "lacks": ["code", "packages", "seeds", "fingerprint", "status"],
            },
        )


def _plugin(acc: Any, tag: str) -> str | None:
    try:
        return str(acc.SummaryMetadata(tag).plugin_data.plugin_name)
    except (KeyError, AttributeError):
        return None


def _hparams(acc: Any) -> dict[str, Any]:
    """The hparams plugin's session start values (``SummaryWriter.add_hparams``)."""
    try:
        content = acc.PluginTagToContent("hparams")
    except KeyError:
        return {}
    raw = content.get(HPARAMS_TAG)
    if raw is None:
        return {}
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(raw)
    values: dict[str, Any] = {}
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            number = value.number_value
            values[name] = int(number) if number.is_integer() else number
        elif kind in ("string_value", "bool_value"):
            values[name] = getattr(value, kind)
    return values
