"""The training loop: a lean, deterministic, resumable loop (no HF Trainer) for every stage.

* Stages: sft and pt learn tokens (pt: every token of plain text, packed documents); dpo and kto run a
  :class:`stockade.training.preference.PreferenceObjective` on pairs / tagged answers, whose micro-batch
  weight is its number of examples instead of its trainable tokens.

* Data: with ``packing``, examples are packed into rows of ``cutoff_len`` tokens; else one example per
  row. Rows are batched by :func:`length_grouped_batches` (length-sorted, then batches shuffled) with
  seed ``spec.seed + epoch``, so an epoch's order is a pure function of the seed and the epoch number and
  the data state of a checkpoint is just (epoch, position).
* The micro-batch stream runs across epochs; one optimizer step takes ``gradient_accumulation_steps``
  micro-batches. Total steps: ``max_steps``, else ``ceil(num_train_epochs * batches / accumulation)``.
* Loss: the mean over every trainable token of the optimizer step, token-weighted across micro-batches
  (each micro-batch's mean loss is scaled by its share of the step's trainable tokens), so a micro-batch
  with few answer tokens does not count as much as one with many.
* Data-parallel (torchrun): each rank takes every ``world_size``-th micro-batch of the same stream and
  DDP averages gradients; the update equals one process accumulating all of them (:mod:`.distributed`).
* AdamW (weight decay on matrices only, not on biases and norms), ``transformers.get_scheduler`` with
  warm-up, gradient clipping at ``max_grad_norm`` (1.0), autocast + (for fp16) a GradScaler on CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stockade.core.specs.train import TrainSpec
from stockade.data.tokenization import EncodedExample, KtoSample, PairExample
from stockade.training.distributed import SINGLE, DistContext
from stockade.training.loop_errors import TrainingFailed, classify

__all__ = ["ProgressEvent", "TrainInputs", "TrainResult", "TrainingFailed", "run_training"]


@dataclass
class TrainInputs:
    model_dir: Path
    spec: TrainSpec
    train: list[EncodedExample] | list[PairExample] | list[KtoSample]  # by spec.stage
    eval: list[EncodedExample] | list[PairExample] | list[KtoSample]
    run_dir: Path
    pad_token_id: int
    resume_from: Path | None = None  # a checkpoint folder (run_dir/checkpoints/step-N)
    dist: DistContext = SINGLE  # data-parallel rank and world size (torchrun); see .distributed


@dataclass
class ProgressEvent:
    step: int
    total_steps: int
    epoch: float
    loss: float | None
    lr: float
    tokens_per_s: float
    eta_s: float | None


@dataclass
class TrainResult:
    status: str
    final_loss: float
    steps: int
    tokens: int
    seconds: float
    adapter_dir: Path
    metrics_path: Path
    loss_png: Path | None
    last_checkpoint: Path | None


def run_training(
    inputs: TrainInputs, *, progress: Callable[[ProgressEvent], None] | None = None
) -> TrainResult:
    """Train; out-of-disk and out-of-memory errors end as :class:`TrainingFailed` (``reason`` says which)."""
    try:
        from stockade.training.loop_run import Run

        return Run(inputs, progress).run()
    except TrainingFailed:
        raise
    except BaseException as error:
        failed = classify(error)
        if failed is None:
            raise
        raise failed from error
