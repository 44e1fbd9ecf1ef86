"""Preference optimisation on a tiny CPU model: DPO raises the reward margin and makes greedy output
the chosen answers; the reference model is the base with adapters disabled (LoRA) or a frozen copy (full);
KTO moves the desirable rewards above the undesirable ones."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.records import KtoExample, PreferencePair, Turn  # noqa: E402
from stockade.data.templates import resolve_template  # noqa: E402
from stockade.data.tokenization import (  # noqa: E402
    IGNORE_INDEX,
    KtoEncoded,
    PairExample,
    encode_pair,
    kto_samples,
    split_last_answer,
)
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402
from stockade.training.metrics import read_metrics  # noqa: E402

torch.set_num_threads(2)
pytestmark = pytest.mark.slow

PAIRS = [  # (question, chosen, rejected)
    ("什么是LPR？", "贷款市场报价利率。", "不知道。"),
    ("什么是MLF？", "中期借贷便利。", "不知道。"),
    ("什么是KYC？", "了解你的客户。", "不知道。"),
    ("什么是SLF？", "常备借贷便利。", "不知道。"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return path, tokenizer, resolve_template("qwen", tokenizer)


def _pair(question: str, chosen: str, rejected: str) -> PreferencePair:
    return PreferencePair(
        messages=[
            Turn(role="user", content=question),
            Turn(role="chosen", content=chosen),
            Turn(role="rejected", content=rejected),
        ]
    )


@pytest.fixture(scope="module")
def pairs(tiny) -> list[PairExample]:
    _, tokenizer, template = tiny
    out = []
    for question, chosen, rejected in PAIRS:
        pair = _pair(question, chosen, rejected)
        encoded = encode_pair(
            pair.conversation("chosen"), pair.conversation("rejected"), tokenizer, template, cutoff_len=64
        )
        assert isinstance(encoded, PairExample)
        out.append(encoded)
    return out


def _spec(**overrides: object) -> TrainSpec:
    base: dict[str, object] = {
        "stage": "dpo",
        "finetuning_type": "lora",
        "learning_rate": 5e-3,
        "per_device_train_batch_size": 4,
        "max_steps": 16,
        "lr_scheduler_type": "constant",
        "precision": "fp32",
        "gradient_checkpointing": False,
        "logging_steps": 4,
        "save_steps": 1000,
        "seed": 0,
        "cutoff_len": 64,
        "plot_loss": False,
    }
    base.update(overrides)
    return TrainSpec.model_validate(base)


def _train(tiny, rows, run_dir: Path, spec: TrainSpec):
    path, tokenizer, _ = tiny
    inputs = TrainInputs(
        model_dir=path, spec=spec, train=rows, eval=[], run_dir=run_dir, pad_token_id=tokenizer.pad_token_id
    )
    result = run_training(inputs)
    return result, read_metrics(result.metrics_path)


def _greedy(model, example) -> list[int]:
    """Greedy continuation of the pair's prompt, as long as its chosen answer."""
    labels = example.labels
    start = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
    answer = [label for label in labels if label != IGNORE_INDEX]
    prompt = torch.tensor([example.input_ids[:start]])
    with torch.no_grad():
        out = model.generate(prompt, max_new_tokens=len(answer), do_sample=False, pad_token_id=0)
    return out[0, start:].tolist()


def _logp_gaps(model, pairs) -> list[float]:
    """log p(chosen) - log p(rejected) of each pair's answers under ``model``."""
    from stockade.training.preference import pad_sequences, sequence_logps

    batch = pad_sequences([p.chosen for p in pairs] + [p.rejected for p in pairs], 0)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    sums, _ = sequence_logps(logits, batch["labels"])
    n = len(pairs)
    return (sums[:n] - sums[n:]).tolist()


def test_dpo_with_lora_raises_the_margin_and_greedy_output_turns_to_the_chosen_answers(
    tiny, pairs, tmp_path: Path
) -> None:
    """DPO (sigmoid) with LLaMA-Factory's pref_ftx SFT term: the margin rises, every pair is ranked
    right, and greedy decoding of each prompt gives its chosen answer (the random base gives neither)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    path = tiny[0]
    base = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    answers = [[t for t in p.chosen.labels if t != IGNORE_INDEX] for p in pairs]
    rejected = [[t for t in p.rejected.labels if t != IGNORE_INDEX] for p in pairs]
    assert [_greedy(base, p.chosen) for p in pairs] != answers  # the random base does not know them
    base_gaps = _logp_gaps(base, pairs)

    result, metrics = _train(
        tiny, pairs, tmp_path / "run", _spec(pref_ftx=1.0, max_steps=20, logging_steps=5)
    )
    first, last = metrics[0], metrics[-1]
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"):
        assert key in first and key in last
    assert last["rewards/margins"] > first["rewards/margins"] > 0
    assert last["rewards/accuracies"] == 1.0
    assert last["rewards/chosen"] > last["rewards/rejected"]
    assert last["loss"] < first["loss"]

    trained = PeftModel.from_pretrained(base, str(result.adapter_dir)).eval()
    gaps = _logp_gaps(trained, pairs)
    assert all(after > 0 and after > before for before, after in zip(base_gaps, gaps, strict=True))
    greedy = [_greedy(trained, p.chosen) for p in pairs]
    assert greedy == answers
    assert all(g[: len(r)] != r for g, r in zip(greedy, rejected, strict=True))


def test_dpo_reference_is_the_base_with_adapters_disabled(tiny, pairs, tmp_path: Path, monkeypatch) -> None:
    """LoRA: no second model in memory, the reference is peft's disable_adapter(); at step 1 the policy
    equals the reference (LoRA's B is zero), so the loss is exactly log 2 and the rewards 0."""
    from stockade.training import preference

    made: list[object] = []
    original = preference.PreferenceObjective.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(preference.PreferenceObjective, "__init__", spy)
    _, metrics = _train(tiny, pairs, tmp_path / "run", _spec(max_steps=1, logging_steps=1))
    assert made and made[0].reference is None and made[0].is_peft
    assert metrics[0]["loss"] == pytest.approx(0.693147, abs=1e-5)
    assert metrics[0]["rewards/chosen"] == pytest.approx(0.0, abs=1e-6)
    assert metrics[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("pref_loss", ["sigmoid", "ipo", "orpo", "simpo"])
def test_each_pref_loss_ranks_the_chosen_answers_higher(tiny, pairs, tmp_path: Path, pref_loss: str) -> None:
    """Pure preference losses (no SFT term): the logged margin rises, the loss falls, and the trained
    policy's log p(chosen) - log p(rejected) grows for every pair."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    spec = _spec(pref_loss=pref_loss, max_steps=8, logging_steps=2)
    result, metrics = _train(tiny, pairs, tmp_path / "run", spec)
    assert metrics[-1]["rewards/margins"] > metrics[0]["rewards/margins"]
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    base = AutoModelForCausalLM.from_pretrained(str(tiny[0]), local_files_only=True)
    before = _logp_gaps(base, pairs)
    after = _logp_gaps(PeftModel.from_pretrained(base, str(result.adapter_dir)).eval(), pairs)
    assert all(a > b for a, b in zip(after, before, strict=True))


def test_dpo_with_full_fine_tuning_uses_a_frozen_copy(tiny, pairs, tmp_path: Path) -> None:
    spec = _spec(finetuning_type="full", learning_rate=1e-3, max_steps=6, logging_steps=1)
    _, metrics = _train(tiny, pairs, tmp_path / "run", spec)
    # step 1: the copy equals the policy (log 2); then the frozen copy stays put while the policy moves
    assert metrics[0]["loss"] == pytest.approx(0.693147, abs=1e-5)
    assert metrics[-1]["rewards/margins"] > 0.0
    assert metrics[-1]["loss"] < 0.6931


def test_pref_ftx_adds_the_sft_term(tiny, pairs, tmp_path: Path) -> None:
    """At step 1 (policy == reference) the DPO term is log 2; pref_ftx adds ftx x the chosen answers'
    mean negative log-likelihood, so the two runs' first losses differ by exactly that."""
    _, plain = _train(tiny, pairs, tmp_path / "a", _spec(max_steps=1, logging_steps=1))
    _, ftx = _train(tiny, pairs, tmp_path / "b", _spec(max_steps=1, logging_steps=1, pref_ftx=2.0))
    from transformers import AutoModelForCausalLM

    from stockade.training.preference import pad_sequences, sequence_logps

    base = AutoModelForCausalLM.from_pretrained(str(tiny[0]), local_files_only=True)
    batch = pad_sequences([p.chosen for p in pairs], tiny[1].pad_token_id)
    with torch.no_grad():
        logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    sums, counts = sequence_logps(logits, batch["labels"])
    nll = float((-(sums / counts)).mean())
    assert ftx[0]["loss"] - plain[0]["loss"] == pytest.approx(2.0 * nll, rel=1e-4)


def test_kto_moves_desirable_rewards_above_undesirable(tiny, tmp_path: Path) -> None:
    _, tokenizer, template = tiny
    encoded = []
    for question, good, bad in PAIRS:
        for answer, tag in ((good, True), (bad, False)):
            example = KtoExample(
                messages=[Turn(role="user", content=question), Turn(role="assistant", content=answer)],
                kto_tag=tag,
            )
            parts = split_last_answer(example.conversation(), tokenizer, template)
            encoded.append(KtoEncoded(parts, tag))
    samples = kto_samples(encoded, 64)
    assert len(samples) == 8 and samples[1].kl.input_ids != samples[1].target.input_ids  # another answer
    spec = _spec(stage="kto", max_steps=12, per_device_train_batch_size=8, logging_steps=3)
    _, metrics = _train(tiny, samples, tmp_path / "run", spec)
    first, last = metrics[0], metrics[-1]
    assert {"rewards/chosen", "rewards/rejected", "rewards/margins", "kl"} <= set(last)
    assert last["rewards/margins"] > first["rewards/margins"]
    assert last["rewards/chosen"] > 0 > last["rewards/rejected"]
    assert last["loss"] < first["loss"] <= 0.5  # 1 - σ(0) = 0.5 while the policy is the reference
    assert last["kl"] >= 0.0


def test_kto_pref_ftx_adds_the_desirable_answers_sft_term(tiny, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from stockade.training.preference import pad_sequences, sequence_logps

    _, tokenizer, template = tiny
    encoded = []
    for (question, good, bad), tag in zip(PAIRS, (True, False, True, False), strict=True):
        example = KtoExample(
            messages=[
                Turn(role="user", content=question),
                Turn(role="assistant", content=good if tag else bad),
            ],
            kto_tag=tag,
        )
        encoded.append(KtoEncoded(split_last_answer(example.conversation(), tokenizer, template), tag))
    samples = kto_samples(encoded, 64)
    spec = _spec(stage="kto", max_steps=1, logging_steps=1)
    _, plain = _train(tiny, samples, tmp_path / "a", spec)
    _, ftx = _train(
        tiny, samples, tmp_path / "b", _spec(stage="kto", max_steps=1, logging_steps=1, pref_ftx=0.5)
    )
    base = AutoModelForCausalLM.from_pretrained(str(tiny[0]), local_files_only=True)
    batch = pad_sequences([s.target for s in samples], tokenizer.pad_token_id)
    with torch.no_grad():
        logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    sums, counts = sequence_logps(logits, batch["labels"])
    desirable = torch.tensor([s.kto_tag for s in samples])
    nll = float((-(sums / counts))[desirable].sum()) / len(samples)
    assert plain[0]["loss"] == pytest.approx(0.5, abs=1e-6)
    assert ftx[0]["loss"] - plain[0]["loss"] == pytest.approx(0.5 * nll, rel=1e-4)
