"""Which weight files a model folder loads, decided as transformers decides, and the check of every
safetensors header before anything is registered.

transformers loads ``model.safetensors.index.json`` (its shards), else ``model.safetensors``, else
``pytorch_model.bin.index.json`` (its shards), else ``pytorch_model.bin``. Any other weight file in the
folder (``decoy.safetensors`` beside ``pytorch_model.bin``, a stray ``training_args.bin``) is refused: the
import would audit one format while loading another.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError

SAFE_INDEX, SAFE_SINGLE = "model.safetensors.index.json", "model.safetensors"
PICKLE_INDEX, PICKLE_SINGLE = "pytorch_model.bin.index.json", "pytorch_model.bin"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".h5", ".msgpack")
MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
# safetensors dtype → bits per element
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


class BadWeights(StockadeError):
    """The weight files are not what transformers would load, or a safetensors file is malformed."""

    exit_code = 2


@dataclass(frozen=True)
class WeightChoice:
    format: str  # "safetensors" or "pickle"; "" when the folder has no loadable weights
    files: tuple[str, ...]  # what transformers would load (relative POSIX paths)
    stray: tuple[str, ...]  # other weight files, never loaded


def weight_files(folder: Path) -> list[str]:
    """Every file under ``folder`` whose name says it holds weights (any format)."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.name.endswith(WEIGHT_SUFFIXES) and (path.is_file() or path.is_symlink())
    )


def _shards(folder: Path, index: str) -> tuple[str, ...]:
    try:
        value = json.loads((folder / index).read_text(encoding="utf-8"))
        weight_map = value.get("weight_map") if isinstance(value, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadWeights(f"{index} cannot be read as JSON: {error}", where=str(folder / index)) from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise BadWeights(
            f"{index} has no weight_map of tensor name → shard file",
            where=str(folder / index),
            fix="copy the index file again from the original release",
        )
    return tuple(sorted(set(weight_map.values())))


def choose_weights(folder: Path) -> WeightChoice:
    """What transformers would load from ``folder``, and the weight files it would leave alone."""
    if (folder / SAFE_INDEX).is_file():
        form, files = "safetensors", _shards(folder, SAFE_INDEX)
    elif (folder / SAFE_SINGLE).is_file():
        form, files = "safetensors", (SAFE_SINGLE,)
    elif (folder / PICKLE_INDEX).is_file():
        form, files = "pickle", _shards(folder, PICKLE_INDEX)
    elif (folder / PICKLE_SINGLE).is_file():
        form, files = "pickle", (PICKLE_SINGLE,)
    else:
        form, files = "", ()
    stray = tuple(name for name in weight_files(folder) if name not in files)
    return WeightChoice(form, files, stray)


def check_safetensors(path: Path) -> None:
    """Parse the header of a safetensors file and refuse it unless it is sane: a header length within the
    file, a JSON object, known dtypes, and tensors that tile the data area exactly (in order, no gaps)."""
    size = path.stat().st_size

    def bad(what: str) -> BadWeights:
        return BadWeights(
            f"{path.name} is not a valid safetensors file: {what}",
            where=str(path),
            fix="copy the file again from the original release (an interrupted or tampered copy is refused)",
        )

    if size < 8:
        raise bad("shorter than its 8-byte header length")
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > MAX_HEADER or 8 + length > size:
            raise bad(f"header length {length} does not fit the file ({size} bytes)")
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("the header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    header.pop("__metadata__", None)
    spans: list[tuple[int, int, str]] = []
    for name, tensor in header.items():
        spans.append(_tensor_span(name, tensor, bad))
    expected = 0
    for begin, end, name in sorted(spans):
        if begin != expected:
            raise bad(f"tensor {name!r} starts at byte {begin}, expected {expected} (overlap or gap)")
        expected = end
    if expected != size - 8 - length:
        raise bad(f"the tensors cover {expected} bytes but the data area holds {size - 8 - length}")


def _tensor_span(name: str, tensor: Any, bad: Any) -> tuple[int, int, str]:
    if not isinstance(tensor, dict):
        raise bad(f"tensor {name!r} is not described by an object")
    dtype, shape, offsets = tensor.get("dtype"), tensor.get("shape"), tensor.get("data_offsets")
    if dtype not in DTYPE_BITS:
        raise bad(f"tensor {name!r} has an unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad(f"tensor {name!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise bad(f"tensor {name!r} has invalid data_offsets {offsets!r}")
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8 or offsets[1] - offsets[0] != bits // 8:
        raise bad(f"tensor {name!r} ({dtype} {shape}) does not match its {offsets[1] - offsets[0]} bytes")
    return offsets[0], offsets[1], name


def use_safetensors(folder: Path, allow_pickle: bool) -> bool:
    """``use_safetensors`` for ``from_pretrained``: True (transformers then never falls back to pickle)
    unless the safety policy allows pickle and pickle is what the folder's weights are."""
    return not (allow_pickle and choose_weights(folder).format == "pickle")
