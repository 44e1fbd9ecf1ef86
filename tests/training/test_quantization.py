"""Quantised bases: an int8 (bitsandbytes) base trains LoRA for real; GPTQ/AWQ folders are refused with
the install line, before any weight is read, when their libraries are missing."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.errors import ConfigError, DependencyMissing  # noqa: E402
from stockade.core.specs import load_spec, parse_overrides  # noqa: E402
from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.records import Conversation  # noqa: E402
from stockade.data.templates import resolve_template  # noqa: E402
from stockade.data.tokenization import encode_conversation  # noqa: E402
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402
from stockade.training.metrics import read_metrics  # noqa: E402
from stockade.training.model_setup import load_for_training  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0)
    return path


def _spec(**keys: object) -> TrainSpec:
    base: dict[str, object] = {"precision": "fp32", "gradient_checkpointing": False, "plot_loss": False}
    return TrainSpec.model_validate({**base, **keys})


@pytest.mark.parametrize("bits", ["4", "8"])
def test_the_command_line_takes_quantization_bit(bits: str) -> None:
    spec = load_spec(
        TrainSpec, data={"model": "m"}, overrides=parse_overrides([f"--quantization_bit={bits}"])
    )
    assert spec.quantization_bit == int(bits)
    assert spec.finetuning_type == ("qlora" if bits == "4" else "lora")


@pytest.mark.slow
def test_int8_base_trains_lora(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes", minversion="0.50")  # 8-bit Linear on CPU from 0.50
    from transformers import AutoTokenizer

    spec = _spec(
        quantization_bit=8, max_steps=6, learning_rate=1e-2, logging_steps=1, lr_scheduler_type="constant"
    )
    loaded = load_for_training(tiny, spec)
    int8 = [m for m in loaded.model.modules() if type(m).__name__ == "Linear8bitLt"]
    assert int8 and all(m.weight.dtype == torch.int8 for m in int8)  # the frozen base really is int8
    assert not [m for m in loaded.model.modules() if type(m).__name__ == "Linear4bit"]
    trainable = [n for n, p in loaded.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)

    tokenizer = AutoTokenizer.from_pretrained(str(tiny), local_files_only=True)
    template = resolve_template("qwen", tokenizer)
    examples = [
        encode_conversation(
            Conversation.model_validate(
                {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            ),
            tokenizer,
            template,
            cutoff_len=64,
        )
        for q, a in [("什么是LPR？", "贷款市场报价利率。"), ("什么是KYC？", "了解你的客户。")]
    ]
    result = run_training(TrainInputs(tiny, spec, examples, [], tmp_path / "run", tokenizer.pad_token_id))
    losses = [r["loss"] for r in read_metrics(result.metrics_path)]
    assert len(losses) == 6 and losses[-1] < losses[0] * 0.8
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()


def test_int8_without_bitsandbytes_fails_before_loading(tiny: Path, monkeypatch) -> None:
    import sys

    import transformers

    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import bitsandbytes -> ImportError

    def no_load(*args, **kwargs):
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_load)
    with pytest.raises(DependencyMissing, match=r"8-bit base.*bitsandbytes"):
        load_for_training(tiny, _spec(quantization_bit=8))


def _quantised_folder(tiny: Path, tmp_path: Path, method: str) -> Path:
    """A model folder whose config says it is GPTQ/AWQ-quantised, with no weights at all: a refusal
    that comes from it was made before any weight was read."""
    folder = tmp_path / method
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        if (tiny / name).is_file():
            shutil.copy(tiny / name, folder / name)
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = {"quant_method": method, "bits": 4, "group_size": 128}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("method", "modules", "install"),
    [
        ("gptq", ("optimum", "gptqmodel", "auto_gptq"), "pip install optimum gptqmodel"),
        ("awq", ("awq", "gptqmodel"), "pip install autoawq"),
    ],
)
def test_gptq_awq_folder_without_its_library_is_refused_with_the_install_line(
    tiny: Path, tmp_path: Path, method: str, modules: tuple[str, ...], install: str
) -> None:
    if (
        method == "gptq"
        and importlib.util.find_spec("optimum")
        and any(importlib.util.find_spec(m) for m in modules[1:])
    ):
        pytest.skip("GPTQ libraries installed")
    if method == "awq" and any(importlib.util.find_spec(m) for m in modules):
        pytest.skip("AWQ libraries installed")
    folder = _quantised_folder(tiny, tmp_path, method)
    with pytest.raises(DependencyMissing) as refused:
        load_for_training(folder, _spec())
    text = str(refused.value)
    assert f"{method.upper()}-quantised" in text and install in text and "quant_method" in text


def test_a_quantised_folder_trains_adapters_only(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    folder = _quantised_folder(tiny, tmp_path, "gptq")
    from stockade.training import model_setup

    # as if the GPTQ libraries were installed: modules that always import
    monkeypatch.setitem(model_setup.PREQUANTIZED, "gptq", ((("json",),), "pip install optimum gptqmodel"))
    for keys in ({"finetuning_type": "full"}, {"quantization_bit": 8}):
        with pytest.raises(ConfigError, match="already quantised"):
            load_for_training(folder, _spec(**keys))
    (tmp_path / "x").mkdir()
    bad = _quantised_folder(tiny, tmp_path / "x", "fp8")
    with pytest.raises(ConfigError, match="quantised with fp8 cannot be trained"):
        load_for_training(bad, _spec())
