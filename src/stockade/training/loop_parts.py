"""Helpers of the training run: data order, collation, forward pass, evaluation, logging, saving."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from stockade.data.packing import collate_packed, length_grouped_batches
from stockade.data.tokenization import IGNORE_INDEX
from stockade.training import checkpoint as ckpt
from stockade.training import distributed
from stockade.training.metrics import peak_memory_mb


class RunParts:
    """Mixed into :class:`stockade.training.loop_run.Run`, which sets the attributes used here."""

    spec: Any
    inputs: Any
    loaded: Any
    model: Any
    forward_model: Any  # the model, or DDP around it
    metrics: Any
    dist: Any
    step_started_epochs: int
    started: float  # time.monotonic() when this process started stepping
    objective: Any = None  # a PreferenceObjective (stage dpo/kto); None: the token loss (sft, pt)
    reporter: Any = None  # a TensorBoardReporter (report_to: tensorboard) on rank 0
    _collators: Any = None  # the dataloader_num_workers threads, made on first use

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

    def _next_rank_batch(self) -> list[int]:
        """This rank's micro-batch: every rank draws ``world_size`` batches and keeps its own."""
        drawn = [self._next_batch() for _ in range(self.dist.world_size)]
        return drawn[self.dist.rank]

    def _autocast(self) -> Any:
        import torch

        return torch.autocast("cuda", dtype=self.loaded.compute_dtype) if self.autocast else nullcontext()

    def _count(self, batch: dict[str, Any]) -> int:
        """A micro-batch's weight in its step: trainable tokens, or examples for a preference stage."""
        if self.objective is not None:
            return self.objective.count(batch)
        return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())

    def _collate(self, rows: list[Any]) -> dict[str, Any]:
        if self.objective is not None:
            return self.objective.collate(rows, self.inputs.pad_token_id, self.loaded.device)  # type: ignore[no-any-return]
        batch = collate_packed(
            rows,
            pad_token_id=self.inputs.pad_token_id,
            mode=self.loaded.packing_mode,
            dtype=self.loaded.compute_dtype,
        )
        return {key: value.to(self.loaded.device) for key, value in batch.items()}

    def _collate_all(self, groups: list[list[Any]]) -> list[dict[str, Any]]:
        """The step's micro-batches; with ``dataloader_num_workers`` N > 0 they are collated (padded,
        copied to the device) by N worker threads at once, in order, else in this thread."""
        workers = self.spec.dataloader_num_workers
        if not workers or len(groups) < 2:
            return [self._collate(rows) for rows in groups]
        if self._collators is None:
            from concurrent.futures import ThreadPoolExecutor

            self._collators = ThreadPoolExecutor(workers, thread_name_prefix="stockade-collate")
        return list(self._collators.map(self._collate, groups))

    def _close_parts(self) -> None:
        """End the run's helpers: the TensorBoard writer and the collating threads."""
        if self.reporter is not None:
            self.reporter.close()
        if self._collators is not None:
            self._collators.shutdown()

    def _forward(self, batch: dict[str, Any], *, sync: bool, count: int, total: float) -> float:
        """Forward and backward of one micro-batch; returns its share of the step's mean loss.

        The share is ``loss x count / total`` (token-weighted over the whole step, all ranks); DDP
        averages gradients over ranks, so backward runs on ``share x world_size``. Gradients are
        all-reduced only after the step's last micro-batch (``sync``).
        """
        no_sync = self.dist.enabled and not self.dist.fsdp and not sync
        with self.forward_model.no_sync() if no_sync else nullcontext():
            share = self._loss(batch) * (count / total)
            self.scaler.scale(share * self.dist.world_size).backward()
        return float(share.detach())

    def _loss(self, batch: dict[str, Any], *, record: bool = True) -> Any:
        if self.objective is not None:  # dpo, kto: its own forward passes (policy, reference)
            return self.objective.loss(batch, record=record)
        with self._autocast():
            if self.loaded.head is None:  # the model's own loss over the full logits
                return self.forward_model(**batch).loss.float()
            # lm_head is the identity: the forward returns hidden states, the loss never holds the logits
            inputs = {key: value for key, value in batch.items() if key != "labels"}
            hidden = self.forward_model(**inputs).logits
            return self.loaded.hidden_loss(hidden, self.loaded.head.weight, batch["labels"]).float()

    def _epoch_float(self) -> float:
        return round(self.epoch + self.position / self.n_batches, 4)

    def _maybe_eval(self) -> float | None:
        if not self.eval_rows or not (self.step == self.total or self._eval_due()):
            return None
        import torch

        self.model.eval()
        total, count = 0.0, 0
        size = self.spec.per_device_eval_batch_size
        batches = [self.eval_rows[i : i + size] for i in range(0, len(self.eval_rows), size)]
        mine = batches[self.dist.rank :: self.dist.world_size]  # each rank its share of the batches
        # Every rank runs the same number of forward passes: DDP and FSDP forwards are collectives
        # (buffer broadcast, weight all-gather), so a rank with no batch left repeats one and drops it.
        rounds = math.ceil(len(batches) / self.dist.world_size)
        with torch.no_grad():
            for index in range(rounds):
                batch = self._collate(mine[index] if index < len(mine) else batches[0])
                loss = float(self._loss(batch, record=False))
                if index < len(mine):
                    n = self._count(batch)
                    total, count = total + loss * n, count + n
        self.model.train()
        total, count = distributed.sum_all(self.dist, [total, count])
        return total / count if count else None

    def _epochs_done(self) -> int:
        """Epochs whose every micro-batch has been drawn (the next epoch starts lazily, on a draw)."""
        return self.epoch + (1 if self.position >= self.n_batches else 0)

    def _eval_due(self) -> bool:
        """Periodic evaluation per ``eval_strategy`` (the last step always evaluates)."""
        if self.spec.eval_strategy == "steps":
            return self.step % (self.spec.eval_steps or self.spec.logging_steps) == 0
        if self.spec.eval_strategy == "epoch":  # this step completed an epoch
            return self._epochs_done() > self.step_started_epochs
        return False

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
            "real_tokens": real,  # since the last line, padding not counted
            "elapsed_s": round(time.monotonic() - self.started, 3),  # since this process's first step
            "peak_memory_mb": peak_memory_mb(),
        }
        if self.objective is not None:  # rewards of the window, all ranks together
            sums = self.objective.window_sums()
            flat = distributed.sum_all(self.dist, [v for _, total, count in sums for v in (total, count)])
            merged = [(name, flat[2 * i], flat[2 * i + 1]) for i, (name, _, _) in enumerate(sums)]
            record.update(self.objective.summarize(merged))
            self.objective.reset_window()
        if eval_loss is not None:
            record["eval_loss"] = round(eval_loss, 6)
        if self.metrics is not None:  # rank 0 writes
            self.metrics.write(record)
            if self.reporter is not None:  # report_to: tensorboard
                self.reporter.write(record)
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
        # every rank joins the gathering under FSDP; rank 0 writes
        weights = distributed.trainable_state(self.dist, self.model)
        training_state = None
        if not self.spec.save_only_model:
            training_state = {
                "optimizer": distributed.optimizer_state(self.dist, self.model, self.optimizer),
                "scheduler": self.scheduler.state_dict(),
            }
        if self.dist.is_main:
            self.last_checkpoint = ckpt.save_checkpoint(
                self.run_dir,
                self.step,
                weights=weights,
                training_state=training_state,
                data=data,
                write_adapter=self._adapter_writer(weights) if self.loaded.is_peft else None,
            )
        else:
            self.last_checkpoint = ckpt.checkpoints_dir(self.run_dir) / f"step-{self.step}"
        distributed.barrier(self.dist)

    def _adapter_writer(self, weights: dict[str, Any] | None) -> Any:
        """Writes the adapter (or model) into a folder; under FSDP from the gathered ``weights``."""
        extra: dict[str, Any] = {"state_dict": weights} if self.dist.fsdp and weights is not None else {}
        if self.loaded.pissa_initial is not None:  # pissa_init: saved as a plain LoRA on the original base
            extra["path_initial_model_for_weight_conversion"] = self.loaded.pissa_initial.name

        def write(folder: Path) -> None:
            self.model.save_pretrained(str(folder), safe_serialization=True, **extra)

        return write

    def _save_final(self) -> Path:
        """The adapter (``run_dir/adapter``) or whole model (``run_dir/model``), written atomically."""
        out = self.run_dir / ("adapter" if self.loaded.is_peft else "model")
        full = None  # under FSDP: the gathered weights (every rank joins), written by rank 0
        if self.dist.fsdp:
            full = distributed.trainable_state(self.dist, self.model, everything=not self.loaded.is_peft)
        if not self.dist.is_main:
            distributed.barrier(self.dist)
            return out
        ckpt.write_folder_atomically(out, self._adapter_writer(full))
        distributed.barrier(self.dist)
        return out


def parameter_groups(named: list[tuple[str, Any]], spec: Any) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices only; with ``loraplus_lr_ratio`` (LoRA+), the B matrices
    learn at ``learning_rate x ratio`` and adapters of embedding layers at ``loraplus_lr_embedding``."""
    lr, decay, ratio = spec.learning_rate, spec.weight_decay, spec.loraplus_lr_ratio
    groups: dict[tuple[float, float], list[Any]] = {}
    for name, parameter in named:
        rate = lr
        if ratio is not None and "lora_embedding_" in name:
            rate = spec.loraplus_lr_embedding
        elif ratio is not None and "lora_B" in name:
            rate = lr * ratio
        groups.setdefault((rate, decay if parameter.ndim >= 2 else 0.0), []).append(parameter)
    # the learning_rate group first: the scheduler's first group is the one logged as ``lr``
    ordered = sorted(groups.items(), key=lambda item: (item[0][0] != lr, -item[0][1]))
    return [{"params": params, "lr": rate, "weight_decay": wd} for (rate, wd), params in ordered]
