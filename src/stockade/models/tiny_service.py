"""The audited service behind `stockade dev tiny-model`."""

from __future__ import annotations

from pathlib import Path

from stockade.audit import AuditSink
from stockade.core.hashing import sha256_file
from stockade.models.tiny import TinyModelInfo, build_tiny_model


def build_tiny_model_recorded(
    sink: AuditSink | None, arch: str, out: Path, *, seed: int = 0
) -> TinyModelInfo:
    """Build a tiny model and, when a workspace is open, record it with the weights' hash."""
    info = build_tiny_model(arch, out, seed=seed)
    if sink is not None:
        weights = info.path / "model.safetensors"
        sink.record(
            "model.tiny.build",
            str(info.path.resolve()),
            arch=info.arch,
            seed=seed,
            parameters=info.num_parameters,
            weights_sha256=sha256_file(weights) if weights.is_file() else None,
        )
    return info
