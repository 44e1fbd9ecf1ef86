from __future__ import annotations

from pathlib import Path

import pytest

from stockade.core.errors import ModelReferenceError
from stockade.core.references import parse_model_reference


def test_local_folder(tmp_path: Path) -> None:
    (tmp_path / "models" / "Qwen-7B").mkdir(parents=True)
    ref = parse_model_reference("models/Qwen-7B", base_dir=tmp_path)
    assert ref.kind == "path" and ref.path == (tmp_path / "models" / "Qwen-7B").resolve()


@pytest.mark.parametrize(
    ("text", "name", "version"), [("finance", "finance", None), ("qwen2-7b@v3", "qwen2-7b", 3)]
)
def test_registered(text: str, name: str, version: int | None) -> None:
    ref = parse_model_reference(text)
    assert (ref.kind, ref.name, ref.version) == ("registered", name, version)


@pytest.mark.parametrize("text", ["Qwen/Qwen3-4B-Instruct-2507", "https://huggingface.co/Qwen/Qwen2-7B"])
def test_hub_ids_are_refused_with_import_instructions(text: str) -> None:
    with pytest.raises(ModelReferenceError) as caught:
        parse_model_reference(text)
    message = str(caught.value)
    assert "never downloads" in message
    assert "stockade model import" in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelReferenceError, match="not found"):
        parse_model_reference(str(tmp_path / "nope" / "deeper" / "x"))
