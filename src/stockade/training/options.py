"""LLaMA-Factory run options the loop does not see: checked and resolved before anything loads.

``resume_from_checkpoint`` is refused with advice, ``eval_dataset`` together with ``val_size`` too;
``output_dir`` (relative: from the current folder, core/paths.py) gets a copy of the final adapter;
``adapter_name_or_path`` (a run id, or a folder in dev mode) becomes the adapter training starts from,
recorded with its manifest hash in the lineage. ``report_to: tensorboard`` without the tensorboard
package is refused here, before the model loads.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError, DependencyMissing
from stockade.core.hashing import folder_manifest
from stockade.core.paths import resolved, user_path
from stockade.core.specs import TrainSpec
from stockade.training.checkpoint import write_folder_atomically


def output_dir_of(spec: TrainSpec) -> Path:
    """``output_dir`` by the one path rule (core/paths.py): relative to the current folder."""
    return user_path(spec.output_dir or "")


def prepare_spec(workspace: Any, spec: TrainSpec) -> tuple[TrainSpec, dict[str, Any] | None]:
    """Check the LLaMA-Factory run options before anything loads; resolve the starting adapter.

    Returns the spec with ``adapter_name_or_path`` as a folder, and that adapter's lineage (or None).
    """
    if spec.resume_from_checkpoint:
        raise ConfigError(
            "resume_from_checkpoint: Stockade resumes runs by id, from their own last checkpoint",
            where=f"train spec: resume_from_checkpoint: {spec.resume_from_checkpoint}",
            fix="run `stockade train --resume RUN_ID` (see `stockade runs list`) and drop the key",
        )
    if spec.report_to == "tensorboard":
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise DependencyMissing(
                "report_to: tensorboard needs the tensorboard package, which is not installed",
                where="train spec: report_to",
                fix="install it (pip install 'stockade[train]' from the offline wheelhouse), or set "
                "report_to: none (metrics.jsonl and loss.png stay in the run folder)",
            ) from None
    if spec.eval_dataset and spec.val_size:
        raise ConfigError(
            "eval_dataset and val_size both choose the held-out examples",
            where="train spec: eval_dataset / val_size",
            fix="keep one: eval_dataset (separate gated versions) or val_size (a split of dataset)",
        )
    if spec.output_dir:
        target = output_dir_of(spec)
        if target.exists() and not target.is_dir():
            raise ConfigError(
                f"output_dir {resolved(spec.output_dir)} is a file, not a folder",
                where="train spec: output_dir",
                fix="choose another output_dir (a relative path is taken from the current folder)",
            )
        if target.exists() and any(target.iterdir()) and not spec.overwrite_output_dir:
            raise ConfigError(
                f"output_dir {resolved(spec.output_dir)} exists and is not empty",
                where="train spec: output_dir",
                fix="choose another output_dir, or set overwrite_output_dir: true",
            )
        spec = spec.model_copy(update={"output_dir": str(target)})  # the run records where it went
    if not spec.adapter_name_or_path:
        return spec, None
    if spec.finetuning_type not in ("lora", "qlora"):
        raise ConfigError(
            f"adapter_name_or_path needs finetuning_type lora or qlora, not {spec.finetuning_type}",
            where="train spec: adapter_name_or_path",
            fix="remove adapter_name_or_path, or train LoRA",
        )
    source = spec.adapter_name_or_path
    from_run = workspace.folder("runs") / source / "adapter"
    if "/" not in source and from_run.is_dir():
        folder = from_run
    else:
        folder = user_path(source)
        if not workspace.settings.dev_mode:
            raise ConfigError(
                f"an adapter from a folder outside the workspace's runs needs dev mode: {resolved(source)}",
                where="train spec: adapter_name_or_path",
                fix="name a run id (stockade runs list), or set dev_mode: true in stockade.yaml",
            )
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(
            f"no adapter in {resolved(source) if folder != from_run else folder} "
            "(adapter_config.json missing)",
            where="train spec: adapter_name_or_path",
            fix="name a run id whose training finished (stockade runs list), or a PEFT adapter folder "
            "(a relative path is taken from the current folder)",
        )
    lineage = {"source": source, "path": str(folder), "manifest_sha256": folder_manifest(folder)["sha256"]}
    return spec.model_copy(update={"adapter_name_or_path": str(folder)}), lineage


def copy_atomically(source: Path, target: Path) -> None:
    """Copy the run's final adapter/model folder to ``target`` (a temporary sibling, then a rename)."""
    write_folder_atomically(target, lambda tmp: shutil.copytree(source, tmp))
