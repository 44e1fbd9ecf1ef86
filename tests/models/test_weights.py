"""Import checks what will be loaded (issue 14, item 4): the weights transformers would load, no stray
weight files, sane safetensors headers, every form of ``auto_map`` through the remote-code allowlist;
loading never falls back to pickle unless the policy allows it."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from stockade.models.store.safety import POLICY_FILE, UnsafeModel
from stockade.models.store.service import import_model, list_models
from stockade.models.store.weights import BadWeights, check_safetensors, choose_weights
from tests.models.store_setup import copy_model, tiny_model

BUILT: dict[str, Path] = {}


def _safetensors(path: Path, header: object, data: bytes = b"", *, length: int | None = None) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


GOOD = {"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize(
    ("header", "data", "length", "message"),
    [
        (GOOD, b"\0" * 8, None, None),
        (GOOD, b"\0" * 8, 2**40, "header length"),
        (b"not json{", b"", None, "not JSON"),
        ([1, 2], b"", None, "not a JSON object"),
        ({"a": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, None, "unknown dtype"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, None, "data area"),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8, None, "does not match"),
        (
            {
                "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
            },
            b"\0" * 12,
            None,
            "overlap or gap",
        ),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, b"\0" * 8, None, "invalid shape"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8, None, "data_offsets"),
    ],
)
def test_safetensors_headers_are_checked(tmp_path: Path, header, data, length, message) -> None:
    path = _safetensors(tmp_path / "model.safetensors", header, data, length=length)
    if message is None:
        check_safetensors(path)
        return
    with pytest.raises(BadWeights, match=message):
        check_safetensors(path)


def test_the_weights_are_chosen_as_transformers_chooses(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    (tmp_path / "decoy.safetensors").write_bytes(b"x")
    choice = choose_weights(tmp_path)
    assert (choice.format, choice.files, choice.stray) == (
        "pickle",
        ("pytorch_model.bin",),
        ("decoy.safetensors",),
    )
    index = {"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    choice = choose_weights(tmp_path)
    assert choice.format == "safetensors" and choice.files == ("model-1.safetensors", "model-2.safetensors")
    assert choice.stray == ("decoy.safetensors", "pytorch_model.bin")


torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(BUILT, tmp_path_factory.mktemp("weights-models"), "qwen2")


def _pickled(built: Path, target: Path) -> Path:
    """The tiny model with its weights saved as pytorch_model.bin (pickle) instead of safetensors."""
    from transformers import AutoModelForCausalLM

    folder = copy_model(built, target)
    (folder / "model.safetensors").unlink()
    model = AutoModelForCausalLM.from_pretrained(str(built))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def test_a_decoy_safetensors_beside_pickle_weights_is_refused(context, built: Path, tmp_path: Path) -> None:
    folder = _pickled(built, tmp_path / "decoy")
    _safetensors(folder / "decoy.safetensors", GOOD, b"\0" * 8)
    (context.workspace.root / POLICY_FILE).write_text("allow_pickle_weights: true\n")  # even then
    with pytest.raises(BadWeights) as error:
        import_model(context, folder, "decoy")
    assert "decoy.safetensors" in str(error.value) and "pytorch_model.bin" in str(error.value)
    (context.workspace.root / POLICY_FILE).unlink()
    (folder / "decoy.safetensors").unlink()
    with pytest.raises(UnsafeModel, match=r"pytorch_model\.bin"):  # the pickle itself: policy decides
        import_model(context, folder, "decoy")
    assert list_models(context) == []


def test_a_stray_pickle_beside_safetensors_is_refused(context, built: Path, tmp_path: Path) -> None:
    folder = copy_model(built, tmp_path / "stray")
    (folder / "training_args.bin").write_bytes(b"pickle")
    with pytest.raises(BadWeights, match=r"training_args\.bin"):
        import_model(context, folder, "stray")


def test_a_corrupted_safetensors_header_is_refused_at_import(context, built: Path, tmp_path: Path) -> None:
    folder = copy_model(built, tmp_path / "corrupt")
    with (folder / "model.safetensors").open("r+b") as handle:
        handle.write(struct.pack("<Q", 2**40))
    with pytest.raises(BadWeights, match="header length"):
        import_model(context, folder, "corrupt")


@pytest.mark.parametrize(
    ("file", "auto_map"),
    [
        ("config.json", "modeling_evil.EvilForCausalLM"),
        ("config.json", ["modeling_evil.EvilForCausalLM"]),
        ("tokenizer_config.json", {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}),
    ],
)
def test_every_form_of_auto_map_goes_through_the_allowlist(
    context, built: Path, tmp_path: Path, file: str, auto_map
) -> None:
    folder = copy_model(built, tmp_path / "remote")
    path = folder / file
    value = json.loads(path.read_text()) if path.is_file() else {}
    value["auto_map"] = auto_map
    path.write_text(json.dumps(value))
    with pytest.raises(UnsafeModel, match=re.escape(f"{file} has an auto_map")):
        import_model(context, folder, "remote")
    (folder / "modeling_evil.py").write_text("import os\n")
    with pytest.raises(UnsafeModel, match=r"modeling_evil\.py sha256"):
        import_model(context, folder, "remote")


def test_loading_never_falls_back_to_pickle_unless_allowed(built: Path, tmp_path: Path) -> None:
    from stockade.serving.hf_loader import load_model

    folder = _pickled(built, tmp_path / "pickled")
    with pytest.raises(OSError, match="safetensors"):
        load_model(folder, adapter=None, device="cpu", load_in_4bit=False)
    model, _ = load_model(folder, adapter=None, device="cpu", load_in_4bit=False, allow_pickle=True)
    assert model is not None
