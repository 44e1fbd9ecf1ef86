"""LLaMA-Factory run options checked before anything loads (stockade.training.options)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from stockade.core.errors import ConfigError
from stockade.core.specs.train import TrainSpec
from stockade.training.options import copy_atomically, prepare_spec


def _workspace(root: Path, dev_mode: bool = False) -> SimpleNamespace:
    (root / "runs").mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(
        root=root, folder=lambda name: root / name, settings=SimpleNamespace(dev_mode=dev_mode)
    )


def _spec(**keys: object) -> TrainSpec:
    return TrainSpec.model_validate({"model_name_or_path": "m", "dataset": "d", **keys})


def _adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


@pytest.mark.parametrize(
    ("keys", "message", "fix"),
    [
        ({"resume_from_checkpoint": "saves/x/checkpoint-100"}, "resumes runs by id", "--resume RUN_ID"),
        ({"eval_dataset": "held@v1", "val_size": 0.1}, "both choose the held-out", "keep one"),
        ({"adapter_name_or_path": "run-x", "finetuning_type": "full"}, "needs finetuning_type lora", "LoRA"),
        ({"adapter_name_or_path": "run-missing"}, "outside the workspace's runs needs dev mode", "run id"),
    ],
)
def test_refused_with_advice(keys, message, fix, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        prepare_spec(_workspace(tmp_path), _spec(**keys))
    assert fix in refused.value.fix


def test_adapter_from_a_run_id_is_resolved_and_hashed(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    folder = _adapter(tmp_path / "runs" / "run-1" / "adapter")
    spec, lineage = prepare_spec(workspace, _spec(adapter_name_or_path="run-1"))
    assert spec.adapter_name_or_path == str(folder)
    assert lineage["source"] == "run-1" and len(lineage["manifest_sha256"]) == 64


def test_adapter_folder_needs_dev_mode_and_an_adapter(tmp_path: Path) -> None:
    folder = _adapter(tmp_path / "elsewhere" / "adapter")
    with pytest.raises(ConfigError, match="dev mode"):
        prepare_spec(_workspace(tmp_path / "ws"), _spec(adapter_name_or_path=str(folder)))
    spec, _ = prepare_spec(
        _workspace(tmp_path / "ws", dev_mode=True), _spec(adapter_name_or_path=str(folder))
    )
    assert spec.adapter_name_or_path == str(folder)
    with pytest.raises(ConfigError, match=r"adapter_config\.json missing"):
        prepare_spec(_workspace(tmp_path / "ws", dev_mode=True), _spec(adapter_name_or_path=str(tmp_path)))


def test_output_dir_refuses_a_non_empty_folder_unless_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = _workspace(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "saves" / "sft").mkdir(parents=True)
    (tmp_path / "saves" / "sft" / "old.bin").write_text("x")
    with pytest.raises(ConfigError, match="not empty") as refused:
        prepare_spec(workspace, _spec(output_dir="saves/sft"))
    assert f"resolved to {tmp_path / 'saves' / 'sft'}" in refused.value.what
    prepare_spec(workspace, _spec(output_dir="saves/sft", overwrite_output_dir=True))
    source = _adapter(tmp_path / "runs" / "run-2" / "adapter")
    copy_atomically(source, tmp_path / "saves" / "sft")
    assert sorted(p.name for p in (tmp_path / "saves" / "sft").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]


def test_eval_steps_alone_means_the_steps_strategy() -> None:
    assert _spec(eval_steps=5).eval_strategy == "steps"
    assert _spec().eval_strategy == "no"


def test_relative_paths_are_taken_from_the_current_folder_not_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = _workspace(tmp_path / "ws", dev_mode=True)
    here = tmp_path / "deploy"
    here.mkdir()
    monkeypatch.chdir(here)
    _adapter(tmp_path / "ws" / "saves" / "lora")  # only the workspace has it: not used
    with pytest.raises(ConfigError, match=r"adapter_config\.json missing") as refused:
        prepare_spec(workspace, _spec(adapter_name_or_path="saves/lora"))
    assert f"resolved to {here / 'saves' / 'lora'}" in refused.value.what
    _adapter(here / "saves" / "lora")
    spec, lineage = prepare_spec(workspace, _spec(adapter_name_or_path="saves/lora", output_dir="out/sft"))
    assert spec.adapter_name_or_path == str(here / "saves" / "lora") == lineage["path"]
    assert spec.output_dir == str(here / "out" / "sft")  # the run records the absolute path
