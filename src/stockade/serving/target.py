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
    if reference.kind == "path":
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
        return ServeTarget(
            servable.ref,
            model_path(root, row),
            spec.template or row.template,
            adapter,
            dev=servable.dev_mode,
            stage=servable.stage,
            verified=check.as_dict(),
            allow_pickle=load_policy(root).allow_pickle_weights,
        )


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
