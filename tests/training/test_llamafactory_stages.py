"""LLaMA-Factory's pre-training, DPO and KTO example configs (examples/train_lora/qwen3_lora_{pretrain,
dpo,kto}.yaml, unmodified in tests/fixtures/llamafactory/stages) train through `stockade train` on a
tiny local model, their data imported through the privacy gate with `--dataset-dir`; each run's metric
moves the right way.

Every key comes from the YAML, the examples' learning rate (5e-6) and bf16 switch included (on CPU the
weights stay fp32, so such small updates are not lost to rounding). The command line changes only the
model (model_name_or_path) and the size of the run (max_steps, max_samples, cutoff_len,
gradient_accumulation_steps: seconds on CPU, not hours).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, SHARED_FIXTURES, run_cli

STAGES = FIXTURES / "llamafactory" / "stages"
DATA = {
    "c4_demo": "c4_demo.jsonl",
    "dpo_en_demo": "dpo_en_demo.json",
    "dpo_zh_demo": "dpo_zh_demo.json",
    "kto_en_demo": "kto_en_demo.json",
}
SIZE = [
    "--max_steps",
    "4",
    "--cutoff_len",
    "256",
    "--gradient_accumulation_steps",
    "2",
]


def _records(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()] if path.suffix == ".jsonl" else json.loads(text)


def test_the_trimmed_data_is_the_first_records_of_llamafactorys_files() -> None:
    assert "Apache License" in (STAGES / "LICENSE-llamafactory-apache-2.0").read_text(encoding="utf-8")
    original = SHARED_FIXTURES / "llamafactory-data"
    if not original.is_dir():
        pytest.skip(f"no {original} beside the checkout to compare with")
    info = json.loads((original / "dataset_info.json").read_text(encoding="utf-8"))
    assert json.loads((STAGES / "dataset_info.json").read_text(encoding="utf-8")) == {
        n: info[n] for n in DATA
    }
    for name in DATA.values():
        trimmed = _records(STAGES / name)
        assert trimmed == _records(original / name)[: len(trimmed)] and len(trimmed) >= 12
    for config in STAGES.glob("*.yaml"):
        assert config.read_bytes() == (SHARED_FIXTURES / "llamafactory-configs" / config.name).read_bytes()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("lf-stages")
    workspace = root / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    settings = workspace / "stockade.yaml"
    settings.write_text(settings.read_text().replace("dev_mode: false", "dev_mode: true"))
    model = workspace / "models" / "tiny-qwen3"
    built = run_cli("-w", str(workspace), "dev", "tiny-model", "--arch", "qwen3", "--out", str(model))
    assert built.returncode == 0, built.stderr
    imported = run_cli(
        "-w",
        str(workspace),
        "data",
        "import",
        "--dataset-dir",
        str(STAGES),
        "--dataset",
        "c4_demo,dpo_en_demo,kto_en_demo",
    )
    assert imported.returncode == 0, imported.stderr
    return {"root": root, "workspace": workspace, "model": model}


def _train(setup: dict, stage: str, *extra: str) -> tuple[list[dict], list[dict], dict]:
    config = STAGES / f"train_lora_qwen3_lora_{stage}.yaml"
    result = run_cli(
        "-w",
        str(setup["workspace"]),
        "train",
        str(config),
        "--model_name_or_path",
        str(setup["model"]),
        *SIZE,
        *extra,
        "--json-progress",
        cwd=setup["root"],
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    run_dir = setup["workspace"] / "runs" / events[0]["run"]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    lineage = json.loads((run_dir / "lineage.json").read_text())
    spec = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert lineage["stage"] == spec["stage"]
    assert (
        setup["root"] / spec["output_dir"] / "adapter_model.safetensors"
    ).is_file()  # the YAML's output_dir
    return [e for e in events if e["event"] == "progress"], metrics, lineage


@pytest.mark.slow
def test_pretrain_config_trains_and_its_loss_falls(workspace: dict) -> None:
    steps, _, lineage = _train(workspace, "pretrain", "--max_samples", "4")
    assert lineage["datasets"][0]["ref"] == "c4_demo@v1" and "stage pt" in lineage["recipe"]["recipe.packing"]
    losses = [e["loss"] for e in steps]
    assert len(losses) == 4 and losses[-1] < losses[0], losses


@pytest.mark.slow
def test_dpo_config_trains_and_its_margin_rises(workspace: dict) -> None:
    steps, metrics, _ = _train(workspace, "dpo", "--max_samples", "4")
    assert steps[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)  # policy == reference at the start
    assert steps[-1]["loss"] < math.log(2)
    final = metrics[-1]
    assert final["rewards/margins"] > 0 and final["rewards/chosen"] > final["rewards/rejected"]
    assert {"rewards/accuracies", "rewards/chosen", "rewards/rejected"} <= set(final)


@pytest.mark.slow
def test_kto_config_trains_and_desirable_rewards_rise_above_undesirable(workspace: dict) -> None:
    steps, metrics, _ = _train(workspace, "kto", "--max_samples", "8")  # the first 8 hold both tags
    assert steps[0]["loss"] == pytest.approx(0.5, abs=1e-4)  # 1 - sigmoid(0) while policy == reference
    # (the loss itself is no gauge later: the KL estimate it subtracts grows as the policy moves)
    final = metrics[-1]  # the window's means from step 1, where every reward is 0
    assert final["rewards/chosen"] > final["rewards/rejected"] and final["rewards/margins"] > 0
    assert final["kl"] >= 0


@pytest.mark.slow
def test_a_dataset_of_another_kind_is_refused_before_loading(workspace: dict) -> None:
    for stage, dataset, holds in (
        ("sft", "c4_demo", "holds plain text (continued pre-training); stage sft trains on conversations"),
        (
            "dpo",
            "kto_en_demo",
            "holds answers tagged desirable or not (kto_tag); stage dpo trains on preference",
        ),
        ("pt", "dpo_en_demo", "holds preference pairs, chosen/rejected; stage pt trains on plain text"),
    ):
        result = run_cli(
            "-w", str(workspace["workspace"]), "train", "--model_name_or_path", str(workspace["model"]),
            "--dataset", dataset, "--stage", stage, "--dry-run",
        )  # fmt: skip
        assert result.returncode != 0
        assert f"{dataset}@v1 {holds}" in " ".join(result.stderr.split()), result.stderr
