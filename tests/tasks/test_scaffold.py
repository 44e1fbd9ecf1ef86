"""`stockade task init`: a folder whose dataset_info.json reads with Stockade's own readers, whose
train.yaml is a valid TrainSpec, and which is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.core.specs import TrainSpec, load_spec
from stockade.data.readers import read_records, resolve_dataset_info
from stockade.data.records import Conversation
from stockade.tasks.parsers import reference_problems
from stockade.tasks.presets import load_preset
from stockade.tasks.scaffold import init_task
from tests.conftest import run_cli

NAMES = ["compliance-review", "customer-service", "risk-report"]


@pytest.mark.parametrize("name", NAMES)
def test_init_writes_data_that_reads_and_follows_the_format(name: str, tmp_path: Path) -> None:
    preset = load_preset(name)
    scaffold = init_task(name, tmp_path / "t")
    assert sorted(p.name for p in scaffold.files) == sorted(
        [f"{name}.json", f"{name}-test.json", "dataset_info.json", "train.yaml", "eval.yaml", "README.md"]
    )
    total = len(preset.sample_records())
    assert scaffold.train_records + scaffold.test_records == total and scaffold.test_records == total // 10
    sources = resolve_dataset_info(tmp_path / "t", [name, f"{name}-test"])
    counts = []
    for source in sources:
        records = list(read_records(source))
        assert all(isinstance(r, Conversation) for r in records), [
            r for r in records if not isinstance(r, Conversation)
        ][:3]
        for record in records:
            assert isinstance(record, Conversation)
            last = record.messages[-1]
            assert record.system == preset.system
            assert reference_problems(preset, last.content, last.role) == []
            if preset.tools:
                assert json.loads(record.tools or "null") == preset.tools
        counts.append(len(records))
    assert counts == [scaffold.train_records, scaffold.test_records]


def test_train_yaml_is_a_train_spec_with_the_preset_settings(tmp_path: Path) -> None:
    init_task("risk-report", tmp_path / "a", model="base@v1")
    spec = load_spec(TrainSpec, tmp_path / "a" / "train.yaml")
    assert spec.model == "base@v1" and spec.dataset == ["risk-report"] and spec.template == "qwen"
    assert spec.lora_rank == 8 and spec.num_train_epochs == 3 and spec.cutoff_len == 1024
    init_task("risk-report", tmp_path / "b")
    unset = load_spec(TrainSpec, tmp_path / "b" / "train.yaml")
    assert unset.model is None and "--model NAME@vN" in (tmp_path / "b" / "train.yaml").read_text()


def test_init_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "t"
    out.mkdir()
    (out / "train.yaml").write_text("mine\n")
    with pytest.raises(StockadeError, match=r"already has train.yaml; task init does not overwrite"):
        init_task("compliance-review", out)
    assert (out / "train.yaml").read_text() == "mine\n"
    assert sorted(p.name for p in out.iterdir()) == ["train.yaml"]  # nothing else written either


@pytest.mark.slow
def test_the_task_commands(tmp_path: Path) -> None:
    listed = run_cli("task", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [p["name"] for p in json.loads(listed.stdout)] == NAMES
    shown = run_cli("task", "show", "compliance-review")
    assert shown.returncode == 0 and "结论：" in shown.stdout and "R01 不得承诺保本保收益" in shown.stdout
    made = run_cli("task", "init", "customer-service", "--out", str(tmp_path / "cs"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "cs" / "customer-service-test.json").is_file()
    data = str(tmp_path / "cs" / "customer-service.json")
    checked = run_cli("task", "check", "customer-service", data)
    assert checked.returncode == 0 and "215 records" in checked.stdout, checked.stderr
    wrong = run_cli("task", "check", "risk-report", data, "--format", "sharegpt", "--max-problems", "1")
    assert wrong.returncode == 1 and "missing or empty sections" in wrong.stderr
    assert "not listed" in wrong.stderr
    again = run_cli("task", "init", "customer-service", "--out", str(tmp_path / "cs"))
    assert again.returncode == 1 and "does not overwrite" in again.stderr
    unknown = run_cli("task", "show", "kyc")
    assert unknown.returncode == 2 and "unknown task 'kyc'" in unknown.stderr


def test_check_lists_every_answer_that_breaks_the_format(tmp_path: Path) -> None:
    from stockade.tasks.validate import check_file

    init_task("compliance-review", tmp_path / "t")
    path = tmp_path / "t" / "compliance-review.json"
    assert check_file("compliance-review", path).problems == []
    records = json.loads(path.read_text(encoding="utf-8"))
    records[3]["output"] = "结论：基本合规\n依据：无"
    records[7]["output"] = "结论：合规\n依据：R42"
    records[9]["instruction"] = ""
    records[9]["input"] = ""
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = check_file("compliance-review", path)
    assert result.records == len(records) - 1
    assert result.problems[0].startswith(
        f"{path}: record 3, message 2: no line '结论：LABEL' with a label among"
    )
    assert result.problems[1].startswith(f"{path}: record 7, message 2: cites unknown rules R42")
    assert (
        result.problems[2].startswith(f"{path}: record 9, field 'instruction'") and len(result.problems) == 3
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_task_metric_is_measurable_on_the_held_out_set(name: str, tmp_path: Path) -> None:
    """Evaluation scores each record's last turn: the held-out set must end in every kind of answer
    (customer service: tool calls as well as answers and hand-offs), or a metric is always NaN."""
    from stockade.evaluation.task_metrics import task_scores

    preset = load_preset(name)
    init_task(name, tmp_path / "t")
    [source] = resolve_dataset_info(tmp_path / "t", [f"{name}-test"])
    references = [record.messages[-1].content.strip() for record in read_records(source)]
    scores = task_scores(preset, references, references)
    assert scores.metrics == {metric: 1.0 for metric in preset.metrics}
