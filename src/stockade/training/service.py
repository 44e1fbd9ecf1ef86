"""`stockade train`: resolve → record the run (audited) → train → record the outcome (audited).

A run's row and folder exist from the moment training starts, so a crash leaves a ``running`` row
that `--resume` picks up; every end — success, failure, interruption — is written with its reason.

Under torchrun every rank calls these functions; rank 0 alone creates the run (its id is broadcast),
writes the row, the files and the audit events (:mod:`stockade.training.distributed`).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.core.hashing import canonical_json
from stockade.core.references import parse_model_reference
from stockade.core.specs import TrainSpec, load_spec
from stockade.resources import fit
from stockade.storage.staging import crash_window
from stockade.storage.tables import TrainingRun
from stockade.training import distributed
from stockade.training.distributed import DistContext
from stockade.training.options import copy_atomically, output_dir_of, prepare_spec
from stockade.training.recipe import decide, device_facts, read_model_config
from stockade.training.resolve import TrainPlan, encode_datasets, load_tokenizer_and_template, resolve_plan
from stockade.training.runs import RunView, get_run, new_run_id, record_process

SPEC_FILE = "spec.yaml"
LINEAGE_FILE = "lineage.json"
TOKEN_CACHE = ("cache", "tokenized")  # under the workspace root: see stockade.training.token_cache
LIBRARIES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "bitsandbytes", "stockade")


def environment() -> dict[str, Any]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.machine()})"
    return {"python": platform.python_version(), "libraries": versions, "device": device}


@dataclass
class TrainOutcome:
    run: RunView
    result: Any


def _latest_checkpoint(run_dir: Path) -> Path | None:
    steps = sorted((run_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-", 1)[1]))
    return steps[-1] if steps else None


def _set_status(
    context: Any,
    run_id: str,
    action: str,
    status: str,
    *,
    reason: str | None = None,
    summary: dict[str, Any] | None = None,
) -> RunView:
    with Session(context.engine) as session, session.begin():
        row = get_run(session, run_id)
        row.status, row.reason = status, reason
        if status != "running":
            row.finished_at = utc_now()
        if summary is not None:
            row.summary = canonical_json(summary)
        context.record(
            action,
            run_id,
            session=session,
            result="ok" if status != "failed" else "error",
            reason=reason,
            status=status,
            **(summary or {}),
        )
        return RunView.of(row)


def start_training(
    context: Any,
    spec: TrainSpec,
    *,
    progress: Callable[[Any], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    verify: str = "fast",
    force: bool = False,
) -> TrainOutcome:
    """Train ``spec`` as a new run in the workspace (one rank of several under torchrun). A run whose
    memory estimate exceeds the free memory is refused before any weight loads, unless ``force``."""
    workspace = context.workspace
    spec, start_adapter, plan = resolve_training(context, spec, verify)
    dist = distributed.from_environment(spec)
    if dist.zero is not None:  # recorded as read: a resume from another folder finds the same file
        spec = spec.model_copy(update={"deepspeed": dist.zero.path})
    fit.check_training_fit(spec, plan.model_dir, force=force, dist=dist)
    distributed.setup(dist, spec.ddp_timeout)
    data = encode_datasets(plan, token_cache_dir(workspace))
    run_id = distributed.broadcast(dist, new_run_id() if dist.is_main else None)
    run_dir = workspace.folder("runs") / run_id
    if not dist.is_main:
        distributed.barrier(dist)  # rank 0 has created the run folder and row
        return _run(context, run_id, run_dir, plan.model_dir, spec, data, None, None, dist)
    run_dir.mkdir(mode=0o700)
    if dist.zero is not None:
        print(dist.zero.line(), file=sys.stderr, flush=True)  # stdout stays the --json-progress stream
    lineage = {
        "run": run_id,
        "base_model": {
            "reference": spec.model,
            "path": str(plan.model_dir),
            "manifest_sha256": plan.model_manifest_sha256,
            "registered": parse_model_reference(spec.model or "").kind == "registered",
            "dev_mode": workspace.settings.dev_mode,
        },
        "datasets": [d.lineage() for d in plan.datasets],
        "eval_datasets": [d.lineage() for d in plan.eval_datasets],
        "start_adapter": start_adapter,
        "stage": spec.stage,
        "template": data.template,
        "examples": {
            "records": data.records,
            "train": len(data.train),
            "eval": len(data.eval),
            "skipped": data.skipped,
        },
        "recipe": decide(
            spec, read_model_config(plan.model_dir), device_facts(dist.local_rank), fsdp=dist.fsdp
        ).facts(),
        "environment": environment(),
        "user": context.actor.name,
        "deepspeed": dist.zero.facts() if dist.zero is not None else None,
    }
    record_process(run_dir)  # a run whose process is gone is marked failed (interrupted) on the next open
    (run_dir / SPEC_FILE).write_text(
        yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    (run_dir / LINEAGE_FILE).write_text(json.dumps(lineage, ensure_ascii=False, indent=2), encoding="utf-8")
    with Session(context.engine) as session, session.begin():
        session.add(
            TrainingRun(
                id=run_id,
                created_at=utc_now(),
                created_by=context.actor.name,
                status="running",
                base_model=str(plan.model_dir),
                base_manifest_sha256=plan.model_manifest_sha256,
                datasets=canonical_json(lineage["datasets"]),
                spec=canonical_json(spec.model_dump(mode="json")),
                environment=canonical_json(lineage["environment"]),
                summary="{}",
                path=str(run_dir.relative_to(workspace.root)),
            )
        )
        context.record(
            "train.start",
            run_id,
            session=session,
            base_manifest_sha256=plan.model_manifest_sha256,
            datasets=[d.ref for d in plan.datasets],
            finetuning_type=spec.finetuning_type,
            stage=spec.stage,
            world_size=dist.world_size,
            **({"deepspeed": dist.zero.facts()} if dist.zero is not None else {}),
        )
    distributed.barrier(dist)
    if on_start:
        on_start(run_id)
    crash_window("train.started")  # recorded as running, no checkpoint yet
    return _run(context, run_id, run_dir, plan.model_dir, spec, data, None, progress, dist)


def resume_training(
    context: Any, run_id: str, *, progress: Callable[[Any], None] | None = None, verify: str = "fast"
) -> TrainOutcome:
    """Continue a run that stopped (crash, kill, failure) from its last checkpoint."""
    workspace = context.workspace
    with Session(context.engine) as session:
        row = get_run(session, run_id)
        status, path = row.status, row.path
    if status in ("succeeded", "removed"):
        raise StockadeError(f"{run_id} is {status}; there is nothing to resume")
    run_dir = workspace.root / path
    spec = load_spec(TrainSpec, run_dir / SPEC_FILE)
    distributed.check_engine(spec.deepspeed, spec.finetuning_type)
    dist = distributed.from_environment(spec)
    _check_same_deepspeed_file(run_dir, dist)
    if dist.zero is not None and dist.is_main:
        print(dist.zero.line(), file=sys.stderr, flush=True)
    distributed.setup(dist, spec.ddp_timeout)
    checkpoint = _latest_checkpoint(run_dir)
    if checkpoint is None:
        raise StockadeError(f"{run_id} has no checkpoint yet", fix="start it again with `stockade train`")
    plan = _resolve_plan(context, spec, verify)
    data = encode_datasets(plan, token_cache_dir(workspace))
    if dist.is_main:
        record_process(run_dir)
        _set_status(context, run_id, "train.resume", "running", reason=f"from {checkpoint.name}")
    return _run(context, run_id, run_dir, plan.model_dir, spec, data, checkpoint, progress, dist)


def _run(
    context: Any,
    run_id: str,
    run_dir: Path,
    model_dir: Path,
    spec: TrainSpec,
    data: Any,
    checkpoint: Path | None,
    progress: Callable[[Any], None] | None,
    dist: DistContext = distributed.SINGLE,
) -> TrainOutcome:
    from stockade.training.loop import TrainInputs, run_training

    if not dist.is_main:  # the other ranks train and leave the bookkeeping to rank 0
        inputs = TrainInputs(
            model_dir, spec, data.train, data.eval, run_dir, data.pad_token_id, checkpoint, dist
        )
        result = run_training(inputs)
        distributed.teardown(dist)
        with Session(context.engine) as session:
            return TrainOutcome(RunView.of(get_run(session, run_id)), result)

    inputs = TrainInputs(
        model_dir=model_dir,
        spec=spec,
        train=data.train,
        eval=data.eval,
        run_dir=run_dir,
        pad_token_id=data.pad_token_id,
        resume_from=checkpoint,
        dist=dist,
    )
    try:
        result = run_training(inputs, progress=progress)
    except KeyboardInterrupt:
        _set_status(context, run_id, "train.interrupt", "interrupted", reason="interrupted by the user")
        raise
    except StockadeError as exc:
        _set_status(context, run_id, "train.fail", "failed", reason=exc.what)
        raise
    except Exception as exc:
        _set_status(context, run_id, "train.fail", "failed", reason=f"{exc.__class__.__name__}: {exc}")
        raise
    summary = {
        "final_loss": round(float(result.final_loss), 6),
        "steps": result.steps,
        "tokens": result.tokens,
        "seconds": round(result.seconds, 2),
    }
    if spec.output_dir:
        target = output_dir_of(spec)
        copy_atomically(result.adapter_dir, target)
        summary["output_dir"] = str(target)
    view = _set_status(context, run_id, "train.finish", "succeeded", summary=summary)
    distributed.teardown(dist)
    return TrainOutcome(view, result)


def resolve_training(
    context: Any, spec: TrainSpec, verify: str = "fast"
) -> tuple[TrainSpec, dict[str, Any] | None, TrainPlan]:
    """Everything a new run resolves before loading weights, in order, raising the first problem: the
    engine, the run options (paths by core/paths.py, the starting adapter), the base model (checked
    against its manifest) and the gated dataset versions. A real run and ``--dry-run`` both call it."""
    distributed.check_engine(spec.deepspeed, spec.finetuning_type)
    spec, start_adapter = prepare_spec(context.workspace, spec)
    return spec, start_adapter, _resolve_plan(context, spec, verify)


def dry_run(context: Any, spec: TrainSpec, verify: str = "fast") -> tuple[TrainSpec, dict[str, Any]]:
    """``stockade train --dry-run``: :func:`resolve_training`, then the template with the model's tokenizer
    (as the real run does before tokenizing); no weights load, nothing is written."""
    spec, start_adapter, plan = resolve_training(context, spec, verify)
    _, template = load_tokenizer_and_template(plan)
    dist = distributed.from_environment(spec)
    recipe = decide(spec, read_model_config(plan.model_dir), device_facts(dist.local_rank), fsdp=dist.fsdp)
    return spec, {
        **({"deepspeed": dist.zero.line()} if dist.zero is not None else {}),
        "model": str(plan.model_dir),
        "model_manifest_sha256": plan.model_manifest_sha256,
        "datasets": [f"{d.ref} ({d.rows} rows, {d.privacy})" for d in plan.datasets],
        "eval_datasets": [d.ref for d in plan.eval_datasets],
        "stage": spec.stage,
        "template": template.name,
        "start_adapter": start_adapter["path"] if start_adapter else None,
        "output_dir": spec.output_dir,
        **recipe.facts(),
    }


def _check_same_deepspeed_file(run_dir: Path, dist: DistContext) -> None:
    """A resumed run must map the same DeepSpeed file it started with (its SHA-256 is in the lineage)."""
    if dist.zero is None:
        return
    started = json.loads((run_dir / LINEAGE_FILE).read_text(encoding="utf-8")).get("deepspeed") or {}
    if started.get("sha256") != dist.zero.sha256:
        raise StockadeError(
            f"the DeepSpeed file {dist.zero.path} changed since the run started",
            where="train spec: deepspeed",
            fix="restore the file the run started with (its SHA-256 is in the run's lineage.json)",
        )


def token_cache_dir(workspace: Any) -> Path:
    """Where tokenized datasets are cached (:mod:`stockade.training.token_cache`)."""
    return workspace.root.joinpath(*TOKEN_CACHE)


def _resolve_plan(context: Any, spec: TrainSpec, verify: str) -> Any:
    """The spec resolved against the workspace, the base model checked against its manifest."""
    workspace = context.workspace
    return resolve_plan(
        context.engine,
        workspace.root,
        workspace.settings.dev_mode,
        spec,
        verify=verify,
        record=context.record,
    )
