"""`stockade estimate`: the service's numbers, as a table or JSON; clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.resources.estimate import GIB, TrainingSetup, estimate_training
from stockade.resources.shape import read_shape
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import Qwen2Config

    folder = tmp_path_factory.mktemp("qwen")
    Qwen2Config(
        hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
    ).save_pretrained(folder)  # fmt: skip
    return folder


def test_json_breakdown_is_the_services_estimate(model: Path) -> None:
    result = run_cli(
        "estimate", "--model", str(model), "--method", "full", "--batch-size", "2", "--cutoff", "1024",
        "--gradient-checkpointing", "--gpus", "2", "--zero", "3", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    setup = TrainingSetup(
        method="full",
        batch_size=2,
        cutoff=1024,
        recompute=True,
        gpus=2,
        sharding="full",
        cross_entropy="full",
    )  # FSDP: the recipe takes the model's own loss (lm_head's weight is sharded)
    expected = estimate_training(read_shape(model), setup)
    assert data["peak_allocated_gib"] == round(expected.peak_allocated / GIB, 3)
    assert data["peak_device_gib"] == round(expected.peak_device / GIB, 3)
    assert {c["key"] for c in data["breakdown"]} >= {"weights", "optimizer_states", "cuda_context"}
    assert "peak_allocated_gib_without_recompute" in data


def test_table_serving_and_time(model: Path) -> None:
    table = run_cli(
        "estimate", "--model", str(model), "--dataset-tokens", "36000000", "--tokens-per-second", "5000"
    )
    assert table.returncode == 0, table.stderr
    assert "peak on the device" in table.stdout and "2.00 h" in table.stdout  # 36e6 / 5000 / 3600
    served = run_cli("estimate", "--model", str(model), "--serve", "--max-batch-size", "4", "--json")
    assert served.returncode == 0, served.stderr
    kv = {c["key"]: c["bytes"] for c in json.loads(served.stdout)["breakdown"]}["kv_cache"]
    assert kv == 2 * 24 * 2 * 64 * 2 * 4 * 4096  # keys+values, layers, kv heads x head dim, bf16, tokens


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "adamw8bit"], "optimizer adamw8bit is not run"),
        (["--quantization-bit", "8"], "loads only 4-bit"),
        (["--zero", "3"], "sharding needs several GPUs"),
        (["--serve", "--batch-size", "2"], "--batch-size do not apply to serving"),
        (["--max-len", "512"], "--max-len apply only with --serve"),
        (["--method", "full", "--quantization-bit", "4"], "trains only LoRA"),
    ],
)
def test_options_the_product_does_not_run_are_refused(model: Path, args: list[str], message: str) -> None:
    result = run_cli("estimate", "--model", str(model), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_folder_without_config_json(tmp_path: Path) -> None:
    result = run_cli("estimate", "--model", str(tmp_path))
    assert result.returncode == 2 and "no config.json" in result.stderr, result.stderr
