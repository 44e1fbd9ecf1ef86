"""`deepspeed: FILE` mapped onto DDP/FSDP2 (stockade.training.zero), on LLaMA-Factory's own ZeRO files.

LLaMA-Factory's ds_z0/z2/z2_offload/z3/z3_offload configs ship in tests/fixtures/llamafactory/deepspeed
(Apache-2.0). Each maps to one engine; "auto" values are filled in from the spec; a number that
disagrees with the spec, or a key that would change the run and has no counterpart, is refused by name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError, StockadeError
from stockade.core.specs.train import TrainSpec
from stockade.training import zero
from stockade.training.distributed import DistContext, check_engine, from_environment, wrap_model
from stockade.training.launch import build_launch_command, shipped_config
from stockade.training.zero import plan_zero
from tests.conftest import FIXTURES, LLAMAFACTORY_CONFIGS

DEEPSPEED = FIXTURES / "llamafactory" / "deepspeed"
LF_Z3 = json.loads((DEEPSPEED / "ds_z3_config.json").read_text())


def spec(file: Path | str, **values: object) -> TrainSpec:
    return TrainSpec.model_validate({"deepspeed": str(file), **values})


def write(tmp_path: Path, config: dict, name: str = "ds.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def z3(**changes: object) -> dict:
    """LLaMA-Factory's ds_z3_config.json with top-level ``changes`` (None removes a key)."""
    config = json.loads(json.dumps(LF_Z3))
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


@pytest.mark.parametrize(
    ("name", "stage", "engine", "fsdp", "reshard", "offload"),
    [
        ("ds_z0_config.json", 0, "DDP", False, None, False),
        ("ds_z2_config.json", 2, "FSDP2 SHARD_GRAD_OP", True, False, False),
        ("ds_z2_offload_config.json", 2, "FSDP2 SHARD_GRAD_OP", True, False, True),
        ("ds_z3_config.json", 3, "FSDP2 FULL_SHARD", True, True, False),
        ("ds_z3_offload_config.json", 3, "FSDP2 FULL_SHARD", True, True, True),
    ],
)
def test_llamafactory_zero_files_map_to_an_engine(
    name: str, stage: int, engine: str, fsdp: bool, reshard: bool | None, offload: bool, monkeypatch
) -> None:
    monkeypatch.setattr(zero, "_installed", lambda _: None)
    plan = plan_zero(spec(DEEPSPEED / name), 2, cuda=False)
    assert (plan.stage, plan.engine, plan.fsdp, plan.cpu_offload) == (stage, engine, fsdp, offload)
    if reshard is not None:
        assert plan.reshard_after_forward is reshard
    target = engine + (" + CPUOffloadPolicy" if offload else "")
    assert plan.line().startswith(f"deepspeed {name} -> {target} (DeepSpeed is not installed")
    facts = plan.facts()
    assert facts["sha256"] == hashlib.sha256((DEEPSPEED / name).read_bytes()).hexdigest()
    assert facts["file"] == str(DEEPSPEED / name) and facts["zero_stage"] == stage
    # DeepSpeed's bucket/prefetch knobs have no FSDP2 counterpart: named in the lineage, and the line says so
    assert "zero_optimization.contiguous_gradients" in facts["not_applied"]
    assert f"{len(plan.not_applied)} DeepSpeed tuning keys not applied" in plan.line()


def test_the_deepspeed_context_reaches_the_loop(monkeypatch) -> None:
    """from_environment(spec) under a 2-rank launch: the DistContext the loop wraps the model with."""
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    dist = from_environment(spec(DEEPSPEED / "ds_z3_offload_config.json"))
    assert (dist.rank, dist.world_size, dist.fsdp, dist.reshard_after_forward, dist.cpu_offload) == (
        1,
        2,
        True,
        True,
        True,
    )
    assert dist.zero is not None and dist.zero.stage == 3
    two = from_environment(spec(DEEPSPEED / "ds_z2_config.json"))
    assert (two.fsdp, two.reshard_after_forward, two.cpu_offload) == (True, False, False)
    ddp = from_environment(spec(DEEPSPEED / "ds_z0_config.json"))
    assert not ddp.fsdp and ddp.zero is not None
    assert from_environment(TrainSpec()).zero is None


def test_one_process_has_nothing_to_shard(monkeypatch) -> None:
    plan = plan_zero(spec(DEEPSPEED / "ds_z3_offload_config.json"), 1, cuda=False)
    assert (plan.engine, plan.fsdp, plan.cpu_offload) == ("one process", False, False)
    assert "nothing to shard" in plan.line()


def test_zero_1_is_ddp_and_says_so(tmp_path: Path) -> None:
    config = z3(zero_optimization={"stage": 1})
    plan = plan_zero(spec(write(tmp_path, config)), 2, cuda=False)
    assert (plan.engine, plan.fsdp) == ("DDP", False)
    assert "optimizer-state sharding is not done" in plan.line()


def test_the_line_names_an_installed_deepspeed(monkeypatch) -> None:
    monkeypatch.setattr(zero, "_installed", lambda _: "0.19.8")
    line = plan_zero(spec(DEEPSPEED / "ds_z3_config.json"), 2, cuda=False).line()
    assert "DeepSpeed 0.19.8 is installed; Stockade's loop runs PyTorch's engines" in line


def test_auto_values_come_from_the_spec() -> None:
    values = spec(
        DEEPSPEED / "ds_z3_config.json", per_device_train_batch_size=2, gradient_accumulation_steps=3
    )
    plan = plan_zero(values, 4, cuda=False)
    assert plan.resolved == {
        "train_micro_batch_size_per_gpu": 2,
        "gradient_accumulation_steps": 3,
        "train_batch_size": 24,
        "gradient_clipping": 1.0,
        "bf16.enabled": False,  # fp32 on CPU
        "fp16.enabled": False,
    }
    on_gpu = plan_zero(spec(DEEPSPEED / "ds_z3_config.json", bf16=True), 2, cuda=True)
    assert on_gpu.resolved["bf16.enabled"] is True and on_gpu.resolved["fp16.enabled"] is False
    # LLaMA-Factory's offload files ask for pinned memory: only where a GPU is (PyTorch refuses it on CPU)
    offload = DEEPSPEED / "ds_z3_offload_config.json"
    assert plan_zero(spec(offload, bf16=True), 2, cuda=True).pin_memory
    assert not plan_zero(spec(offload), 2, cuda=False).pin_memory


def test_numbers_that_agree_with_the_spec_are_accepted(tmp_path: Path) -> None:
    config = z3(train_micro_batch_size_per_gpu=4, gradient_accumulation_steps=2, train_batch_size=16)
    plan = plan_zero(spec(write(tmp_path, config), gradient_accumulation_steps=2), 2, cuda=False)
    assert plan.resolved["train_batch_size"] == 16


@pytest.mark.parametrize(
    ("changes", "values", "key"),
    [
        ({"train_micro_batch_size_per_gpu": 8}, {}, "train_micro_batch_size_per_gpu"),
        ({"gradient_accumulation_steps": 4}, {}, "gradient_accumulation_steps"),
        ({"train_batch_size": 4}, {}, "train_batch_size"),  # 4 per rank x 2 ranks is 8
        ({"gradient_clipping": 0.5}, {}, "gradient_clipping"),
        ({"bf16": {"enabled": True}}, {}, "bf16.enabled"),  # fp32 on CPU
        ({"fp16": {"enabled": False}}, {"precision": "fp16"}, "fp16.enabled"),
    ],
)
def test_contradictions_with_the_spec_are_refused_by_key(
    tmp_path: Path, changes: dict, values: dict, key: str
) -> None:
    path = write(tmp_path, z3(**changes))
    with pytest.raises(ConfigError) as refused:
        plan_zero(spec(path, **values), 2, cuda=False)
    assert f"{path}: {key}" in str(refused.value)
    assert "auto" in (refused.value.fix or "") or "precision" in (refused.value.fix or "")


def test_fp16_loss_scaler_keys_must_match_the_loops_scaler(tmp_path: Path) -> None:
    """LLaMA-Factory's fp16 section is inert when fp16 is off; with fp16 on, a window of 1000 steps
    and hysteresis are not what the loop's GradScaler does: refused by name."""
    path = write(tmp_path, z3())
    assert plan_zero(spec(path), 2, cuda=False).resolved["fp16.enabled"] is False
    with pytest.raises(ConfigError, match="GradScaler") as refused:
        plan_zero(spec(path, precision="fp16"), 2, cuda=True)
    assert f"{path}: fp16.loss_scale_window" in str(refused.value)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (z3(optimizer={"type": "AdamW", "params": {"lr": 1e-3}}), "optimizer"),
        (z3(scheduler={"type": "WarmupLR"}), "scheduler"),
        (z3(activation_checkpointing={"partition_activations": True}), "activation_checkpointing"),
        (z3(prescale_gradients=True), "prescale_gradients"),
        (z3(zero_allow_untested_optimizer=False), "zero_allow_untested_optimizer"),
        (z3(bf16={"enabled": "auto", "immediate_grad_update": True}), "bf16.immediate_grad_update"),
        (
            z3(zero_optimization={"stage": 3, "stage3_gather_16bit_weights_on_model_save": False}),
            "zero_optimization.stage3_gather_16bit_weights_on_model_save",
        ),
        (
            z3(zero_optimization={"stage": 3, "zero_hpz_partition_size": 8}),
            "zero_optimization.zero_hpz_partition_size",
        ),
        (
            z3(zero_optimization={"stage": 2, "offload_optimizer": {"device": "cpu", "ratio": 0.3}}),
            "zero_optimization.offload_optimizer.ratio",
        ),
        (
            z3(zero_optimization={"stage": 1, "offload_optimizer": {"device": "cpu"}}),
            "zero_optimization.offload_optimizer",
        ),
    ],
)
def test_keys_without_a_counterpart_are_refused_by_name(tmp_path: Path, config: dict, key: str) -> None:
    path = write(tmp_path, config)
    with pytest.raises(ConfigError) as refused:
        plan_zero(spec(path), 2, cuda=False)
    assert f"{path}: {key}" in str(refused.value)


def test_qlora_cannot_be_sharded_by_a_zero_file() -> None:
    with pytest.raises(ConfigError, match="4-bit"):
        plan_zero(spec(DEEPSPEED / "ds_z3_config.json", finetuning_type="qlora"), 2, cuda=False)
    assert (
        plan_zero(spec(DEEPSPEED / "ds_z0_config.json", finetuning_type="qlora"), 2, cuda=False).engine
        == "DDP"
    )


def test_the_file_is_found_from_the_current_folder_and_hashed(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "configs").mkdir()
    data = (DEEPSPEED / "ds_z2_config.json").read_bytes()
    (tmp_path / "configs" / "ds.json").write_bytes(data)
    monkeypatch.chdir(tmp_path)
    plan = plan_zero(spec("configs/ds.json"), 2, cuda=False)
    assert plan.path == str(tmp_path / "configs" / "ds.json")
    assert plan.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(ConfigError, match="cannot read the DeepSpeed config") as missing:
        plan_zero(spec("ds_z9.json"), 2, cuda=False)
    assert str(tmp_path / "ds_z9.json") in str(missing.value)


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "zero_optimization": {"stage": 3},\n}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        plan_zero(spec(path), 2, cuda=False)
    message = str(refused.value)
    assert str(path) in message and "line 3, column 1" in message


@pytest.mark.parametrize(("reshard", "offload"), [(False, True), (True, False), (True, True)])
def test_wrap_model_shards_and_offloads_as_the_context_says(
    tmp_path: Path, reshard: bool, offload: bool
) -> None:
    """The effect of the mapping on the model: FSDP2 resharding after the forward pass (ZeRO-3) or not
    (ZeRO-2), and CPUOffloadPolicy for offload_* (a one-process gloo group on a file store: no socket)."""
    import torch
    import torch.distributed as td
    from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard

    class Toy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)])

        def forward(self, x):
            return self.layers[1](self.layers[0](x))

    td.init_process_group("gloo", store=td.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        context = DistContext(0, 2, 0, fsdp=True, reshard_after_forward=reshard, cpu_offload=offload)
        model = wrap_model(context, Toy(), torch.device("cpu"))
        group = fully_shard.state(model.layers[0])._fsdp_param_group
        assert isinstance(group.offload_policy, CPUOffloadPolicy) is offload
        assert (group.post_forward_mesh_info is not None) is reshard
        model(torch.ones(2, 4)).sum().backward()  # and it trains
        assert model.layers[0].weight.grad is not None
    finally:
        td.destroy_process_group()


def test_accelerate_deepspeed_with_the_file_in_the_spec_is_accepted(monkeypatch) -> None:
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    check_engine(str(DEEPSPEED / "ds_z3_config.json"), "lora")
    with pytest.raises(ConfigError, match="must be named in the train spec"):
        check_engine(None, "lora")


def test_launch_passes_the_file_to_the_trainer_not_to_accelerates_deepspeed() -> None:
    command = build_launch_command(
        TrainSpec(), config_path=Path("t.yaml"), nproc_per_node=2, launcher="accelerate", strategy="deepspeed"
    )
    assert "--use_deepspeed" not in command and "--multi_gpu" in command
    assert command[-6:] == ["-m", "stockade", "train", "t.yaml", "--deepspeed", str(shipped_config("ds_z2"))]


def test_the_z3_fixture_is_the_one_llamafactory_configs_ships() -> None:
    assert (DEEPSPEED / "ds_z3_config.json").read_bytes() == (
        LLAMAFACTORY_CONFIGS / "ds_z3_config.json"
    ).read_bytes()
    assert "Apache License" in (DEEPSPEED / "LICENSE-llamafactory-apache-2.0").read_text(encoding="utf-8")


def test_resume_refuses_a_changed_deepspeed_file(tmp_path: Path) -> None:
    """The file's SHA-256 is in the run's lineage; `--resume` maps the file again and compares."""
    from stockade.training.service import LINEAGE_FILE, _check_same_deepspeed_file

    path = write(tmp_path, z3())
    plan = plan_zero(spec(path), 2, cuda=False)
    (tmp_path / LINEAGE_FILE).write_text(json.dumps({"deepspeed": plan.facts()}), encoding="utf-8")
    _check_same_deepspeed_file(tmp_path, DistContext(0, 2, 0, fsdp=True, zero=plan))  # unchanged: fine
    write(tmp_path, z3(steps_per_print=10))
    changed = plan_zero(spec(path), 2, cuda=False)
    with pytest.raises(StockadeError, match="changed since the run started"):
        _check_same_deepspeed_file(tmp_path, DistContext(0, 2, 0, fsdp=True, zero=changed))
