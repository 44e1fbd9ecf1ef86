"""Checkpoints: ``run_dir/checkpoints/step-N/``, written atomically, the last :data:`KEEP` kept.

A checkpoint folder holds

* ``trainable.safetensors``: every trained parameter by name (the LoRA weights, the unfrozen layers, or
  the whole model for ``full``): what resume loads;
* ``adapter/``: for LoRA, the peft adapter (``save_pretrained``, safetensors), usable on its own;
* ``state.pt``: optimizer (its ``state_dict``; under FSDP the full, name-keyed one), scheduler, RNG
  states (torch, CUDA, python ``random``), the data-order state
  (epoch, position in it, the epoch's batch order) and the step;
* ``checkpoint.json``: step and a summary, human-readable.

Everything is written into ``checkpoints/.tmp-step-N`` and renamed to ``step-N`` only when complete, so a
process killed at any moment leaves either a whole checkpoint or a temp folder that is ignored (and
removed by the next run). :func:`latest_checkpoint` only ever sees complete ones.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stockade.storage.staging import crash_window
from stockade.training.model_setup import trainable_parameters

KEEP = 2
_STEP = re.compile(r"^step-(\d+)$")


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoints_dir(run_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def remove_stale_temp(run_dir: Path) -> None:
    """Remove half-written checkpoints a killed process left behind."""
    root = checkpoints_dir(run_dir)
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith(".tmp-") or path.name.startswith(".old-"):
                shutil.rmtree(path, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _py_state(random.getstate())}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _py_state(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def save_checkpoint(
    run_dir: Path,
    step: int,
    *,
    weights: dict[str, Any],
    training_state: dict[str, Any] | None,
    data: dict,
    write_adapter: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``step-N`` atomically, then keep only the last :data:`KEEP`. Returns the folder.

    ``weights``: the trained parameters by name, full tensors on the CPU. ``training_state``: optimizer
    and scheduler state (``{"optimizer": ..., "scheduler": ...}``), or None for ``save_only_model``
    checkpoints, which cannot be resumed. ``write_adapter`` writes the PEFT adapter into a folder.
    """
    import torch
    from safetensors.torch import save_file

    root = checkpoints_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    tmp = root / f".tmp-step-{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp / "trainable.safetensors"))
        crash_window("train.checkpoint")
        if write_adapter is not None:
            write_adapter(tmp / "adapter")
        state = {"step": step, "rng": rng_state(), "data": data, **(training_state or {})}
        torch.save(state, tmp / "state.pt")
        summary = {"step": step, "epoch": data.get("epoch"), "position": data.get("position")}
        (tmp / "checkpoint.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(tmp)
        if final.exists():  # a step re-reached after resuming from an older checkpoint
            old = root / f".old-step-{step}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for path in list_checkpoints(run_dir)[:-KEEP]:
        shutil.rmtree(path, ignore_errors=True)
    return final


def write_folder_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """``write`` fills a temporary sibling of ``target``, which then replaces ``target`` in one rename; a
    failure leaves ``target`` as it was and no temporary folder behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def load_checkpoint(path: Path, model: Any) -> dict:
    """Copy the trained weights of ``path`` into ``model`` (before any sharding) and return the saved state
    (step, data, RNG, and optimizer/scheduler unless it was a ``save_only_model`` checkpoint).

    The caller restores optimizer and scheduler (they are built after the model is wrapped for
    data-parallel training) and then the RNG with :func:`set_rng_state`.
    """
    import torch
    from safetensors.torch import load_file

    from stockade.training.loop_errors import TrainingFailed

    path = Path(path)
    if not (path / "state.pt").is_file() or not (path / "trainable.safetensors").is_file():
        raise TrainingFailed(
            "the checkpoint is incomplete or not a Stockade checkpoint",
            reason="bad_checkpoint",
            where=str(path),
            fix="resume from a complete run_dir/checkpoints/step-N folder",
        )
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    if "optimizer" not in state:
        raise TrainingFailed(
            "the checkpoint holds weights only (the run set save_only_model: true), so it cannot resume",
            reason="bad_checkpoint",
            where=str(path),
            fix="start a new run (use its adapter with adapter_name_or_path), or train with "
            "save_only_model: false to be able to resume",
        )
    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(trainable_parameters(model))
    if set(weights) != set(params):
        raise TrainingFailed(
            "the checkpoint's trained parameters do not match this run's model and finetuning_type",
            reason="bad_checkpoint",
            where=str(path),
            fix="resume with the same model and spec as the interrupted run",
        )
    with torch.no_grad():
        for name, parameter in params.items():
            parameter.copy_(weights[name].to(parameter.device, parameter.dtype))
    return state
