"""``report_to``: where the metrics of a run go besides ``metrics.jsonl``.

``none`` (the default): nowhere else. ``tensorboard``: TensorBoard event files in
``runs/<run id>/tensorboard`` (``torch.utils.tensorboard``, local files only; view them with
``tensorboard --logdir runs/<run id>/tensorboard`` inside the network). Hosted trackers are refused by
the spec (the network is closed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing

TENSORBOARD_DIR = "tensorboard"
# metrics.jsonl keys that are not measurements of the step
_NOT_SCALARS = {"step", "real_tokens"}


class TensorBoardReporter:
    """Writes each logged metrics record as scalars ``train/<key>`` (``eval/loss`` for ``eval_loss``)."""

    def __init__(self, log_dir: Path, *, resume_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:  # torch imports it lazily; it needs the tensorboard package
            raise DependencyMissing(
                "report_to: tensorboard needs the tensorboard package, which is not installed",
                where="train spec: report_to",
                fix="install it (pip install 'stockade[train]' from the offline wheelhouse), or set "
                "report_to: none (metrics.jsonl and loss.png stay in the run folder)",
            ) from error
        self.log_dir = Path(log_dir)
        # on resume, events past the checkpoint's step (written after it by the interrupted process) are
        # dropped by TensorBoard, so no step appears twice
        purge = resume_step + 1 if resume_step is not None else None
        self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge)

    def write(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key in _NOT_SCALARS or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            tag = "eval/loss" if key == "eval_loss" else f"train/{key}"
            self.writer.add_scalar(tag, float(value), global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_reporter(spec: Any, run_dir: Path, resume_step: int | None = None) -> TensorBoardReporter | None:
    """The reporter ``spec.report_to`` names (None for ``none``)."""
    if spec.report_to == "tensorboard":
        return TensorBoardReporter(Path(run_dir) / TENSORBOARD_DIR, resume_step=resume_step)
    return None
