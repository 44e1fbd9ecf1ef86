"""The default recipe of `stockade train` is fast and changes no result.

* the chunked cross-entropy equals the full-logit loss, value and gradients;
* through the loop's own setup, the default loss equals the model's own loss on the tiny model;
* a packed step has the same loss and gradient norm as the unpacked step on the same examples;
* recompute, the loss and packing follow the recipe, and each choice says why.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.tokenization import IGNORE_INDEX  # noqa: E402
from stockade.training.loss import chunked_cross_entropy  # noqa: E402
from stockade.training.recipe import GIB, DeviceFacts, decide, memory_estimate  # noqa: E402

torch.set_num_threads(2)

QWEN_7B = {
    "model_type": "qwen2",
    "hidden_size": 3584,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "intermediate_size": 18944,
    "vocab_size": 152064,
    "tie_word_embeddings": False,
}
CPU = DeviceFacts("cpu", "cpu", None)


@pytest.mark.parametrize("train_weight", [False, True])
def test_chunked_cross_entropy_matches_full_logits(train_weight: bool) -> None:
    torch.manual_seed(0)
    hidden = torch.randn(2, 37, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=train_weight)
    labels = torch.randint(0, 50, (2, 37))
    labels[0, :5] = IGNORE_INDEX
    labels[1, 30:] = IGNORE_INDEX
    wanted = [hidden, weight] if train_weight else [hidden]

    chunked = chunked_cross_entropy(hidden, weight, labels, chunk=8) * 3.0  # a scaled use, as the loop's
    grads_chunked = torch.autograd.grad(chunked, wanted)
    logits = (hidden @ weight.T)[:, :-1].reshape(-1, 50)
    full = torch.nn.functional.cross_entropy(logits, labels[:, 1:].reshape(-1), ignore_index=-100) * 3.0
    grads_full = torch.autograd.grad(full, wanted)
    assert torch.allclose(chunked, full, rtol=1e-10)
    for a, b in zip(grads_chunked, grads_full, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_chunked_cross_entropy_with_nothing_to_learn_is_zero_not_nan() -> None:
    hidden = torch.randn(1, 4, 8, requires_grad=True)
    loss = chunked_cross_entropy(hidden, torch.randn(10, 8), torch.full((1, 4), IGNORE_INDEX))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.count_nonzero(hidden.grad) == 0


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


def _examples(count: int, vocab: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        ids = [rng.randrange(10, vocab) for _ in range(rng.randrange(12, 60))]
        prompt = rng.randrange(2, 8)
        out.append(Example(ids, [IGNORE_INDEX] * prompt + ids[prompt:]))
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stockade.models.tiny import build_tiny_model

    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0)
    return path


def _loss_and_grads(model_dir: Path, spec: TrainSpec, rows: list) -> tuple[float, dict]:
    """One forward/backward through the loop's own setup, collation and loss."""
    from stockade.training.loop_run import Run
    from stockade.training.model_setup import load_for_training

    loaded = load_for_training(model_dir, spec)
    run = Run.__new__(Run)
    run.spec, run.loaded, run.model, run.forward_model = spec, loaded, loaded.model, loaded.model
    run.inputs, run.autocast = type("Inputs", (), {"pad_token_id": 0})(), False
    loss = run._loss(run._collate(rows))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in loaded.model.named_parameters() if p.grad is not None}
    return float(loss), grads


@pytest.mark.slow
def test_default_loss_equals_the_models_own_loss(tiny: Path) -> None:
    from stockade.data.packing import single_sequences

    rows = single_sequences(_examples(6, 2000))
    base = {"precision": "fp32", "seed": 3, "lora_target": ["all"]}
    spec = TrainSpec.model_validate(base)
    assert spec.cross_entropy == "chunked"  # the default
    chunked, grads_chunked = _loss_and_grads(tiny, spec, rows)
    full, grads_full = _loss_and_grads(
        tiny, TrainSpec.model_validate({**base, "cross_entropy": "full"}), rows
    )
    assert chunked == pytest.approx(full, rel=1e-5)
    assert grads_chunked.keys() == grads_full.keys() and grads_chunked
    for name, grad in grads_chunked.items():
        assert torch.allclose(grad, grads_full[name], rtol=1e-4, atol=1e-6), name


@pytest.mark.slow
def test_packed_training_step_equals_unpacked(tiny: Path, tmp_path: Path) -> None:
    """Same examples, one optimizer step: packed rows (block-causal) and one example per row agree."""
    from stockade.training.loop import TrainInputs, run_training
    from stockade.training.metrics import read_metrics

    examples = _examples(12, 2000, seed=1)
    logged = {}
    for packing in (True, False):
        spec = TrainSpec.model_validate(
            {
                "precision": "fp32",
                "seed": 5,
                "packing": packing,
                "cutoff_len": 128,
                "per_device_train_batch_size": 12,  # every row in the one micro-batch
                "max_steps": 1,
                "logging_steps": 1,
                "plot_loss": False,
            }
        )
        run_dir = tmp_path / f"packing-{packing}"
        run_training(TrainInputs(tiny, spec, examples, [], run_dir, pad_token_id=0))
        logged[packing] = read_metrics(run_dir / "metrics.jsonl")[0]
    packed, unpacked = logged[True], logged[False]
    assert packed["real_tokens"] == unpacked["real_tokens"] == sum(len(e.input_ids) for e in examples)
    assert packed["loss"] == pytest.approx(unpacked["loss"], rel=1e-5)
    assert packed["grad_norm"] == pytest.approx(unpacked["grad_norm"], rel=1e-4)


def _recomputes(model) -> bool:
    base = model.base_model.model
    return bool(getattr(base, "is_activation_checkpointing", None) or base.is_gradient_checkpointing)


@pytest.mark.slow
def test_setup_follows_the_recipe(tiny: Path) -> None:
    from stockade.training.model_setup import load_for_training

    default = load_for_training(tiny, TrainSpec(precision="fp32"))
    assert default.recipe.gradient_checkpointing is False  # CPU
    assert not _recomputes(default.model)
    assert default.head is not None and default.recipe.cross_entropy == "chunked"
    asked = load_for_training(
        tiny, TrainSpec(precision="fp32", gradient_checkpointing=True, cross_entropy="full")
    )
    assert _recomputes(asked.model)
    assert asked.head is None and asked.recipe.cross_entropy == "full"


def test_recipe_on_cpu_and_as_asked() -> None:
    recipe = decide(TrainSpec(), QWEN_7B, CPU, liger_installed=False)
    facts = recipe.facts()
    assert not recipe.packing and recipe.cross_entropy == "chunked" and not recipe.gradient_checkpointing
    assert facts["recipe.packing"].startswith("off: one example per row (default on CPU")
    assert facts["recipe.gradient_checkpointing"].startswith("off (CPU")
    assert facts["recipe.precision"] == "fp32 (CPU)"
    lf = decide(TrainSpec(packing=False, gradient_checkpointing=True, cross_entropy="full"), QWEN_7B, CPU)
    assert (lf.packing, lf.gradient_checkpointing, lf.cross_entropy) == (False, True, "full")
    assert "in the spec" in lf.facts()["recipe.gradient_checkpointing"]
    assert "packing: false in the spec" in lf.facts()["recipe.packing"]
    packed = decide(TrainSpec(packing=True), QWEN_7B, CPU).facts()["recipe.packing"]
    assert packed.startswith("on: rows of 2048 tokens") and "packing: true in the spec" in packed


def test_recompute_only_when_the_estimate_does_not_fit() -> None:
    spec = TrainSpec(per_device_train_batch_size=4, cutoff_len=2048)
    h200 = DeviceFacts("cuda", "NVIDIA H200", 140 * GIB, bf16=True)
    small = DeviceFacts("cuda", "NVIDIA A10", 24 * GIB, bf16=True)
    assert not decide(spec, QWEN_7B, h200, liger_installed=False).gradient_checkpointing
    on_small = decide(spec, QWEN_7B, small, liger_installed=False)
    assert on_small.gradient_checkpointing
    assert "does not fit in 90% of 24 GiB" in on_small.facts()["recipe.gradient_checkpointing"]
    assert "bf16 autocast" in on_small.facts()["recipe.precision"]
    assert on_small.packing and "default on a GPU" in on_small.facts()["recipe.packing"]
    estimate = memory_estimate(spec, QWEN_7B, "bf16", "chunked")
    assert 7.0e9 < estimate["parameters"] < 8.0e9  # Qwen2.5-7B has 7.6 B
    assert estimate["with_recompute"] < estimate["without_recompute"]
    assert memory_estimate(spec, QWEN_7B, "bf16", "full")["with_recompute"] > estimate["with_recompute"]
    # an explicit false wins over the estimate
    assert not decide(TrainSpec(gradient_checkpointing=False), QWEN_7B, small).gradient_checkpointing


def test_cross_entropy_falls_back_to_the_models_loss_where_chunking_would_differ() -> None:
    spec = TrainSpec()
    gpu = DeviceFacts("cuda", "gpu", 80 * GIB, bf16=True)
    assert decide(spec, {**QWEN_7B, "model_type": "gemma2"}, CPU).cross_entropy == "full"
    assert decide(spec, QWEN_7B, gpu, fsdp=True, liger_installed=False).cross_entropy == "full"
    assert decide(TrainSpec(lora_target=["q_proj", "lm_head"]), QWEN_7B, CPU).cross_entropy == "full"
    assert decide(spec, QWEN_7B, gpu, liger_installed=True).cross_entropy == "liger"
    assert decide(spec, QWEN_7B, CPU, liger_installed=True).cross_entropy == "chunked"  # liger needs CUDA


def test_lineage_recipe_is_plain_json() -> None:
    facts = decide(TrainSpec(), QWEN_7B, CPU, liger_installed=False).facts()
    assert json.loads(json.dumps(facts)) == facts
    assert set(facts) == {
        "recipe.packing",
        "recipe.precision",
        "recipe.attention",
        "recipe.cross_entropy",
        "recipe.gradient_checkpointing",
    }


def test_cpu_weights_are_fp32_whatever_precision_the_spec_names() -> None:
    """The recipe prints fp32 on CPU; the loaded weights must agree (a bf16: true config from a GPU
    machine must not train bf16 weights on CPU, where small updates vanish in rounding)."""
    import torch

    from stockade.training.model_setup import resolve_dtype

    if torch.cuda.is_available():
        pytest.skip("a CPU-only check")
    for precision in ("auto", "bf16", "fp16", "fp32"):
        assert resolve_dtype(precision) is torch.float32
