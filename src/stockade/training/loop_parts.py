"""Helpers of the training run: data order, collation, forward pass, evaluation, logging, saving."""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from stockade.data.packing import collate_packed, length_grouped_batches
from stockade.data.tokenization import IGNORE_INDEX
from stockade.training import checkpoint as ckpt
from stockade.training.metrics import peak_memory_mb


class RunParts:
    """Mixed into :class:`stockade.training.loop_run.Run`, which sets the attributes used here."""

    spec: Any
    inputs: Any
    loaded: Any
    model: Any
    metrics: Any

    def _order(self, epoch: int) -> list[list[int]]:
        if epoch not in self._orders:
            self._orders = {
                epoch: length_grouped_batches(
                    self.lengths, self.spec.per_device_train_batch_size, self.spec.seed + epoch
                )
            }
        return self._orders[epoch]

    def _next_batch(self) -> list[int]:
        if self.position >= self.n_batches:
            self.epoch, self.position = self.epoch + 1, 0
        batch = self._order(self.epoch)[self.position]
        self.position += 1
        return batch

    def _collate(self, rows: list[Any]) -> dict[str, Any]:
        batch = collate_packed(
            rows,
            pad_token_id=self.inputs.pad_token_id,
            mode=self.loaded.packing_mode,
            dtype=self.loaded.compute_dtype,
        )
        return {key: value.to(self.loaded.device) for key, value in batch.items()}

    def _forward(self, batch: dict[str, Any]) -> Any:
        import torch

        context = torch.autocast("cuda", dtype=self.loaded.compute_dtype) if self.autocast else nullcontext()
        with context:
            return self.model(**batch).loss.float()

    def _epoch_float(self) -> float:
        return round(self.epoch + self.position / self.n_batches, 4)

    def _maybe_eval(self) -> float | None:
        every = self.spec.eval_steps
        if not self.eval_rows or not (self.step == self.total or (every and self.step % every == 0)):
            return None
        import torch

        self.model.eval()
        total, count = 0.0, 0
        size = self.spec.per_device_eval_batch_size
        with torch.no_grad():
            for start in range(0, len(self.eval_rows), size):
                batch = self._collate(self.eval_rows[start : start + size])
                n = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
                total += float(self._forward(batch)) * n
                count += n
        self.model.train()
        return total / count if count else None

    def _log(self, lr: float, grad_norm: float, eval_loss: float | None) -> None:
        loss_sum, steps, real, seconds = self.window
        self.final_loss = loss_sum / steps if steps else self.final_loss
        record = {
            "step": self.step,
            "epoch": self._epoch_float(),
            "loss": round(self.final_loss, 6),
            "lr": lr,
            "grad_norm": round(grad_norm, 6),
            "tokens_per_s": round(real / seconds, 1) if seconds > 0 else 0.0,
            "peak_memory_mb": peak_memory_mb(),
        }
        if eval_loss is not None:
            record["eval_loss"] = round(eval_loss, 6)
        self.metrics.write(record)
        self.window = [0.0, 0, 0, 0.0]

    def _save(self) -> None:
        data = {
            "epoch": self.epoch,
            "position": self.position,
            "order": self._order(self.epoch),
            "tokens": self.tokens,
            "window": self.window,
            "final_loss": self.final_loss,
        }
        self.last_checkpoint = ckpt.save_checkpoint(
            self.run_dir,
            self.step,
            self.model,
            self.optimizer,
            self.scheduler,
            is_peft=self.loaded.is_peft,
            data=data,
        )

    def _save_final(self) -> Path:
        """The adapter (``run_dir/adapter``) or whole model (``run_dir/model``), written atomically."""
        out = self.run_dir / ("adapter" if self.loaded.is_peft else "model")
        tmp = self.run_dir / f".tmp-{out.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            self.model.save_pretrained(str(tmp), safe_serialization=True)
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out
