"""Launch commands for torchrun/accelerate, DeepSpeed config checks, and a real 2-process DDP step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.core.specs.train import TrainSpec
from stockade.training.launch import (
    SHIPPED_CONFIGS,
    build_launch_command,
    shipped_config,
    validate_deepspeed_config,
)
from tests.conftest import LLAMAFACTORY_CONFIGS

CONFIG = Path("train.yaml")


def spec(**values: object) -> TrainSpec:
    return TrainSpec.model_validate(values)


def write(tmp_path: Path, config: object, name: str = "ds.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_torchrun_ddp_command() -> None:
    command = build_launch_command(spec(), config_path=CONFIG, nproc_per_node=8, strategy="ddp")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert flag(command, "--nproc_per_node") == "8"
    assert flag(command, "--nnodes") == "1"
    assert flag(command, "--node_rank") == "0"
    assert flag(command, "--master_addr") == "127.0.0.1"
    assert flag(command, "--master_port") == "29500"
    assert command[-4:] == ["-m", "stockade", "train", "train.yaml"]


def test_torchrun_deepspeed_uses_shipped_config_when_spec_has_none() -> None:
    command = build_launch_command(spec(), config_path=CONFIG, nproc_per_node=2, strategy="deepspeed")
    assert command[-6:-2] == ["-m", "stockade", "train", "train.yaml"]
    assert command[-2] == "--deepspeed"
    assert Path(command[-1]) == shipped_config("ds_z2")
    full = build_launch_command(
        spec(finetuning_type="full"), config_path=CONFIG, nproc_per_node=2, strategy="deepspeed"
    )
    assert Path(full[-1]) == shipped_config("ds_z3")


def test_torchrun_deepspeed_from_spec_is_read_by_the_trainer() -> None:
    ds = LLAMAFACTORY_CONFIGS / "ds_z3_config.json"
    command = build_launch_command(
        spec(deepspeed=str(ds)), config_path=CONFIG, nproc_per_node=4, strategy="deepspeed"
    )
    assert "--deepspeed" not in command  # the spec already names it
    assert command[-4:] == ["-m", "stockade", "train", "train.yaml"]


def test_accelerate_deepspeed_multinode() -> None:
    ds = LLAMAFACTORY_CONFIGS / "ds_z3_config.json"
    command = build_launch_command(
        spec(deepspeed=str(ds), bf16=True),
        config_path=CONFIG,
        nproc_per_node=8,
        nnodes=2,
        node_rank=1,
        master_addr="10.1.2.3",
        master_port=29600,
        launcher="accelerate",
        strategy="deepspeed",
    )
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert flag(command, "--num_processes") == "16"
    assert flag(command, "--num_machines") == "2"
    assert flag(command, "--machine_rank") == "1"
    assert flag(command, "--main_process_ip") == "10.1.2.3"
    assert flag(command, "--main_process_port") == "29600"
    assert flag(command, "--mixed_precision") == "bf16"
    assert "--use_deepspeed" not in command  # the trainer maps the spec's file (stockade.training.zero)
    assert "--multi_gpu" in command
    assert command[-4:] == ["-m", "stockade", "train", "train.yaml"]


def test_accelerate_fsdp_and_ddp() -> None:
    fsdp = build_launch_command(
        spec(), config_path=CONFIG, nproc_per_node=4, launcher="accelerate", strategy="fsdp"
    )
    assert "--use_fsdp" in fsdp
    assert flag(fsdp, "--fsdp_sharding_strategy") == "FULL_SHARD"
    ddp = build_launch_command(
        spec(), config_path=CONFIG, nproc_per_node=4, launcher="accelerate", strategy="ddp"
    )
    assert "--multi_gpu" in ddp
    assert "--use_fsdp" not in ddp


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "fsdp"}, "FSDP is launched with accelerate"),
        ({"strategy": "ddp", "nproc_per_node": 0}, "nproc_per_node"),
        ({"strategy": "ddp", "nnodes": 2, "node_rank": 2}, "node_rank 2"),
        ({"strategy": "ddp", "master_port": 70000}, "master_port"),
        ({"strategy": "ddp", "nnodes": 2, "master_addr": "localhost"}, "loopback"),
    ],
)
def test_invalid_topologies(kwargs: dict, message: str) -> None:
    values = {"nproc_per_node": 2, **kwargs}
    with pytest.raises(ConfigError, match=message):
        build_launch_command(spec(), config_path=CONFIG, **values)


def test_deepspeed_in_spec_contradicts_ddp() -> None:
    with pytest.raises(ConfigError, match="strategy is ddp"):
        build_launch_command(
            spec(deepspeed=str(shipped_config("ds_z2"))), config_path=CONFIG, nproc_per_node=2, strategy="ddp"
        )


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_are_valid(name: str) -> None:
    config = validate_deepspeed_config(shipped_config(name))
    assert config["zero_optimization"]["stage"] in (2, 3)


def test_llamafactory_config_with_auto_values_is_accepted() -> None:
    config = validate_deepspeed_config(LLAMAFACTORY_CONFIGS / "ds_z3_config.json")
    assert config["train_micro_batch_size_per_gpu"] == "auto"


@pytest.mark.parametrize(
    ("zero", "extra", "key"),
    [
        ({"stage": 4}, {}, "zero_optimization.stage"),
        ({"stage": "3"}, {}, "zero_optimization.stage"),
        ({"stage": 3, "offload_param": {"device": "nvme"}}, {}, "zero_optimization.offload_param.device"),
        (
            {"stage": 2, "offload_optimizer": {"device": "gpu"}},
            {},
            "zero_optimization.offload_optimizer.device",
        ),
        ({"stage": 2, "offload_param": {"device": "cpu"}}, {}, "zero_optimization.offload_param"),
        ({"stage": 2}, {"train_micro_batch_size_per_gpu": "many"}, "train_micro_batch_size_per_gpu"),
        ({"stage": 2}, {"bf16": {"enabled": "yes"}}, "bf16.enabled"),
        ({"stage": 2}, {"wandb": {"enabled": True}}, "wandb.enabled"),
    ],
)
def test_bad_deepspeed_configs_name_file_and_key(tmp_path: Path, zero: dict, extra: dict, key: str) -> None:
    path = write(tmp_path, {"zero_optimization": zero, **extra})
    with pytest.raises(ConfigError) as caught:
        validate_deepspeed_config(path)
    assert f"{path}: {key}" in str(caught.value)


def test_unreadable_and_malformed_deepspeed_configs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        validate_deepspeed_config(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"zero_optimization": {"stage": 2},}')
    with pytest.raises(ConfigError, match="not valid JSON") as caught:
        validate_deepspeed_config(broken)
    assert str(broken) in str(caught.value)
    with pytest.raises(ConfigError, match="DeepSpeed config"):
        build_launch_command(
            spec(deepspeed=str(broken)), config_path=CONFIG, nproc_per_node=2, strategy="deepspeed"
        )


def test_offload_cpu_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "zero_optimization": {
                "stage": 3,
                "offload_optimizer": {"device": "cpu"},
                "offload_param": {"device": "none"},
            }
        },
    )
    assert validate_deepspeed_config(path)["zero_optimization"]["stage"] == 3


@pytest.mark.slow
def test_two_process_gloo_ddp_step_syncs_lora_weights(tmp_path: Path) -> None:
    from stockade.models.tiny import build_tiny_model
    from stockade.training.ddp_check import run_ddp_check

    model_dir = tmp_path / "tiny-qwen2"
    build_tiny_model("qwen2", model_dir)
    result = run_ddp_check(model_dir, world_size=2)

    ranks = result["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["offline_guard"] for r in ranks)
    # each rank drew its own adapters; DDP broadcast rank 0's on wrapping
    assert ranks[0]["lora_sha256_before_wrap"] != ranks[1]["lora_sha256_before_wrap"]
    assert result["broadcast_synced"]
    # different shards, yet all-reduced gradients and bit-identical weights after the step
    assert result["different_data"]
    assert result["identical_gradients"]
    assert result["identical_after_step"]
    assert result["changed_by_step"]
    assert ranks[0]["lora_sum_after"] == ranks[1]["lora_sum_after"]
