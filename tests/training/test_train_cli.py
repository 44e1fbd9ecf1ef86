"""`stockade train` end to end: gate and dev-mode checks, lineage, CPU proof, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

SAMPLES = json.loads((REPO / "src/stockade/data/samples/finance_qa_zh.json").read_text(encoding="utf-8"))
TRAIN_KEYS = {
    "template": "qwen",
    "finetuning_type": "lora",
    "lora_rank": 8,
    "learning_rate": 5.0e-3,
    "num_train_epochs": 60,
    "per_device_train_batch_size": 8,
    "lr_scheduler_type": "constant",
    "cutoff_len": 128,
    "logging_steps": 5,
    "save_steps": 50,
    "seed": 0,
    "gradient_checkpointing": False,
}


def _cli(workspace: Path, *args: str, timeout: int = 300):
    return run_cli("-w", str(workspace), *args, timeout=timeout)


def _config(folder: Path, model: Path, name: str = "train.yaml", **extra: object) -> Path:
    import yaml

    config = folder / name
    config.write_text(
        yaml.safe_dump(
            {"model_name_or_path": str(model), "dataset": "finance", **TRAIN_KEYS, **extra},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("train")
    workspace = root / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    settings = workspace / "stockade.yaml"
    settings.write_text(settings.read_text().replace("dev_mode: false", "dev_mode: true"))
    model = workspace / "models" / "tiny-qwen2"
    assert _cli(workspace, "dev", "tiny-model", "--arch", "qwen2", "--out", str(model)).returncode == 0
    data = root / "finance.json"
    assert _cli(workspace, "dev", "sample-dataset", "--out", str(data)).returncode == 0
    imported = _cli(workspace, "data", "import", str(data), "--name", "finance")
    assert imported.returncode == 0, imported.stderr
    return {"root": root, "workspace": workspace, "model": model}


@pytest.fixture(scope="module")
def trained(setup: dict) -> dict:
    config = _config(setup["root"], setup["model"])
    started = time.perf_counter()
    result = _cli(setup["workspace"], "train", str(config), "--json-progress")
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    run_id = events[0]["run"]
    return {
        **setup,
        "run": run_id,
        "events": events,
        "seconds": seconds,
        "run_dir": setup["workspace"] / "runs" / run_id,
    }


def test_run_records_lineage_metrics_and_audit(trained: dict) -> None:
    events, run_dir = trained["events"], trained["run_dir"]
    assert events[0]["event"] == "start" and events[-1]["event"] == "finish"
    assert events[-1]["status"] == "succeeded"
    assert any(e["event"] == "progress" for e in events)
    shown = json.loads(_cli(trained["workspace"], "runs", "show", trained["run"]).stdout)
    assert shown["status"] == "succeeded" and shown["datasets"][0]["ref"] == "finance@v1"
    assert len(shown["base_manifest_sha256"]) == 64
    assert shown["environment"]["libraries"]["torch"] and shown["spec"]["lora_rank"] == 8
    lineage = json.loads((run_dir / "lineage.json").read_text(encoding="utf-8"))
    assert lineage["datasets"][0]["privacy"] == "passed" and lineage["template"] == "qwen"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {
        "step",
        "loss",
        "lr",
        "grad_norm",
        "tokens_per_s",
        "real_tokens",
        "elapsed_s",
        "peak_memory_mb",
    } <= set(metrics[0])
    # the recipe the run followed, with its reasons (CPU: no recompute; the config turned it off anyway)
    assert lineage["recipe"]["recipe.packing"].startswith("off: one example per row (default on CPU")
    assert lineage["recipe"]["recipe.gradient_checkpointing"].startswith("off (gradient_checkpointing: false")
    # the tokenized data is cached in the workspace for the next run
    assert len(list((trained["workspace"] / "cache" / "tokenized").glob("*.bin"))) == 1
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert (run_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    records = [
        json.loads(line)
        for line in _cli(trained["workspace"], "audit", "tail", "-n", "50", "--json").stdout.splitlines()
    ]
    actions = [(r["action"], r["target"]) for r in records if r["action"].startswith("train.")]
    assert actions == [("train.start", trained["run"]), ("train.finish", trained["run"])]
    assert _cli(trained["workspace"], "audit", "verify").returncode == 0


def test_cpu_proof_generation_reproduces_training_answers(trained: dict) -> None:
    assert trained["seconds"] < 120  # the training itself is asserted < 60 s in tests/training/test_loop.py
    for record in SAMPLES[:3]:
        result = _cli(
            trained["workspace"],
            "dev",
            "generate",
            "--model",
            str(trained["model"]),
            "--adapter",
            str(trained["run_dir"] / "adapter"),
            "--template",
            "qwen",
            "--prompt",
            record["instruction"],
            "--max-new-tokens",
            "64",
        )
        assert result.returncode == 0, result.stderr
        assert f"output: {record['output']!r}" in result.stdout


def test_runs_rm_keeps_lineage(trained: dict, setup: dict) -> None:
    config = _config(setup["root"], setup["model"], "short.yaml", max_steps=2)
    short = _cli(setup["workspace"], "train", str(config), "--json-progress")
    run_id = json.loads(short.stdout.splitlines()[0])["run"]
    removed = _cli(setup["workspace"], "runs", "rm", run_id, "--reason", "superseded")
    assert removed.returncode == 0 and "lineage needs them" in removed.stdout
    run_dir = setup["workspace"] / "runs" / run_id
    assert not (run_dir / "adapter").exists() and (run_dir / "lineage.json").is_file()
    assert json.loads(_cli(setup["workspace"], "runs", "show", run_id).stdout)["status"] == "removed"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["--model_name_or_path", "Qwen/Qwen2.5-7B-Instruct"], "never downloads"),
        (["--dataset_dir", "data"], "import first"),
        (["--dataset", "nothing@v3"], "no dataset version"),
        (["--model", "qwen-registered@v1"], "no model version 'qwen-registered@v1'"),
    ],
)
def test_refusals(setup: dict, override: list[str], message: str) -> None:
    config = _config(setup["root"], setup["model"], "refuse.yaml")
    result = _cli(setup["workspace"], "train", str(config), *override)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_saved_config_is_reused_from_the_same_folder(setup: dict, tmp_path: Path) -> None:
    """The deployment guide: --save-config configs/finance_cfg.yaml, then train configs/finance_cfg.yaml."""
    here = tmp_path / "deploy"
    here.mkdir()
    keys = [f"--{k}={v}" for k, v in TRAIN_KEYS.items()]
    saved = run_cli(
        "-w",
        str(setup["workspace"]),
        "train",
        "--model_name_or_path",
        str(setup["model"]),
        "--dataset",
        "finance",
        *keys,
        "--save-config",
        "configs/finance_cfg.yaml",
        "--dry-run",  # saves, resolves, trains nothing
        cwd=here,
    )
    target = here / "configs" / "finance_cfg.yaml"
    assert saved.returncode == 0, saved.stderr
    assert target.is_file() and str(target) in saved.stdout.replace("\n", ""), saved.stdout
    assert not (setup["workspace"] / "configs" / "finance_cfg.yaml").exists()
    workspace = ("-w", str(setup["workspace"]))
    reused = run_cli(*workspace, "train", "configs/finance_cfg.yaml", "--dry-run", cwd=here)
    assert reused.returncode == 0 and "#   datasets: finance@v1" in reused.stdout, reused.stderr
    missing = run_cli(*workspace, "train", "configs/other.yaml", "--dry-run", cwd=here)
    assert missing.returncode == 2
    assert f"resolved 'configs/other.yaml' to {here / 'configs' / 'other.yaml'}" in missing.stderr
    (setup["workspace"] / "configs" / "other.yaml").write_text("dataset: finance\n", encoding="utf-8")
    hinted = run_cli(*workspace, "train", "configs/other.yaml", "--dry-run", cwd=here)
    assert hinted.returncode == 2 and "the workspace has" in hinted.stderr, hinted.stderr


@pytest.mark.parametrize(
    "override",
    [
        ["--dataset", "data/finance.json"],  # a file path where a dataset version belongs
        ["--dataset", "nothing@v3"],
        ["--template", "llama3"],  # the tiny Qwen2 tokenizer lacks its control tokens
        ["--adapter_name_or_path", "saves/no-such-adapter"],
        ["--dataset_dir", "data"],
    ],
)
def test_dry_run_fails_as_the_real_run_does(setup: dict, override: list[str]) -> None:
    """Issue 15 item 4: --dry-run resolves what a real run resolves and reports the same first problem."""
    config = _config(setup["root"], setup["model"], "dry.yaml")
    dry = _cli(setup["workspace"], "train", str(config), *override, "--dry-run")
    real = _cli(setup["workspace"], "train", str(config), *override)
    assert dry.returncode == real.returncode != 0, (dry.stderr, real.stderr)
    assert "Error:" in dry.stderr and dry.stderr.strip() == real.stderr.strip()


def test_dry_run_resolves_the_model_datasets_template_and_output_dir(setup: dict, tmp_path: Path) -> None:
    config = _config(setup["root"], setup["model"], "dry-ok.yaml", output_dir="saves/sft")
    result = run_cli("-w", str(setup["workspace"]), "train", str(config), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"output_dir: {tmp_path / 'saves' / 'sft'}" in result.stdout
    assert "#   datasets: finance@v1" in result.stdout and "#   template: qwen" in result.stdout
    assert f"#   model: {setup['model']}" in result.stdout
    assert "#   recipe.packing: off: one example per row (default on CPU" in result.stdout
    assert "#   recipe.cross_entropy: chunked" in result.stdout
    assert "#   recipe.precision: fp32 (CPU)" in result.stdout
    assert (
        "#   recipe.gradient_checkpointing: off (gradient_checkpointing: false in the spec)" in result.stdout
    )
    assert not (tmp_path / "saves").exists()  # nothing written


def test_data_that_kept_personal_data_never_trains(setup: dict, tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(
        json.dumps(
            [{"instruction": "客户手机13812345678", "input": "", "output": "已登记"}], ensure_ascii=False
        ),
        encoding="utf-8",
    )
    allowed = _cli(
        setup["workspace"],
        "data",
        "import",
        str(raw),
        "--name",
        "rawpii",
        "--privacy",
        "allow",
        "--reason",
        "test",
    )
    assert allowed.returncode == 0, allowed.stderr
    config = _config(setup["root"], setup["model"], "pii.yaml", dataset="rawpii")
    result = _cli(setup["workspace"], "train", str(config))
    assert result.returncode == 1 and "did not pass the privacy gate" in result.stderr


def test_local_model_needs_dev_mode(setup: dict, tmp_path: Path) -> None:
    workspace = tmp_path / "strict"
    run_cli("init", str(workspace))
    data = tmp_path / "d.json"
    _cli(workspace, "dev", "sample-dataset", "--out", str(data))
    _cli(workspace, "data", "import", str(data), "--name", "finance")
    result = _cli(workspace, "train", str(_config(tmp_path, setup["model"])))
    assert result.returncode == 1 and "dev_mode: true" in result.stderr


def test_resume_after_kill_reaches_the_same_loss(setup: dict) -> None:
    keys = {"max_steps": 40, "save_steps": 10, "num_train_epochs": 1}
    reference = _cli(
        setup["workspace"],
        "train",
        str(_config(setup["root"], setup["model"], "ref.yaml", **keys)),
        "--json-progress",
    )
    assert reference.returncode == 0, reference.stderr[-2000:]
    expected = json.loads(reference.stdout.splitlines()[-1])["final_loss"]

    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stockade",
            "-w",
            str(setup["workspace"]),
            "train",
            str(_config(setup["root"], setup["model"], "killed.yaml", **keys)),
            "--json-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    run_id = json.loads(process.stdout.readline())["run"]
    checkpoints = setup["workspace"] / "runs" / run_id / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not any(checkpoints.glob("step-*")):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert any(checkpoints.glob("step-*")), "no checkpoint appeared before the deadline"
    shown = json.loads(_cli(setup["workspace"], "runs", "show", run_id).stdout)
    # killed: nothing could write an end, so the next open (this `runs show`) marks it interrupted
    assert (shown["status"], shown["reason"]) == ("failed", "interrupted")
    resumed = _cli(setup["workspace"], "train", "--resume", run_id, "--json-progress")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final = json.loads(resumed.stdout.splitlines()[-1])
    assert final["status"] == "succeeded"
    assert final["final_loss"] == pytest.approx(expected, abs=1e-4)


def test_eval_dataset_versions_are_gated_evaluated_and_recorded(setup: dict) -> None:
    held = setup["root"] / "held.json"
    held.write_text(json.dumps(SAMPLES[:6], ensure_ascii=False), encoding="utf-8")
    assert _cli(setup["workspace"], "data", "import", str(held), "--name", "held").returncode == 0
    config = _config(setup["root"], setup["model"], "with_eval.yaml", max_steps=2, eval_dataset="held@v1")
    done = _cli(setup["workspace"], "train", str(config), "--json-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = setup["workspace"] / "runs" / json.loads(done.stdout.splitlines()[0])["run"]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 2 and metrics[-1]["eval_loss"] > 0
    lineage = json.loads((run_dir / "lineage.json").read_text(encoding="utf-8"))
    assert [d["ref"] for d in lineage["eval_datasets"]] == ["held@v1"]
    assert lineage["examples"]["eval"] == 6 and lineage["examples"]["train"] == len(SAMPLES)
    assert lineage["base_model"]["registered"] is False and lineage["base_model"]["dev_mode"] is True
