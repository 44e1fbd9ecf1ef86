"""eval.yaml: `stockade eval --config` reads the options from a file; bad keys and values are refused
naming the file and the key; options on the command line win."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stockade.core.errors import ConfigError
from stockade.evaluation.config import load_eval_config
from stockade.tasks.scaffold import init_task


def test_task_init_writes_an_eval_yaml_naming_the_held_out_data_and_the_task(tmp_path: Path) -> None:
    init_task("risk-report", tmp_path / "t")
    config = load_eval_config(tmp_path / "t" / "eval.yaml")
    assert (config.dataset, config.task) == ("risk-report-test@v1", "risk-report")
    assert config.max_new_tokens and config.baseline is None


def test_a_relative_benchmark_folder_is_read_from_the_files_folder(tmp_path: Path) -> None:
    (tmp_path / "eval.yaml").write_text("benchmark: ceval\ndata: bench\nshots: 0\n", encoding="utf-8")
    config = load_eval_config(tmp_path / "eval.yaml")
    assert Path(config.data or "") == tmp_path / "bench" and config.shots == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datset: a@v1\n", r"eval.yaml: unknown key 'datset' \(did you mean 'dataset'\?\)"),
        ("limit: 0\n", r"eval.yaml: limit: Input should be greater than or equal to 1"),
        ("limit: '5'\n", r"eval.yaml: limit: Input should be a valid integer"),
        ("- dataset\n", r"eval.yaml: expected a mapping"),
        ("dataset: [\n", r"eval.yaml:2:1: not valid YAML"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_eval_config(path)


def test_the_cli_refuses_a_bad_config_before_opening_the_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stockade.cli.app import app

    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump({"dataset": "a@v1", "max_new_token": 8}), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "m@v1", "--config", str(path)])
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2
    assert "unknown key 'max_new_token' (did you mean 'max_new_tokens'?)" in str(result.exception)
