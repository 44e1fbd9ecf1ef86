"""`stockade train` under torchrun: two CPU ranks (gloo over loopback) train as one process would.

Two ranks taking one micro-batch each per step must make exactly the update that one process makes
with gradient accumulation over the same two micro-batches: same losses, same adapter weights (up to
float summation order). Rank 0 alone writes the run row, audit events, metrics and files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stockade.core.specs import TrainSpec
from stockade.training.ddp_check import free_port
from stockade.training.distributed import DistContext
from stockade.training.launch import build_launch_command
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

KEYS = {
    "dataset": "finance",
    "template": "qwen",
    "finetuning_type": "lora",
    "lora_rank": 8,
    "lora_dropout": 0.0,
    "learning_rate": 5.0e-3,
    "lr_scheduler_type": "constant",
    "per_device_train_batch_size": 4,
    "cutoff_len": 128,
    "max_steps": 6,
    "val_size": 0.125,  # 5 held-out examples in batches of 2: 3 batches, so rank 1 runs one it drops
    "per_device_eval_batch_size": 2,
    "eval_steps": 3,
    "logging_steps": 1,
    "save_steps": 3,
    "seed": 0,
    "gradient_checkpointing": False,
}


def _cli(workspace: Path, *args: str):
    return run_cli("-w", str(workspace), *args, timeout=300)


def _adapter(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("ddp")
    ws = root / "ws"
    assert run_cli("init", str(ws)).returncode == 0
    settings = ws / "stockade.yaml"
    settings.write_text(settings.read_text().replace("dev_mode: false", "dev_mode: true"))
    model = ws / "models" / "tiny-qwen2"
    assert _cli(ws, "dev", "tiny-model", "--arch", "qwen2", "--out", str(model)).returncode == 0
    data = root / "finance.json"
    assert _cli(ws, "dev", "sample-dataset", "--out", str(data)).returncode == 0
    assert _cli(ws, "data", "import", str(data), "--name", "finance").returncode == 0
    return {"root": root, "ws": ws, "model": model}


def _config(workspace: dict, name: str, **extra: object) -> Path:
    path = workspace["root"] / name
    path.write_text(
        yaml.safe_dump({"model_name_or_path": str(workspace["model"]), **KEYS, **extra}), encoding="utf-8"
    )
    return path


def _launch_env(ws: Path, *, fsdp: bool) -> dict[str, str]:
    """The environment of a launched job: no inherited rank variables; with ``fsdp``, what
    `accelerate launch --use_fsdp` sets for each process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "LOCAL_RANK"))}
    env.update({"STOCKADE_HOME": str(ws), "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"})
    if fsdp:
        env.update({"ACCELERATE_USE_FSDP": "true", "FSDP_SHARDING_STRATEGY": "FULL_SHARD"})
    return env


@pytest.fixture(scope="module")
def single_run(workspace: dict) -> Path:
    """The reference: one process taking two micro-batches per step by gradient accumulation."""
    config = _config(workspace, "one.yaml", gradient_accumulation_steps=2)
    single = _cli(workspace["ws"], "train", str(config), "--json-progress")
    assert single.returncode == 0, single.stderr[-3000:]
    return workspace["ws"] / "runs" / json.loads(single.stdout.splitlines()[0])["run"]


@pytest.mark.parametrize("engine", ["ddp", "fsdp"])
def test_two_ranks_equal_one_process_with_accumulation(
    engine: str, workspace: dict, single_run: Path
) -> None:
    ws = workspace["ws"]
    config = _config(workspace, f"{engine}.yaml")
    command = build_launch_command(
        TrainSpec(model_name_or_path=str(workspace["model"]), **KEYS),
        config_path=config,
        nproc_per_node=2,
        strategy="ddp",
        master_port=free_port(),
    )
    assert command[1:3] == ["-m", "torch.distributed.run"]
    env = _launch_env(ws, fsdp=engine == "fsdp")
    done = subprocess.run(
        [*command, "--json-progress"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    starts = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"event": "start"')]
    assert len(starts) == 1, done.stdout  # rank 0 alone announces (and creates) the run
    run = starts[0]["run"]
    run_dir = ws / "runs" / run

    one, two = _metrics(single_run), _metrics(run_dir)
    assert [m["step"] for m in two] == [1, 2, 3, 4, 5, 6]  # written once, by rank 0
    for a, b in zip(one, two, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4), (a, b)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3), (a, b)
        assert a.get("eval_loss") == pytest.approx(b.get("eval_loss"), abs=1e-4), (a, b)
    assert [m["step"] for m in two if "eval_loss" in m] == [3, 6]
    assert two[-1]["loss"] < two[0]["loss"]
    weights_one, weights_two = _adapter(single_run), _adapter(run_dir)
    assert weights_one.keys() == weights_two.keys()
    worst = max(float((weights_one[k] - weights_two[k]).abs().max()) for k in weights_one)
    assert worst < 1e-4, worst
    moved = max(float(weights_two[k].abs().max()) for k in weights_two if "lora_B" in k)
    assert moved > 1e-3  # lora_B starts at zero: the adapters really trained
    # the checkpoint holds full (gathered) tensors, the same names and shapes as the single process's
    from safetensors.torch import load_file

    saved = load_file(str(run_dir / "checkpoints" / "step-6" / "trainable.safetensors"))
    reference = load_file(str(single_run / "checkpoints" / "step-6" / "trainable.safetensors"))
    assert {k: v.shape for k, v in saved.items()} == {k: v.shape for k, v in reference.items()}

    shown = json.loads(_cli(ws, "runs", "show", run).stdout)
    assert shown["status"] == "succeeded" and shown["summary"]["steps"] == 6
    records = [json.loads(x) for x in _cli(ws, "audit", "tail", "-n", "100", "--json").stdout.splitlines()]
    events = [r for r in records if r["target"] == run]
    assert [r["action"] for r in events] == ["train.start", "train.finish"]
    assert events[0]["details"]["world_size"] == 2
    assert _cli(ws, "audit", "verify").returncode == 0


def test_fsdp_run_resumes_from_a_checkpoint_to_the_same_weights(workspace: dict, single_run: Path) -> None:
    """The state a crash after step 4 leaves (row `running`, checkpoint step-3 the last complete one,
    metrics up to step 4), then `--resume` under FSDP: the same adapter as the uninterrupted run.

    The crash is simulated on a finished run (a real kill -9 races a tiny model's millisecond steps;
    the single-process kill -9 test is in test_train_cli.py)."""
    import shutil
    import sqlite3

    ws = workspace["ws"]
    env = _launch_env(ws, fsdp=True)

    def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
        command = [*launcher, "--master_port", str(free_port()), "-m", "stockade", "train", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)

    first = torchrun(str(_config(workspace, "fsdp-resume.yaml")), "--json-progress")
    assert first.returncode == 0, first.stderr[-3000:]
    run = json.loads(first.stdout.splitlines()[0])["run"]
    run_dir = ws / "runs" / run
    shutil.rmtree(run_dir / "checkpoints" / "step-6")
    shutil.rmtree(run_dir / "adapter")
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    (run_dir / "metrics.jsonl").write_text("\n".join(lines[:4]) + "\n")
    with sqlite3.connect(ws / "stockade.db") as db:
        db.execute("UPDATE training_runs SET status = 'running' WHERE id = ?", (run,))

    resumed = torchrun("--resume", run, "--json-progress")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [json.loads(x)["step"] for x in resumed.stdout.splitlines() if '"event": "progress"' in x]
    assert steps == [4, 5, 6]  # it continued from step-3, it did not start over
    a, b = _adapter(single_run), _adapter(run_dir)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-4, worst
    assert [m["step"] for m in _metrics(run_dir)] == [1, 2, 3, 4, 5, 6]  # step 4 again, not twice
    assert json.loads(_cli(ws, "runs", "show", run).stdout)["status"] == "succeeded"


def test_rank_context_defaults_to_one_process() -> None:
    from stockade.training.distributed import from_environment

    alone = from_environment() if "WORLD_SIZE" not in os.environ else DistContext()
    assert (alone.rank, alone.world_size, alone.enabled, alone.is_main) == (0, 1, False, True)
    assert DistContext(rank=1, world_size=2).enabled and not DistContext(rank=1, world_size=2).is_main


@pytest.mark.parametrize(
    ("deepspeed", "env", "kind", "named"),
    [
        ("ds_z3.json", {"ACCELERATE_USE_FSDP": "true"}, "lora", "two sharding engines"),
        (None, {"ACCELERATE_USE_DEEPSPEED": "1"}, "lora", "DeepSpeed"),
        (None, {"ACCELERATE_USE_FSDP": "true"}, "qlora", "4-bit"),
    ],
)
def test_engines_the_loop_does_not_run_are_refused(deepspeed, env, kind, named, monkeypatch) -> None:
    from stockade.core.errors import ConfigError
    from stockade.training.distributed import check_engine

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=named) as refused:
        check_engine(deepspeed, kind)
    assert "DDP" in refused.value.fix


def test_ddp_and_fsdp_lora_are_accepted(monkeypatch) -> None:
    from stockade.training.distributed import check_engine, from_environment

    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED", raising=False)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    check_engine(None, "qlora")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    check_engine(None, "lora")
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FSDP_SHARDING_STRATEGY", "SHARD_GRAD_OP")
    assert from_environment() == DistContext(1, 2, 1, fsdp=True, reshard_after_forward=False)
