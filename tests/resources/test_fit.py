"""The fit check: a run that cannot fit is refused before any weight loads, with a change that fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.specs import TrainSpec
from stockade.resources import fit
from stockade.resources.estimate import GIB, estimate_training
from stockade.resources.plan import device_of, setup_for_spec
from stockade.resources.shape import read_shape
from tests.conftest import run_cli

SMALL_LLAMA = {
    "hidden_size": 1024,
    "intermediate_size": 2816,
    "num_hidden_layers": 8,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    from transformers import LlamaConfig

    LlamaConfig(**SMALL_LLAMA).save_pretrained(tmp_path)
    return tmp_path


def _spec(**changes: object) -> TrainSpec:
    keys = {"finetuning_type": "lora", "per_device_train_batch_size": 8, "cutoff_len": 2048}
    return TrainSpec(**{**keys, "gradient_checkpointing": False, **changes})


def _peak(spec: TrainSpec, model: Path) -> int:
    return estimate_training(read_shape(model), setup_for_spec(spec, model, device_of())).peak_device


def test_a_run_that_fits_passes_and_returns_its_estimate(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "available_memory", lambda device, rank=0: 10**15)
    estimate = fit.check_training_fit(_spec(), model)
    assert estimate is not None and estimate.peak_device == _peak(_spec(), model)


def test_too_big_is_refused_naming_peak_free_memory_and_a_change_that_fits(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec()
    free = _peak(_spec(gradient_checkpointing=True), model) + 2**20  # fits with recompute, not without
    monkeypatch.setattr(fit, "available_memory", lambda device, rank=0: free)
    with pytest.raises(fit.DoesNotFit) as caught:
        fit.check_training_fit(spec, model)
    error = caught.value
    assert f"{_peak(spec, model) / GIB:.2f} GiB" in error.what and f"{free / GIB:.2f} GiB" in error.what
    assert error.fix is not None and error.fix.startswith("gradient_checkpointing: true")
    assert "--force" in error.fix and error.exit_code == 3


def test_the_suggestion_is_the_first_change_that_fits(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    free = _peak(_spec(per_device_train_batch_size=2, gradient_checkpointing=True), model) + 2**20
    monkeypatch.setattr(fit, "available_memory", lambda device, rank=0: free)
    with pytest.raises(fit.DoesNotFit) as caught:
        fit.check_training_fit(_spec(), model)
    assert (caught.value.fix or "").startswith(
        "per_device_train_batch_size: 2 with gradient_accumulation_steps x4"
    )


def test_force_skips_the_refusal(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "available_memory", lambda device, rank=0: 1)
    assert fit.check_training_fit(_spec(), model, force=True) is not None
    with pytest.raises(fit.DoesNotFit, match="no single change fits"):
        fit.check_training_fit(_spec(), model)


def test_a_model_the_estimator_does_not_cover_is_not_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mixtral", "num_local_experts": 8}))
    monkeypatch.setattr(fit, "available_memory", lambda device, rank=0: 1)
    assert fit.check_training_fit(_spec(), tmp_path) is None


def test_a_lora_target_outside_the_layers_is_not_refused(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "available_memory", lambda device, rank=0: 1)
    assert fit.check_training_fit(_spec(lora_target="q_proj,lm_head"), model) is None


def test_available_ram_is_read_from_the_machine() -> None:
    assert 2**24 < fit.available_ram() < 2**50


@pytest.mark.slow
def test_stockade_train_refuses_before_loading_weights_and_force_overrides(tmp_path: Path) -> None:
    """A cutoff of a million tokens (a 4D mask of 10^12 entries a row) cannot fit this machine's RAM."""
    workspace = tmp_path / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    settings = workspace / "stockade.yaml"
    settings.write_text(settings.read_text().replace("dev_mode: false", "dev_mode: true"))
    model = tmp_path / "tiny"
    ws = ("-w", str(workspace))
    assert run_cli(*ws, "dev", "tiny-model", "--arch", "qwen2", "--out", str(model)).returncode == 0
    data = tmp_path / "finance.json"
    assert run_cli(*ws, "dev", "sample-dataset", "--out", str(data)).returncode == 0
    assert run_cli(*ws, "data", "import", str(data), "--name", "finance").returncode == 0
    args = [*ws, "train", "--model_name_or_path", str(model), "--dataset", "finance", "--template", "qwen"]
    args += ["--cutoff_len", "1000000", "--per_device_train_batch_size", "2", "--max_steps", "1"]

    refused = run_cli(*args, timeout=300)
    assert refused.returncode == 3, refused.stderr
    assert "the run needs an estimated" in refused.stderr and "of RAM available" in refused.stderr
    assert "cutoff_len:" in refused.stderr and "--force" in refused.stderr
    assert not list((workspace / "runs").glob("*"))  # no run, nothing loaded

    forced = run_cli(*args, "--force", timeout=600)
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert len(list((workspace / "runs").glob("*"))) == 1
