"""`stockade doctor --for CONFIG.yaml`: the estimator says whether this machine can run a training spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stockade.models.tiny import build_tiny_model

    return build_tiny_model("qwen2", tmp_path_factory.mktemp("doctor-for") / "qwen2").path


def _config(folder: Path, model: Path, cutoff: int, batch: int = 1) -> Path:
    path = folder / "finance_cfg.yaml"
    path.write_text(
        f"model_name_or_path: {model}\nstage: sft\nfinetuning_type: lora\ndataset: finance\n"
        f"template: qwen\ncutoff_len: {cutoff}\nper_device_train_batch_size: {batch}\n"
        "gradient_checkpointing: false\n",
        encoding="utf-8",
    )
    return path


def _row(stdout: str) -> dict:
    [row] = [check for check in json.loads(stdout) if check["group"] == "resources"]
    return row


def test_a_spec_that_fits_passes(workspace_dir: Path, tiny_model: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, tiny_model, cutoff=512)
    result = run_cli("-w", str(workspace_dir), "doctor", "--json", "--for", str(config))
    row = _row(result.stdout)
    assert row["status"] == "pass", row
    assert (
        "peak" in row["detail"] and "GiB of RAM available" in row["detail"] and "cutoff 512" in row["detail"]
    )
    plain = run_cli("-w", str(workspace_dir), "doctor")
    assert "resources" not in plain.stdout  # no row without --for


def test_a_spec_that_cannot_fit_fails_with_a_change_that_fits(
    workspace_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    # a cutoff of 2**22 tokens, 64 per batch: terabytes of activations on any machine
    config = _config(tmp_path, tiny_model, cutoff=2**22, batch=64)
    result = run_cli("-w", str(workspace_dir), "doctor", "--json", "--for", str(config))
    assert result.returncode == 1, result.stderr
    row = _row(result.stdout)
    assert row["status"] == "fail" and row["detail"].startswith("does not fit: peak"), row
    assert "cutoff 4194304" in row["detail"]
    assert row["fix"].startswith("set ") and "estimated" in row["fix"], row
    table = run_cli("-w", str(workspace_dir), "doctor", "--for", str(config))
    assert table.returncode == 1 and "does not fit" in table.stdout


def test_the_verdict_follows_the_free_memory(tiny_model: Path) -> None:
    from stockade.core.specs import TrainSpec
    from stockade.resources.estimate import GIB
    from stockade.workspace.doctor import check_training_spec

    spec = TrainSpec(
        model=str(tiny_model),
        dataset="finance",
        template="qwen",
        cutoff_len=1024,
        per_device_train_batch_size=8,
        gradient_checkpointing=False,
    )
    roomy = check_training_spec(spec, tiny_model, free=64 * GIB)
    assert roomy.status == "pass"
    peak = float(roomy.detail.split("peak ")[1].split(" GiB")[0]) * GIB
    tight = check_training_spec(spec, tiny_model, free=int(peak * 0.8))
    assert tight.status == "fail"
    assert "gradient_checkpointing: true" in tight.fix or "per_device_train_batch_size" in tight.fix


def test_an_unknown_model_is_a_failed_row(workspace_dir: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, tmp_path / "no-such-model", cutoff=512)
    result = run_cli("-w", str(workspace_dir), "doctor", "--json", "--for", str(config))
    row = _row(result.stdout)
    assert row["status"] == "fail" and "no-such-model" in row["detail"]
