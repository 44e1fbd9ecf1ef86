"""Helpers shared by the model-store, merge and architecture tests (in-process, tiny shapes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import REPO

SAMPLES = json.loads((REPO / "src/stockade/data/samples/finance_qa_zh.json").read_text(encoding="utf-8"))


def tiny_model(cache: dict[str, Path], root: Path, arch: str) -> Path:
    """A tiny ``arch`` model built once per test session (hidden 32, 2 layers), copied for each use."""
    from stockade.models.tiny import build_tiny_model

    if arch not in cache:
        cache[arch] = build_tiny_model(arch, root / f"built-{arch}", hidden_size=32).path
    return cache[arch]


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def import_dataset(context: Any, folder: Path, name: str, rows: int = 6) -> str:
    from stockade.data.imports import plan_imports, run_imports
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate

    data = folder / f"{name}.json"
    data.write_text(json.dumps(SAMPLES[:rows], ensure_ascii=False), encoding="utf-8")
    plans = plan_imports(
        path=data, name=name, formatting="auto", encoding="utf-8", dataset_dir=None, datasets=None
    )
    gate = import_gate(context.privacy_key(), load_policy(None, mode=None))
    outcomes = run_imports(
        context, plans, gate=gate, allow_reason=None, skip_invalid=False, max_problems=5, tokenizer=None
    )
    return outcomes[0].version.ref


def train_one_step(
    context: Any, model: str, dataset: str, template: str, finetuning_type: str = "lora"
) -> str:
    """One training step (LoRA rank 4, lr high enough to move the logits) on ``model``; returns the run id."""
    from stockade.core.specs import TrainSpec, load_spec
    from stockade.training.service import start_training

    spec = load_spec(
        TrainSpec,
        data={
            "model": model,
            "dataset": dataset,
            "template": template,
            "finetuning_type": finetuning_type,
            "lora_rank": 4,
            "max_steps": 1,
            "per_device_train_batch_size": 2,
            "cutoff_len": 64,
            "gradient_checkpointing": False,
            "learning_rate": 0.05,
            "save_steps": 100,
            "logging_steps": 1,
        },
    )
    outcome = start_training(context, spec)
    assert outcome.run.status == "succeeded"
    return outcome.run.id


def audit_actions(context: Any) -> list[tuple[str, str | None, str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from stockade.storage.tables import AuditRecord

    with Session(context.engine) as session:
        rows = session.execute(select(AuditRecord.action, AuditRecord.target, AuditRecord.result)).all()
    return [tuple(row) for row in rows]
