"""One training run: setup (model, data, optimizer, resume) and the step loop. See :mod:`.loop`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from stockade.data.packing import pack_examples, single_sequences
from stockade.training import checkpoint as ckpt
from stockade.training import distributed
from stockade.training.loop import ProgressEvent, TrainInputs, TrainResult
from stockade.training.loop_errors import TrainingFailed
from stockade.training.loop_parts import RunParts, parameter_groups
from stockade.training.metrics import LOSS_PNG, MetricsLog, plot_loss
from stockade.training.model_setup import load_for_training, trainable_parameters
from stockade.training.preference import PreferenceObjective, frozen_copy, needs_reference_copy
from stockade.training.reporting import open_reporter

PREFERENCE_STAGES = ("dpo", "kto")


class Run(RunParts):
    def __init__(self, inputs: TrainInputs, progress: Callable[[ProgressEvent], None] | None) -> None:
        import torch

        if not inputs.train:
            raise TrainingFailed("there is no training example", reason="no_data", fix="check the dataset")
        self.inputs, self.spec, self.progress = inputs, inputs.spec, progress
        self.dist = inputs.dist
        self.run_dir = Path(inputs.run_dir)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(self.spec.seed)
        self.loaded = load_for_training(
            Path(inputs.model_dir), self.spec, self.dist.local_rank, fsdp=self.dist.fsdp
        )
        self.model = self.loaded.model
        spec = self.spec
        self.objective: PreferenceObjective | None = None  # stage dpo/kto; None: the token loss (sft, pt)
        if spec.stage in PREFERENCE_STAGES:
            if self.dist.fsdp:
                raise TrainingFailed(
                    f"stage {spec.stage} does not run under FSDP (a deepspeed config) yet",
                    reason="unsupported",
                    fix="train it on one GPU, or with plain data parallelism (torchrun without deepspeed)",
                )
            self.rows, self.eval_rows = list(inputs.train), list(inputs.eval)  # pairs / KTO samples
        else:
            self.rows = (
                pack_examples(inputs.train, spec.cutoff_len)
                if self.loaded.recipe.packing
                else single_sequences(inputs.train)
            )
            self.eval_rows = single_sequences(inputs.eval)
        self.lengths = [len(row) for row in self.rows]
        self.n_batches = math.ceil(len(self.rows) / spec.per_device_train_batch_size)
        accumulation = spec.gradient_accumulation_steps
        per_step = accumulation * self.dist.world_size  # micro-batches one optimizer step consumes
        self.total = spec.max_steps or max(1, math.ceil(spec.num_train_epochs * self.n_batches / per_step))
        # full/freeze dpo/kto: the reference is a frozen copy of the base, made before a checkpoint's
        # weights load (a resumed run keeps the base as its reference) and before DDP wraps the model
        reference = None
        if spec.stage in PREFERENCE_STAGES and needs_reference_copy(spec, self.loaded.is_peft):
            reference = frozen_copy(self.model)
        state = None
        if inputs.resume_from is not None:  # weights go into the model before DDP/FSDP wrap it
            state = ckpt.load_checkpoint(Path(inputs.resume_from), self.model)
        # DDP's initial broadcast carries the checkpoint's weights; FSDP shards (and replaces) the
        # parameters, so the optimizer is built after this.
        self.forward_model = distributed.wrap_model(self.dist, self.model, self.loaded.device)
        params = trainable_parameters(self.model)
        self.params = [p for _, p in params]
        self.optimizer = torch.optim.AdamW(
            parameter_groups(params, spec),
            lr=spec.learning_rate,
            betas=(spec.adam_beta1, spec.adam_beta2),
            eps=spec.adam_epsilon,
        )
        from transformers import get_scheduler

        warmup = spec.warmup_steps or math.ceil(self.total * spec.warmup_ratio)
        self.scheduler = get_scheduler(
            spec.lr_scheduler_type, self.optimizer, num_warmup_steps=warmup, num_training_steps=self.total
        )
        cuda = self.loaded.device.type == "cuda"
        self.autocast = cuda and self.loaded.compute_dtype != torch.float32
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=cuda and self.loaded.compute_dtype == torch.float16
        )
        if spec.stage in PREFERENCE_STAGES:
            self.objective = PreferenceObjective(
                spec,
                self.model,
                self.forward_model,
                is_peft=self.loaded.is_peft,
                head=self.loaded.head,
                reference=reference,
                autocast=self._autocast,
            )
        self.step, self.epoch, self.position, self.tokens = 0, 0, 0, 0
        self.window = [0.0, 0, 0, 0.0]  # loss sum, steps, real tokens, seconds since the last log line
        self.final_loss = math.nan
        self._orders: dict[int, list[list[int]]] = {}
        if self.dist.is_main:
            ckpt.remove_stale_temp(self.run_dir)
        resume_step = None
        if state is not None:
            distributed.load_optimizer_state(self.dist, self.model, self.optimizer, state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            ckpt.set_rng_state(state["rng"])
            data = state["data"]
            self.step = resume_step = int(state["step"])
            self.epoch, self.position, self.tokens = data["epoch"], data["position"], data["tokens"]
            self.window, self.final_loss = list(data["window"]), data["final_loss"]
        self.metrics = MetricsLog(self.run_dir, resume_step=resume_step) if self.dist.is_main else None
        self.reporter = open_reporter(spec, self.run_dir, resume_step) if self.dist.is_main else None
        self.last_checkpoint: Path | None = Path(inputs.resume_from) if inputs.resume_from else None

    def run(self) -> TrainResult:

        started = self.started = time.monotonic()
        session_start_step = self.step
        while self.step < self.total:
            tick = time.monotonic()
            self.step_started_epochs = self._epochs_done()
            groups = [
                [self.rows[i] for i in self._next_rank_batch()]
                for _ in range(self.spec.gradient_accumulation_steps)
            ]
            micro = self._collate_all(groups)
            counts = [self._count(b) for b in micro]  # trainable tokens (sft, pt) or examples (dpo, kto)
            local_real = sum(len(row) for rows in groups for row in rows)  # real tokens, padding not counted
            # Trainable and real tokens of the whole step, all ranks together.
            total_tokens, real = distributed.sum_all(self.dist, [sum(counts), local_real])
            real = int(real)
            local_loss = 0.0
            for index, (batch, count) in enumerate(zip(micro, counts, strict=True)):
                share = self._forward(batch, sync=index == len(micro) - 1, count=count, total=total_tokens)
                local_loss += share
            step_loss = distributed.sum_all(self.dist, [local_loss])[0]
            if not math.isfinite(step_loss) and not self.scaler.is_enabled():
                raise TrainingFailed(
                    f"the loss became {step_loss} at step {self.step + 1}",
                    reason="diverged",
                    fix="lower learning_rate, add warm-up, or use bf16/fp32 instead of fp16",
                )
            self.scaler.unscale_(self.optimizer)
            grad_norm = distributed.clip_gradients(self.params, self.spec.max_grad_norm)
            lr = self.scheduler.get_last_lr()[0]
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.tokens += real
            w = self.window
            w[0], w[1], w[2], w[3] = w[0] + step_loss, w[1] + 1, w[2] + real, w[3] + time.monotonic() - tick
            eval_loss = self._maybe_eval()
            if self.step % self.spec.logging_steps == 0 or self.step == self.total or eval_loss is not None:
                self._log(lr, grad_norm, eval_loss)
            if self.progress is not None:
                done = self.step - session_start_step
                elapsed = time.monotonic() - started
                self.progress(
                    ProgressEvent(
                        step=self.step,
                        total_steps=self.total,
                        epoch=self._epoch_float(),
                        loss=step_loss,
                        lr=lr,
                        tokens_per_s=w[2] / w[3] if w[3] > 0 else 0.0,
                        eta_s=elapsed / done * (self.total - self.step) if done else None,
                    )
                )
            if self.step % self.spec.save_steps == 0 or self.step == self.total:
                self._save()
        out = self._save_final()
        self._close_parts()
        metrics_path = self.run_dir / "metrics.jsonl" if self.metrics is None else self.metrics.path
        png = None
        if self.spec.plot_loss and self.dist.is_main:
            png = plot_loss(metrics_path, self.run_dir / LOSS_PNG)
        return TrainResult(
            status="completed",
            final_loss=self.final_loss,
            steps=self.step,
            tokens=self.tokens,
            seconds=time.monotonic() - started,
            adapter_dir=out,
            metrics_path=metrics_path,
            loss_png=png,
            last_checkpoint=self.last_checkpoint,
        )
