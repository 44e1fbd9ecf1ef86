"""What to serve: a registered version that governance allows, or (dev mode) a local folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import ModelReferenceError, StockadeError
from stockade.core.references import parse_model_reference


class NotServable(StockadeError):
    """A local folder outside dev mode (registered versions: governance's ``require_servable``)."""

    exit_code = 3


@dataclass(frozen=True)
class AdapterTarget:
    """One adapter version served unmerged on the base: what requests name it, where its files are."""

    label: str  # NAME@vN: the ``model`` (OpenAI) or ``adapter_id`` (TGI) that chooses it
    path: Path
    stage: str | None = None
    verified: dict[str, Any] | None = None
    dev: bool = False  # served without approval (dev mode)


@dataclass(frozen=True)
class ServeTarget:
    label: str  # NAME@vN, or the folder (dev mode): what clients see as the model id
    path: Path
    template: str | None
    adapter: Path | None
    dev: bool  # served without approval
    stage: str | None = None
    # the check of the files against the manifest before loading (mode, files, hashed); None: a dev folder
    verified: dict[str, Any] | None = None
    allow_pickle: bool = False  # the workspace's safety policy accepts pickle weights (use_safetensors off)
    adapters: tuple[AdapterTarget, ...] = ()  # served unmerged, chosen per request (``--adapters``)
    # the training run's precision (bf16 | fp16 | fp32), the compute dtype of 4-bit weights; None: unknown
    precision: str | None = None


def resolve_target(context: Any, spec: Any) -> ServeTarget:
    """Resolve ``spec.model`` / ``spec.adapter`` in the workspace ``context`` (a WorkspaceContext)."""
    if not spec.model:
        raise ModelReferenceError(
            "no model to serve", fix="pass --model NAME@vN (or --model_name_or_path FOLDER in dev mode)"
        )
    root = context.workspace.root
    dev = bool(spec.dev or context.workspace.settings.dev_mode)
    reference = parse_model_reference(spec.model, base_dir=root, where="serve: model")
    adapter = _adapter_path(context, spec.adapter) if spec.adapter else None
    adapters = getattr(spec, "adapters", None) or []
    if reference.kind == "path":
        if adapters:
            raise ModelReferenceError(
                "--adapters needs a registered base version: each adapter's base is checked by manifest hash",
                where=spec.model,
                fix="register the base (`stockade model import`) and serve it as NAME@vN",
            )
        if not dev:
            raise NotServable(
                "a local folder can only be served in dev mode: production serves approved versions",
                where=spec.model,
                fix="register and approve it (`stockade model import`, `stockade registry`), or pass --dev",
            )
        return ServeTarget(str(reference.path), reference.path, spec.template, adapter, dev=True)
    from stockade.governance.lifecycle import require_servable
    from stockade.models.store.integrity import verify_before_use
    from stockade.models.store.resolve import model_path, resolve_model_version
    from stockade.models.store.safety import load_policy
    from stockade.storage.database import make_session_factory

    with make_session_factory(context.engine)() as session:
        row = resolve_model_version(session, reference.text)
        servable = require_servable(session, row, dev)
        check = verify_before_use(
            root, row, purpose="serving", mode=getattr(spec, "verify", "fast"), record=context.record
        )
        served = tuple(_served_adapter(context, session, spec, row, ref, dev) for ref in adapters)
        labels = [a[0].label for a in served]
        if len(set(labels)) != len(labels) or servable.ref in labels:
            raise ModelReferenceError(
                f"--adapters names a version twice: {', '.join(adapters)}", fix="list each adapter once"
            )
        precisions = {p for p in [_run_precision(session, row), *(a[1] for a in served)] if p}
        return ServeTarget(
            servable.ref,
            model_path(root, row),
            spec.template or row.template,
            adapter,
            dev=servable.dev_mode or any(a[0].dev for a in served),
            stage=servable.stage,
            verified=check.as_dict(),
            allow_pickle=load_policy(root).allow_pickle_weights,
            adapters=tuple(a[0] for a in served),
            precision=precisions.pop() if len(precisions) == 1 else None,
        )


def _served_adapter(
    context: Any, session: Any, spec: Any, base: Any, reference: str, dev: bool
) -> tuple[AdapterTarget, str | None]:
    """One ``--adapters`` entry: an active adapter version, servable (approved, or dev mode), whose
    files match its manifest and whose training base is the served base (by manifest hash)."""
    import json

    from stockade.governance.lifecycle import require_servable
    from stockade.models.store.integrity import verify_before_use
    from stockade.models.store.resolve import model_path, resolve_model_version

    parsed = parse_model_reference(reference, base_dir=context.workspace.root, where="serve: adapters")
    if parsed.kind == "path":
        raise ModelReferenceError(
            "--adapters takes registered adapter versions NAME@vN, not folders",
            where=reference,
            fix="register the run's adapter (`stockade export RUN` without --merge) and name its version",
        )
    row = resolve_model_version(session, reference)
    ref = f"{row.name}@v{row.version}"
    if row.kind != "adapter":
        raise ModelReferenceError(
            f"{ref} is a {row.kind} model, not an adapter",
            where="serve: adapters",
            fix="list adapter versions (`stockade export RUN` without merging registers one)",
        )
    lineage = json.loads(row.lineage or "{}")
    trained_on = lineage.get("base_manifest_sha256")
    if trained_on != base.manifest_sha256:
        raise ModelReferenceError(
            f"{ref} was trained on another base ({lineage.get('base_version') or 'unknown'}, manifest "
            f"{str(trained_on)[:12]}), not on {base.name}@v{base.version} "
            f"(manifest {base.manifest_sha256[:12]})",
            where="serve: adapters",
            fix=f"serve {ref} on the base it was trained on, or leave it out of --adapters",
        )
    servable = require_servable(session, row, dev)
    check = verify_before_use(
        context.workspace.root,
        row,
        purpose="serving",
        mode=getattr(spec, "verify", "fast"),
        record=context.record,
    )
    target = AdapterTarget(
        servable.ref,
        model_path(context.workspace.root, row),
        servable.stage,
        check.as_dict(),
        dev=servable.dev_mode,
    )
    return target, _run_precision(session, row)


def _run_precision(session: Any, row: Any) -> str | None:
    """The precision its training run used (bf16 | fp16 | fp32), when the version came from a run that
    says; ``auto`` and versions without a run: None."""
    import json

    from stockade.storage.tables import TrainingRun

    run_id = json.loads(row.lineage or "{}").get("run")
    run = session.get(TrainingRun, run_id) if run_id else None
    if run is None:
        return None
    precision = json.loads(run.spec or "{}").get("precision")
    return precision if precision in ("bf16", "fp16", "fp32") else None


def _adapter_path(context: Any, adapter: str) -> Path:
    folder = Path(adapter).expanduser()
    if not folder.is_dir():
        from stockade.storage.database import make_session_factory
        from stockade.training.runs import get_run

        with make_session_factory(context.engine)() as session:
            run = get_run(session, adapter)
            folder = context.workspace.root / run.path / "adapter"
    if not (folder / "adapter_config.json").is_file():
        raise ModelReferenceError(
            "not an adapter folder (no adapter_config.json)",
            where=str(folder),
            fix="pass a run id whose run trained LoRA, or a run's adapter/ folder",
        )
    return folder
