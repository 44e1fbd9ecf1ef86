"""Training metrics: ``run_dir/metrics.jsonl`` (one JSON object per logged step) and ``loss.png``.

Each line has ``step``, ``epoch``, ``loss`` (mean of the step losses since the previous line), ``lr``,
``grad_norm`` (before clipping), ``tokens_per_s`` (real, non-pad tokens), ``peak_memory_mb`` (CUDA max
allocated on a GPU, the process's peak RSS on CPU) and ``eval_loss`` when evaluation ran at that step.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
LOSS_PNG = "loss.png"


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


class MetricsLog:
    """Appends lines to ``metrics.jsonl``. On resume, lines past the checkpoint's step (written by the
    interrupted process after its last checkpoint) are dropped first, so no step appears twice."""

    def __init__(self, run_dir: Path, *, resume_step: int | None = None) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
        elif self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Records of a metrics file; a torn last line (a killed process) is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_loss(metrics_path: Path, out: Path) -> Path | None:
    """Loss (and eval loss) against step as a PNG; None when there is nothing to plot."""
    records = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None]
    evals = [(r["step"], r["eval_loss"]) for r in records if r.get("eval_loss") is not None]
    if not train and not evals:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    if train:
        axes.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        axes.plot(*zip(*evals, strict=True), marker="o", label="eval loss")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    tmp = out.with_name(out.name + ".tmp.png")
    figure.savefig(tmp, format="png")
    os.replace(tmp, out)
    return out
