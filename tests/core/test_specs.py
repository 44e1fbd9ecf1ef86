"""Config as data: YAML specs, LLaMA-Factory keys, unknown keys with suggestions, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.core.settings import Settings
from stockade.core.specs import ExportSpec, ServeSpec, TrainSpec, load_spec, parse_overrides
from tests.conftest import LLAMAFACTORY_CONFIGS

FIXTURE_SPECS = [
    ("train_lora_qwen3_lora_sft.yaml", TrainSpec),
    ("train_lora_qwen3_lora_sft_ds3.yaml", TrainSpec),
    ("inference_qwen3_lora_sft.yaml", ServeSpec),
    ("merge_lora_qwen3_lora_sft.yaml", ExportSpec),
]


@pytest.mark.parametrize(("name", "spec"), FIXTURE_SPECS)
def test_llamafactory_examples_load(name: str, spec: type) -> None:
    loaded = load_spec(spec, LLAMAFACTORY_CONFIGS / name)
    assert loaded.model == "Qwen/Qwen3-4B-Instruct-2507"
    assert loaded.template == "qwen3_nothink"


def test_llamafactory_train_values_map_to_fields() -> None:
    spec = load_spec(TrainSpec, LLAMAFACTORY_CONFIGS / "train_lora_qwen3_lora_sft.yaml")
    assert spec.dataset == ["identity", "alpaca_en_demo"]
    assert spec.lora_target == ["all"]
    assert spec.lora_rank == 8 and spec.lora_alpha == 16
    assert spec.per_device_train_batch_size == 1 and spec.gradient_accumulation_steps == 8
    assert spec.learning_rate == pytest.approx(1e-4)
    assert spec.num_train_epochs == 3.0 and spec.lr_scheduler_type == "cosine"
    assert spec.precision == "bf16"  # from bf16: true
    assert spec.cutoff_len == 2048 and spec.max_samples == 1000


def test_inference_backend_name_is_translated() -> None:
    spec = load_spec(ServeSpec, LLAMAFACTORY_CONFIGS / "inference_qwen3_lora_sft.yaml")
    assert spec.infer_backend == "hf"
    assert spec.adapter == "saves/qwen3-4b/lora/sft"


def test_two_misspelt_keys_make_one_error_naming_both(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model_name_or_path: m\nlerning_rate: 1.0e-4\nnum_train_epoch: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_spec(TrainSpec, config)
    message = str(caught.value)
    assert "'lerning_rate' (did you mean 'learning_rate'?)" in message
    assert "'num_train_epoch' (did you mean 'num_train_epochs'?)" in message
    assert str(config) in message
    assert caught.value.exit_code == 2


def test_type_errors_are_collected_with_unknown_keys(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("lora_rank: many\nfinetuning_type: magic\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_spec(TrainSpec, config)
    message = str(caught.value)
    assert "3 problems" in message
    assert "lora_rank" in message and "finetuning_type" in message and "'bogus'" in message


def test_same_field_under_two_names_is_refused() -> None:
    with pytest.raises(ConfigError, match="given twice"):
        load_spec(TrainSpec, data={"model": "a", "model_name_or_path": "b"})


def test_overrides_beat_yaml_and_are_typed(tmp_path: Path) -> None:
    config = tmp_path / "finance_cfg.yaml"
    config.write_text("model: m\nlearning_rate: 1.0e-4\ndataset: a\n", encoding="utf-8")
    overrides = parse_overrides(
        ["--learning-rate", "2e-4", "--dataset=a,b", "--load_in_4bit", "--epochs", "2"]
    )
    spec = load_spec(TrainSpec, config, overrides=overrides)
    assert spec.learning_rate == pytest.approx(2e-4)
    assert spec.dataset == ["a", "b"]
    assert spec.load_in_4bit and spec.finetuning_type == "qlora"
    assert spec.num_train_epochs == 2


@pytest.mark.parametrize("bits", ["4", "8"])
def test_override_strings_are_read_with_the_field_type(bits: str) -> None:
    # issue 15 item 12: `--quantization_bit 4` was refused as "Input should be 4 or 8 (got '4')"
    spec = load_spec(TrainSpec, data={"model": "m"}, overrides=parse_overrides(["--quantization_bit", bits]))
    assert spec.quantization_bit == int(bits)


def test_override_outside_the_field_type_is_still_refused() -> None:
    with pytest.raises(ConfigError, match=r"quantization_bit.*\(got '3'\)"):
        load_spec(TrainSpec, data={"model": "m"}, overrides=parse_overrides(["--quantization_bit", "3"]))


def test_unknown_override_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"'--batchsize' \(did you mean '--batch_size'\?\)"):
        load_spec(TrainSpec, overrides=parse_overrides(["--batchsize", "4"]))


@pytest.mark.parametrize("args", [["stray"], ["--a", "1", "stray"]])
def test_stray_positional_in_overrides(args: list[str]) -> None:
    with pytest.raises(ConfigError, match="unexpected argument"):
        parse_overrides(args)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("model: m\nlora_rank: [8\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+:\d+: invalid YAML"):
        load_spec(TrainSpec, config)


def test_yaml_must_be_a_mapping_and_is_never_executed(tmp_path: Path) -> None:
    config = tmp_path / "list.yaml"
    config.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_spec(TrainSpec, config)
    config.write_text("model: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_spec(TrainSpec, config)


def test_conflicting_precision_switches() -> None:
    with pytest.raises(ConfigError, match="bf16 and fp16"):
        load_spec(TrainSpec, data={"bf16": True, "fp16": True})


def test_report_to_refuses_online_trackers() -> None:
    with pytest.raises(ConfigError, match="report_to"):
        load_spec(TrainSpec, data={"report_to": "wandb"})


def test_export_refuses_pickle_format() -> None:
    with pytest.raises(ConfigError, match="export_legacy_format"):
        load_spec(ExportSpec, data={"export_legacy_format": True})


def test_settings_nested_unknown_key_and_defaults() -> None:
    settings = load_spec(Settings, data={})
    assert settings.min_free_disk_gb == 40 and settings.audit.retention_days == 180
    assert settings.egress_allowlist == []
    with pytest.raises(
        ConfigError, match=r"'audit.retension_days' \(did you mean 'audit.retention_days'\?\)"
    ):
        load_spec(Settings, data={"audit": {"retension_days": 30}})
