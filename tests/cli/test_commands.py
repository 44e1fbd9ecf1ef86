"""Each command's happy path and its clear error on bad input, run as a user runs them."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from tests.conftest import LLAMAFACTORY_CONFIGS, REPO, run_cli


def test_help_is_instant_and_lists_every_group() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for group in (
        "init",
        "doctor",
        "version",
        "data",
        "model",
        "train",
        "export",
        "eval",
        "registry",
        "serve",
        "webui",
        "jobs",
        "user",
        "token",
        "audit",
        "backup",
        "estimate",
        "bundle",
        "pki",
        "dev",
    ):
        assert f" {group} " in result.stdout, group


def test_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys; import stockade.cli.app; "
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'sqlalchemy') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_commands_work_without_torch(tmp_path: Path) -> None:
    """A sitecustomize that makes `import torch` fail stands in for a machine without the train extra."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "for name in ('torch', 'transformers', 'peft', 'tokenizers'):\n"
        "    sys.modules[name] = None\n"
    )
    env = {"PYTHONPATH": str(blocker)}
    assert run_cli("--help", env=env).returncode == 0
    assert run_cli("init", str(tmp_path / "ws"), env=env).returncode == 0
    doctor = run_cli("-w", str(tmp_path / "ws"), "doctor", "--json", env=env)
    assert "database" in doctor.stdout
    result = run_cli("dev", "tiny-model", "--arch", "qwen2", "--out", str(tmp_path / "m"), env=env)
    assert result.returncode == 1 and "pip install" in result.stderr and "Traceback" not in result.stderr


def test_version() -> None:
    result = run_cli("version", "--json")
    info = json.loads(result.stdout)
    assert result.returncode == 0 and info["stockade"] and info["python"]


def test_init_then_audit_tail_and_verify(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    first = run_cli("init", str(root))
    assert first.returncode == 0 and "Created workspace" in first.stdout
    again = run_cli("init", str(root))
    assert again.returncode == 0 and "nothing changed" in again.stdout
    tail = run_cli("-w", str(root), "audit", "tail", "--json")
    records = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [r["action"] for r in records] == ["workspace.init", "user.add", "user.login"]  # the first admin
    verify = run_cli("-w", str(root), "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout


def test_init_uses_stockade_home(tmp_path: Path) -> None:
    result = run_cli("init", env={"STOCKADE_HOME": str(tmp_path / "home-ws")})
    assert result.returncode == 0 and (tmp_path / "home-ws" / "stockade.yaml").is_file()


def test_init_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    result = run_cli("init", str(tmp_path))
    assert result.returncode == 1
    assert "not empty" in result.stderr and "How to fix" in result.stderr and "Traceback" not in result.stderr


def test_audit_verify_fails_naming_an_edited_record(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    run_cli("init", str(root))
    connection = sqlite3.connect(root / "stockade.db")
    connection.execute("UPDATE audit_records SET actor='mallory' WHERE seq=1")
    connection.commit()
    connection.close()
    result = run_cli("-w", str(root), "audit", "verify")
    assert result.returncode == 1 and "#1" in result.stdout and "TAMPERED" in result.stdout


def test_commands_without_workspace_say_how_to_create_one(tmp_path: Path) -> None:
    result = run_cli("-w", str(tmp_path / "none"), "audit", "tail")
    assert result.returncode == 1 and "stockade init" in result.stderr


def test_misspelt_yaml_keys_exit_2_with_both_named(tmp_path: Path) -> None:
    config = tmp_path / "finance_cfg.yaml"
    config.write_text("model_name_or_path: models/Qwen-7B\nlerning_rate: 1.0e-4\nnum_train_epoch: 3\n")
    result = run_cli("train", str(config), "--dry-run")
    assert result.returncode == 2
    assert "'lerning_rate' (did you mean 'learning_rate'?)" in result.stderr
    assert "'num_train_epoch' (did you mean 'num_train_epochs'?)" in result.stderr
    assert result.stderr.count("Error:") == 1


def test_llamafactory_train_yaml_with_hub_id_is_refused_with_import_advice() -> None:
    result = run_cli("train", str(LLAMAFACTORY_CONFIGS / "train_lora_qwen3_lora_sft.yaml"), "--dry-run")
    assert result.returncode == 2
    assert "never downloads" in result.stderr and "stockade model import" in result.stderr


def test_deployment_guide_serve_flags_parse(tmp_path: Path) -> None:
    (tmp_path / "models" / "Qwen-7B").mkdir(parents=True)
    args = [
        "serve",
        "--model_name_or_path",
        "models/Qwen-7B",
        "--template",
        "qwen",
        "--infer_backend",
        "vllm",
        "--port",
        "5000",
        "--load_in_4bit",
        "--max_batch_size",
        "4",
    ]
    result = run_cli(*args, "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "port: 5000" in result.stdout and "infer_backend: vllm" in result.stdout
    assert "load_in_4bit: true" in result.stdout and "max_batch_size: 4" in result.stdout
    without_dry_run = run_cli(*args, cwd=tmp_path)  # serving needs a workspace (users, audit log)
    assert without_dry_run.returncode == 1 and "no Stockade workspace" in without_dry_run.stderr


def test_train_overrides_after_config(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    config = tmp_path / "cfg.yaml"
    config.write_text(f"model: {model}\nlearning_rate: 1.0e-4\n")
    result = run_cli("train", str(config), "--learning_rate", "3e-4", "--template", "qwen", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "learning_rate: 0.0003" in result.stdout and "template: qwen" in result.stdout


def test_train_quantization_bit_from_the_command_line(tmp_path: Path) -> None:
    """Issue 15 item 12: "Input should be 4 or 8 (got '4')"."""
    model = tmp_path / "m"
    model.mkdir()
    config = tmp_path / "cfg.yaml"
    config.write_text(f"model: {model}\n")
    result = run_cli("train", str(config), "--quantization_bit", "4", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "quantization_bit: 4" in result.stdout and "finetuning_type: qlora" in result.stdout


def test_train_help_lists_spec_keys() -> None:
    result = run_cli("train", "--help")
    assert "--lora_rank" in result.stdout and "--model_name_or_path" in result.stdout


def test_a_gbk_terminal_gets_replacement_characters_and_one_warning(tmp_path: Path) -> None:
    """Issue 15 item 11: output a GBK terminal cannot encode crashed the command (UnicodeEncodeError)."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    env.update({"PYTHONIOENCODING": "gbk", "COLUMNS": "200"})

    def run(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "stockade", *args], env=env, capture_output=True, check=False, timeout=120
        )
        return done.returncode, done.stdout.decode("gbk"), done.stderr.decode("gbk")

    code, out, err = run("init", str(tmp_path / "工作区😀"))  # the emoji has no GBK code
    assert code == 0, err
    assert f"Created workspace {tmp_path / '工作区?'}" in out and "Next: export STOCKADE_HOME=" in out
    assert err.count("cannot show some characters") == 1 and "UnicodeEncodeError" not in err

    code, out, err = run("-w", str(tmp_path / "none😀"), "audit", "tail")
    assert code == 1 and f"{tmp_path / 'none?'}: no Stockade workspace here" in err
    assert err.count("cannot show some characters") == 1 and "\\U0001f600" not in err


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = run_cli("--debug", "-w", str(tmp_path / "none"), "audit", "tail")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_configuration_docs_match_the_code() -> None:
    result = run_cli("dev", "config-reference")
    assert result.returncode == 0
    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == result.stdout, (
        "docs/configuration.md is stale: run `stockade dev config-reference > docs/configuration.md`"
    )
