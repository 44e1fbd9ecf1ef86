"""LoRA variants and knobs through peft, freeze choices and NEFTune: each key tested for its effect."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.errors import ConfigError  # noqa: E402
from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.records import Conversation  # noqa: E402
from stockade.data.templates import resolve_template  # noqa: E402
from stockade.data.tokenization import EncodedExample, encode_conversation  # noqa: E402
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402
from stockade.training.loop_parts import parameter_groups  # noqa: E402
from stockade.training.model_setup import load_for_training, trainable_parameters  # noqa: E402

torch.set_num_threads(2)

QA = [
    ("什么是LPR？", "贷款市场报价利率。"),
    ("什么是MLF？", "中期借贷便利。"),
    ("什么是KYC？", "了解你的客户。"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0, num_layers=4)
    return path, AutoTokenizer.from_pretrained(str(path), local_files_only=True)


@pytest.fixture(scope="module")
def examples(tiny: tuple[Path, object]) -> list[EncodedExample]:
    _, tokenizer = tiny
    template = resolve_template("qwen", tokenizer)
    out = []
    for question, answer in QA:
        conversation = Conversation.model_validate(
            {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
        )
        example = encode_conversation(conversation, tokenizer, template, cutoff_len=64)
        assert isinstance(example, EncodedExample)
        out.append(example)
    return out


def _spec(**overrides: object) -> TrainSpec:
    base: dict[str, object] = {
        "learning_rate": 1e-2,
        "per_device_train_batch_size": 3,
        "lr_scheduler_type": "constant",
        "precision": "fp32",
        "gradient_checkpointing": False,
        "cross_entropy": "full",
        "logging_steps": 1,
        "save_steps": 1000,
        "seed": 3,
        "cutoff_len": 64,
        "plot_loss": False,
    }
    base.update(overrides)
    return TrainSpec.model_validate(base)


def _batch(examples: list[EncodedExample]) -> dict[str, object]:
    ids = torch.tensor([examples[0].input_ids])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _lora_layers(model: object) -> list[object]:
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def test_use_dora_adds_magnitude_vectors(tiny) -> None:
    plain = load_for_training(tiny[0], _spec()).model
    dora = load_for_training(tiny[0], _spec(use_dora=True)).model
    assert not [n for n, _ in trainable_parameters(plain) if "lora_magnitude_vector" in n]
    magnitudes = [n for n, _ in trainable_parameters(dora) if "lora_magnitude_vector" in n]
    assert len(magnitudes) == len(_lora_layers(dora)) > 0


def test_use_rslora_scales_by_the_square_root_of_the_rank(tiny) -> None:
    spec = {"lora_rank": 16, "lora_alpha": 8}
    plain = _lora_layers(load_for_training(tiny[0], _spec(**spec)).model)[0]
    rs = _lora_layers(load_for_training(tiny[0], _spec(use_rslora=True, **spec)).model)[0]
    assert plain.scaling["default"] == pytest.approx(8 / 16)
    assert rs.scaling["default"] == pytest.approx(8 / 16**0.5)


def test_lora_dropout_makes_training_forwards_differ(tiny, examples) -> None:
    batch = _batch(examples)
    for dropout, differ in ((0.0, False), (0.5, True)):
        model = load_for_training(tiny[0], _spec(lora_dropout=dropout)).model
        for layer in _lora_layers(model):  # B starts at zero: make the adapters contribute
            torch.nn.init.normal_(layer.lora_B["default"].weight)
        with torch.no_grad():
            first, second = model(**batch).logits, model(**batch).logits
        assert (not torch.allclose(first, second)) is differ, dropout


def test_pissa_init_starts_from_the_principal_components(tiny, examples) -> None:
    """The adapter starts non-zero, the base holds the residual, and the output is unchanged at step 0."""
    batch = _batch(examples)
    plain = load_for_training(tiny[0], _spec())
    pissa = load_for_training(tiny[0], _spec(pissa_init=True, pissa_iter=4))
    layer = _lora_layers(pissa.model)[0]
    assert layer.lora_B["default"].weight.abs().sum() > 0  # plain LoRA: B = 0
    assert _lora_layers(plain.model)[0].lora_B["default"].weight.abs().sum() == 0
    base_plain = _lora_layers(plain.model)[0].base_layer.weight
    assert not torch.allclose(layer.base_layer.weight, base_plain)  # W - B A
    with torch.no_grad():
        assert torch.allclose(pissa.model(**batch).logits, plain.model(**batch).logits, atol=1e-3)
    assert pissa.pissa_initial is not None


@pytest.mark.slow
def test_pissa_adapter_is_saved_as_a_lora_on_the_original_base(tiny, examples, tmp_path: Path) -> None:
    """The trained PiSSA model and the saved adapter on the unmodified base give the same logits."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    spec = _spec(pissa_init=True, pissa_iter=4, max_steps=3)
    path, tokenizer = tiny
    inputs = TrainInputs(path, spec, examples, [], tmp_path / "run", tokenizer.pad_token_id)
    result = run_training(inputs)
    base = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
    reloaded = PeftModel.from_pretrained(base, str(result.adapter_dir)).eval()
    # the same trained weights, in memory on the residual base: load the run's trainable state
    live = load_for_training(path, spec).model.eval()
    from safetensors.torch import load_file

    from stockade.training.checkpoint import list_checkpoints

    state = load_file(str(list_checkpoints(tmp_path / "run")[-1] / "trainable.safetensors"))
    missing = live.load_state_dict(state, strict=False)
    assert not [k for k in state if k in missing.unexpected_keys]
    batch = _batch(examples)
    with torch.no_grad():
        assert torch.allclose(reloaded(**batch).logits, live(**batch).logits, atol=1e-3)
        with reloaded.disable_adapter():  # training moved the model: the comparison means something
            assert not torch.allclose(reloaded(**batch).logits, live(**batch).logits, atol=1e-3)


def test_loraplus_gives_the_b_matrices_a_higher_learning_rate(tiny) -> None:
    spec = _spec(loraplus_lr_ratio=16.0, weight_decay=0.1)
    named = trainable_parameters(load_for_training(tiny[0], spec).model)
    by_param = {id(p): g["lr"] for g in parameter_groups(named, spec) for p in g["params"]}
    lrs = {name: by_param[id(p)] for name, p in named}
    assert sorted({lr for name, lr in lrs.items() if "lora_B" in name}) == pytest.approx([1e-2 * 16])
    assert sorted({lr for name, lr in lrs.items() if "lora_A" in name}) == pytest.approx([1e-2])
    # without the key every parameter learns at learning_rate
    plain = _spec(weight_decay=0.1)
    groups = parameter_groups(trainable_parameters(load_for_training(tiny[0], plain).model), plain)
    assert {g["lr"] for g in groups} == {1e-2}


def test_loraplus_reaches_the_optimizer_of_a_run(tiny, examples, tmp_path: Path, monkeypatch) -> None:

    seen: list[list[float]] = []
    real = torch.optim.AdamW

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, groups, **kw):
            super().__init__(groups, **kw)
            seen.append(sorted(g["lr"] for g in self.param_groups))

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    path, tokenizer = tiny
    spec = _spec(loraplus_lr_ratio=4.0, max_steps=1)
    run_training(TrainInputs(path, spec, examples, [], tmp_path / "run", tokenizer.pad_token_id))
    assert seen and max(seen[0]) == pytest.approx(4e-2) and min(seen[0]) == pytest.approx(1e-2)


def test_additional_target_trains_and_saves_whole_modules(tiny, examples, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    spec = _spec(additional_target="lm_head", max_steps=1)
    names = [n for n, _ in trainable_parameters(load_for_training(tiny[0], spec).model)]
    assert any("lm_head" in n and "lora_" not in n for n in names)
    path, tokenizer = tiny
    result = run_training(TrainInputs(path, spec, examples, [], tmp_path / "run", tokenizer.pad_token_id))
    saved = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    assert any("lm_head" in k for k in saved)
    # the default (chunked) loss reads lm_head's own weight: with a trained copy it uses the model's loss
    assert (
        load_for_training(tiny[0], _spec(additional_target="lm_head", cross_entropy="chunked")).head is None
    )
    with pytest.raises(ConfigError, match="additional_target nonexistent"):
        load_for_training(tiny[0], _spec(additional_target="nonexistent"))


@pytest.mark.parametrize(
    ("keys", "layers", "modules"),
    [
        ({}, {"2", "3"}, None),  # LLaMA-Factory's default: the last 2
        ({"freeze_trainable_layers": 1}, {"3"}, None),
        ({"freeze_trainable_layers": -1}, {"0"}, None),
        ({"freeze_trainable_layers": -2, "freeze_trainable_modules": "mlp"}, {"0", "1"}, {"mlp"}),
    ],
)
def test_freeze_trains_the_chosen_layers_and_modules(tiny, keys, layers, modules) -> None:
    model = load_for_training(tiny[0], _spec(finetuning_type="freeze", **keys)).model
    names = [n for n, _ in trainable_parameters(model)]
    assert {n.split(".")[2] for n in names} == layers
    if modules:
        assert {n.split(".")[3] for n in names} == modules


def test_freeze_extra_modules_trains_modules_outside_the_layers(tiny) -> None:
    spec = _spec(finetuning_type="freeze", freeze_trainable_layers=1, freeze_extra_modules="embed_tokens")
    names = [n for n, _ in trainable_parameters(load_for_training(tiny[0], spec).model)]
    assert "model.embed_tokens.weight" in names
    with pytest.raises(ConfigError, match="nonexistent"):
        load_for_training(tiny[0], _spec(finetuning_type="freeze", freeze_trainable_modules="nonexistent"))


def test_neftune_noise_only_in_training_mode(tiny, examples) -> None:
    batch = _batch(examples)
    plain = load_for_training(tiny[0], _spec()).model
    noisy = load_for_training(tiny[0], _spec(neftune_noise_alpha=5.0)).model
    with torch.no_grad():
        assert torch.equal(plain(**batch).logits, plain(**batch).logits)  # no dropout: deterministic
        first, second = noisy(**batch).logits, noisy(**batch).logits
        assert not torch.allclose(first, second)
        noisy.eval()
        plain.eval()
        assert torch.equal(noisy(**batch).logits, plain(**batch).logits)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"use_dora": True, "finetuning_type": "full"}, "use_dora needs finetuning_type: lora"),
        ({"freeze_trainable_layers": 3}, "freeze_trainable_layers needs finetuning_type: freeze"),
        ({"pissa_iter": 4}, "pissa_iter needs pissa_init: true"),
        ({"finetuning_type": "freeze", "freeze_trainable_layers": 0}, "freeze_trainable_layers: 0"),
        ({"pissa_init": True, "quantization_bit": 4}, "pissa_init on a quantised base"),
    ],
)
def test_a_key_that_would_be_ignored_is_refused(keys, message) -> None:
    with pytest.raises(ValueError, match=message):
        TrainSpec.model_validate(keys)


@pytest.mark.parametrize(
    "keys",
    [
        {"use_dora": True, "pissa_init": True, "loraplus_lr_ratio": 4.0, "additional_target": "lm_head"},
        {"finetuning_type": "freeze", "freeze_trainable_layers": -1, "freeze_extra_modules": "norm"},
        {"quantization_bit": 8, "neftune_noise_alpha": 5.0, "report_to": "tensorboard"},
    ],
)
def test_a_spec_written_out_in_full_loads_again(keys) -> None:
    """A run's spec.yaml (and --save-config) holds every field, defaults included; resume reloads it."""
    spec = TrainSpec.model_validate(keys)
    again = TrainSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec
