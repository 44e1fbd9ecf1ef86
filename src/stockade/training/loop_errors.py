"""The one error a training run ends with when it cannot finish."""

from __future__ import annotations

import errno

from stockade.core.errors import StockadeError


class TrainingFailed(StockadeError):
    """A run stopped before its end. ``reason`` is stable, for the caller to record:
    ``disk_full``, ``out_of_memory``, ``bad_checkpoint``, ``diverged``."""

    def __init__(self, what: str, *, reason: str, where: str | None = None, fix: str | None = None) -> None:
        self.reason = reason
        super().__init__(what, where=where, fix=fix)


def classify(error: BaseException) -> TrainingFailed | None:
    """The :class:`TrainingFailed` an out-of-disk or out-of-memory error becomes; None for others."""
    import torch

    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return TrainingFailed(
            f"the disk is full: {error}",
            reason="disk_full",
            fix="free space on the run folder's disk (old checkpoints, runs) and resume from the "
            "latest checkpoint",
        )
    if isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    ):
        return TrainingFailed(
            f"out of memory: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
            reason="out_of_memory",
            fix="lower per_device_train_batch_size or cutoff_len (raise gradient_accumulation_steps to "
            "keep the effective batch), turn on gradient_checkpointing, or use qlora",
        )
    return None
