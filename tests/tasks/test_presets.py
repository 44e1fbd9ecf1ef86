"""The task presets load, agree with TrainSpec, and ship synthetic, PII-free samples that the
generator reproduces and that follow each preset's own output format."""

from __future__ import annotations

import pytest

from stockade.core.errors import ConfigError
from stockade.core.specs import TrainSpec, load_spec
from stockade.privacy.detectors import detect_all
from stockade.tasks.parsers import parse
from stockade.tasks.presets import TaskPreset, load_preset, preset_names
from stockade.tasks.samples import generate

NAMES = ["compliance-review", "customer-service", "risk-report"]


def test_the_three_presets_ship() -> None:
    assert preset_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_recommended_settings_are_train_spec_keys(name: str) -> None:
    preset = load_preset(name)
    spec = load_spec(TrainSpec, data={**preset.train, "template": preset.template, "dataset": [name]})
    assert spec.finetuning_type == preset.train["finetuning_type"] and spec.template == preset.template


def test_an_unknown_task_is_refused_with_the_known_names() -> None:
    with pytest.raises(ConfigError) as error:
        load_preset("risk-reports")
    assert "unknown task 'risk-reports'" in str(error.value) and "did you mean 'risk-report'" in str(
        error.value
    )


def test_a_preset_whose_metrics_do_not_fit_its_parser_is_invalid() -> None:
    data = load_preset("risk-report").model_dump()
    data["metrics"] = ["label_accuracy"]
    with pytest.raises(ValueError, match="do not apply to a report parser"):
        TaskPreset.model_validate(data)
    data = load_preset("risk-report").model_dump()
    data["parser"]["grade_section"] = "等级"
    with pytest.raises(ValueError, match="grade_section '等级' is not one of sections"):
        TaskPreset.model_validate(data)


@pytest.mark.parametrize("name", NAMES)
def test_the_shipped_samples_are_what_the_generator_writes(name: str) -> None:
    shipped = generate.HERE / load_preset(name).sample
    assert shipped.read_text(encoding="utf-8") == generate.render(name)


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


@pytest.mark.parametrize("name", NAMES)
def test_samples_hold_no_personal_data(name: str) -> None:
    records = load_preset(name).sample_records()
    assert len(records) >= 200
    found = [(text, detect_all(text)) for record in records for text in _texts(record)]
    assert [item for item in found if item[1]] == []


def test_samples_cover_every_label_grade_and_answer_kind() -> None:
    verdicts = load_preset("compliance-review")
    labels = {parse(verdicts, r["output"]).label for r in verdicts.sample_records()}
    assert labels == set(verdicts.parser.labels)  # type: ignore[union-attr]
    reports = load_preset("risk-report")
    grades = {parse(reports, r["output"]).grade for r in reports.sample_records()}
    assert grades == set(reports.parser.grades)  # type: ignore[union-attr]
    service = load_preset("customer-service")
    kinds = {parse(service, r["conversations"][-1]["value"]).kind for r in service.sample_records()}
    assert kinds == {"tool_call", "handoff", "reply"}
