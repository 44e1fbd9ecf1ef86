"""The reference the estimator is checked against: one step of the product's own training, measured on
fake tensors.

Nothing is allocated: under :class:`FakeTensorMode` every tensor has a shape, a dtype and a device but no
storage, and :class:`MemTracker` adds up what a CUDA caching allocator would hold (each tensor rounded up
to 512 bytes) after every operation, keeping the peak. The model comes from ``config.json`` alone
(``from_pretrained`` is replaced by ``from_config``: random init, no weights read); the run is set up by
the product's :func:`load_for_training` (dtype, LoRA, freeze, recompute, fp32 master weights), its
batch is built by the product's ``Run._collate`` (:func:`collate_packed`: the 4D block-causal mask) and
its loss by the product's ``Run._loss`` (whatever loss the loop computes).

Two things differ from the loop, and why:

* The device is the CPU: this torch build cannot move even a fake tensor to CUDA. For bf16 the loop's
  ``autocast("cuda")`` is replaced by ``autocast("cpu")`` around the same call (matmuls in bf16; the
  norms, rotary embedding and loss upcast to fp32 explicitly, as on a GPU).
* The optimizer step is rebuilt with the same calls as ``Run.__init__`` / ``Run.run`` (AdamW with the
  same two parameter groups, ``clip_grad_norm_``, ``step``, ``zero_grad``): the loop turns the loss and
  the gradient norm into Python floats, which a fake tensor does not have.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

STEPS = 2
INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "orthogonal_",
    "zeros_",
    "ones_",
    "constant_",
)


@dataclass(frozen=True)
class Measured:
    peak_bytes: int
    by_kind: dict[str, int]  # MemTracker's categories at the peak
    peaks: list[int]  # the running peak after each step's forward, backward and optimizer step


@dataclass
class _Example:
    input_ids: list[int]
    labels: list[int]


def _tracker() -> Any:
    """MemTracker, taught that a frozen parameter (LoRA's base, freeze's layers) has no gradient hook."""
    from torch.distributed._tools.mem_tracker import MemTracker, _MemRefType

    class Tracker(MemTracker):
        def _track_module_params_and_buffers(self, module: Any, install_grad_hooks: bool = True) -> Any:
            memory = super()._track_module_params_and_buffers(module, install_grad_hooks=False)
            if not install_grad_hooks:
                return memory
            for param in module.parameters():
                if not param.requires_grad or self._param_to_grad_hook_handles.get(param) is not None:
                    continue

                def as_gradient(grad: Any) -> None:
                    self._update_and_maybe_create_winfos(grad, _MemRefType.GRAD)

                self._param_to_grad_hook_handles[param] = (
                    param.register_hook(as_gradient),
                    param.register_post_accumulate_grad_hook(lambda p: as_gradient(p.grad)),
                )
            return memory

    return Tracker()


@contextlib.contextmanager
def _trainable_token_count(labels: Any):
    """The chunked loss keeps the tokens with a label (``hidden[labels != -100]``), a data-dependent
    shape a fake tensor cannot know: ``nonzero`` of a mask of the labels' shifted size answers with the
    count taken from the real labels; any other ``nonzero`` fails the measurement."""
    import torch
    from torch._subclasses import fake_impls

    from stockade.data.tokenization import IGNORE_INDEX

    shifted = labels[:, 1:]
    count = int((shifted != IGNORE_INDEX).sum())
    op = torch.ops.aten.nonzero.default
    original = fake_impls.op_implementations_dict[op]

    def nonzero(fake_mode: Any, func: Any, arg: Any) -> Any:
        if arg.numel() != shifted.numel():
            raise AssertionError(f"unexpected nonzero on a tensor of shape {tuple(arg.shape)}")
        return arg.new_empty_strided((count, arg.dim()), (1, count), dtype=torch.int64)

    fake_impls.op_implementations_dict[op] = nonzero
    try:
        yield
    finally:
        fake_impls.op_implementations_dict[op] = original


def _point_at(parameter: Any, converted: Any) -> None:
    parameter.data = converted.data


def _gpu_dtype(precision: str) -> Any:
    import torch

    return {"auto": torch.bfloat16, "bf16": torch.bfloat16, "fp16": torch.float16}.get(
        precision, torch.float32
    )


@contextlib.contextmanager
def _weights_from_config_alone():
    """``from_pretrained`` builds the model from config.json (no weights read); init is skipped: values
    do not change memory, and skipping keeps the suite fast."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    def from_config(model_dir: str, **kwargs: Any) -> Any:
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
        return AutoModelForCausalLM.from_config(config, dtype=kwargs.get("dtype"))

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(AutoModelForCausalLM, "from_pretrained", from_config))
        # Module.to() swaps a fake parameter with its converted copy, which torch refuses (a fake tensor
        # carries a weakref); pointing the parameter at the copy's data is what .to() did before swaps
        stack.enter_context(mock.patch.object(torch.utils, "swap_tensors", _point_at))
        stack.enter_context(mock.patch("stockade.models.store.weights.use_safetensors", lambda *a, **k: True))
        # bf16/fp16 rows stand for a GPU run: the weights load in the spec's precision, as on a GPU (on
        # this CPU the product loads fp32 whatever the spec says)
        stack.enter_context(mock.patch("stockade.training.model_setup.resolve_dtype", _gpu_dtype))
        for name in INIT_FUNCTIONS:
            stack.enter_context(mock.patch.object(torch.nn.init, name, lambda tensor, *a, **k: tensor))
        yield


def measure_training_step(model_dir: Path, spec: Any, lengths: list[int]) -> Measured:
    """The peak of two optimizer steps (the second is the steady state: AdamW's moments exist from its
    start) on one micro-batch of examples with these token ``lengths``."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from stockade.data.packing import pack_examples, single_sequences
    from stockade.training.loop_run import Run
    from stockade.training.model_setup import load_for_training, trainable_parameters

    examples = [_Example([1] * n, [1] * n) for n in lengths]
    rows = pack_examples(examples, spec.cutoff_len) if spec.packing else single_sequences(examples)
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    mixed = spec.precision in ("bf16", "fp16")
    with _weights_from_config_alone(), mode:
        loaded = load_for_training(model_dir, spec)
        params = [p for _, p in trainable_parameters(loaded.model)]
        groups = [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": spec.weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]
        # on a GPU, AdamW's default is foreach (whole parameter groups at once); mixed precision here
        # stands for a GPU run, fp32 for the CPU run it is (one tensor at a time)
        optimizer = torch.optim.AdamW(
            [g for g in groups if g["params"]], lr=spec.learning_rate, foreach=mixed or None
        )
    run = Run.__new__(Run)  # the product's collate and loss, without the run's files and data
    run.spec, run.loaded, run.model, run.forward_model = spec, loaded, loaded.model, loaded.model
    run.inputs = mock.Mock(pad_token_id=0)
    run.autocast = False  # autocast("cuda") needs a GPU: the CPU's autocast stands in (below)
    # collated on real tensors (the block mask's repeat_interleave has a data-dependent shape), then
    # made fake: on a GPU the batch sits in device memory during the step
    real = run._collate(rows)
    batch = {key: mode.from_tensor(value) for key, value in real.items()}
    peaks: list[int] = []
    tracker = _tracker()
    tracker.track_external(loaded.model, optimizer, *batch.values())
    with _trainable_token_count(real["labels"]), mode, tracker:
        for _ in range(STEPS):  # the second step has the optimizer's moments from the start
            tracker.reset_mod_stats()  # per-module statistics only; the peak is kept
            autocast = (
                torch.autocast("cpu", dtype=loaded.compute_dtype) if mixed else contextlib.nullcontext()
            )
            with autocast:
                loss = run._loss(batch)
            peaks.append(_total(tracker, "peak"))
            loss.backward()
            peaks.append(_total(tracker, "peak"))
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            peaks.append(_total(tracker, "peak"))
    snap = next(iter(tracker.get_tracker_snapshot("peak").values()))
    return Measured(snap["Total"], {str(k).split(".")[-1]: v for k, v in snap.items() if k != "Total"}, peaks)


def _total(tracker: Any, kind: str) -> int:
    return next(iter(tracker.get_tracker_snapshot(kind).values()))["Total"]
