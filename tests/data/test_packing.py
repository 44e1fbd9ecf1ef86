"""Packing: rows, position resets, boundary labels, the block mask, and loss equal to unpacked training."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.core.errors import StockadeError
from stockade.data.packing import (
    IGNORE_INDEX,
    PackedSequence,
    block_causal_mask,
    collate_packed,
    configure_model_for_packing,
    length_grouped_batches,
    pack_examples,
    single_sequences,
)
from stockade.data.tokenization import EncodedExample

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def _example(length: int, prompt: int = 1, start: int = 10) -> EncodedExample:
    ids = list(range(start, start + length))
    labels = [IGNORE_INDEX] * prompt + ids[prompt:]
    return EncodedExample(ids, labels, length - prompt, False)


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 40), min_size=1, max_size=30), max_length=st.integers(40, 90))
def test_packing_keeps_every_example_once_within_the_length(lengths: list[int], max_length: int) -> None:
    examples = [_example(n, prompt=0, start=1000 * i) for i, n in enumerate(lengths)]
    rows = pack_examples(examples, max_length)
    assert sorted(i for row in rows for i in row.indices) == list(range(len(examples)))
    assert all(len(row) <= max_length for row in rows)
    # Any-fit packing leaves at most one row half empty (else the later row's examples fit the earlier).
    assert sum(2 * len(row) <= max_length for row in rows) <= 1
    for row in rows:
        assert sum(row.seq_lens) == len(row.input_ids) == len(row.labels) == len(row.position_ids)
        at = 0
        for index, size in zip(row.indices, row.seq_lens, strict=True):
            example = examples[index]
            assert row.input_ids[at : at + size] == example.input_ids
            assert row.position_ids[at : at + size] == list(range(size))
            assert row.labels[at] == IGNORE_INDEX  # nothing predicts an example from the one before it
            assert row.labels[at + 1 : at + size] == example.labels[1:]
            at += size


def test_best_fit_decreasing_fills_rows() -> None:
    rows = pack_examples([_example(n) for n in (6, 5, 4, 3, 2)], 10)
    assert [row.indices for row in rows] == [(0, 2), (1, 3, 4)]
    assert pack_examples([_example(n) for n in (6, 5, 4, 3, 2)], 10) == rows  # deterministic


def test_too_long_or_empty_examples_are_refused() -> None:
    with pytest.raises(StockadeError, match="cutoff_len"):
        pack_examples([_example(5), _example(11)], 10)
    with pytest.raises(ValueError, match="empty"):
        pack_examples([EncodedExample([], [], 0, False)], 10)


def test_single_sequences_do_not_pack() -> None:
    rows = single_sequences([_example(3), _example(4)])
    assert [(row.indices, row.seq_lens, row.position_ids) for row in rows] == [
        ((0,), (3,), [0, 1, 2]),
        ((1,), (4,), [0, 1, 2, 3]),
    ]


def test_length_grouped_batches() -> None:
    rng = random.Random(1)
    lengths = [rng.randint(1, 500) for _ in range(103)]
    batches = length_grouped_batches(lengths, 8, seed=7)
    assert sorted(i for batch in batches for i in batch) == list(range(103))
    assert sorted(len(batch) for batch in batches) == [7] + [8] * 12
    assert batches == length_grouped_batches(lengths, 8, seed=7)
    assert batches != length_grouped_batches(lengths, 8, seed=8)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 50  # random batches of 8 from 1..500 spread ~390
    in_order = sorted(batches, key=lambda b: lengths[b[0]])
    assert batches != in_order  # the groups come in shuffled order
    with pytest.raises(ValueError):
        length_grouped_batches(lengths, 0, seed=0)


def test_block_causal_mask() -> None:
    mask = block_causal_mask([[2, 3], [4, 1]], 5, torch.float32)
    assert mask.shape == (2, 1, 5, 5)
    allowed = (mask[:, 0] == 0).int().tolist()
    assert allowed[0] == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]]
    assert allowed[1][4] == [0, 0, 0, 0, 1]
    assert mask.min() == torch.finfo(torch.float32).min


def test_collate_pads_rows_and_flattens() -> None:
    rows = [
        PackedSequence([5, 6, 7], [IGNORE_INDEX, 6, 7], [0, 1, 2], (3,), (0,)),
        single_sequences([_example(1)])[0],
    ]
    batch = collate_packed(rows, pad_token_id=99, dtype=torch.bfloat16)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [10, 99, 99]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [IGNORE_INDEX] * 3]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 1]]
    assert batch["attention_mask"].dtype == torch.bfloat16 and batch["attention_mask"].shape == (2, 1, 3, 3)
    flat = collate_packed(rows, mode="flat")
    assert set(flat) == {"input_ids", "labels", "position_ids"}
    assert flat["position_ids"].tolist() == [[0, 1, 2, 0]]


# --- the model side: a packed batch trains exactly like its examples one by one -------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from stockade.models.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    return {arch: build_tiny_model(arch, root / arch).path for arch in ("qwen2", "llama")}


def _load(path, attention: str):
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path, attn_implementation=attention, dtype=torch.float32, local_files_only=True
    )
    return model.train()  # dropout is 0 in these configs; train mode is what training uses


def _examples(vocab: int, seed: int) -> list[EncodedExample]:
    rng = random.Random(seed)
    examples = []
    for _ in range(7):
        length, prompt = rng.randint(6, 30), rng.randint(1, 4)
        ids = [rng.randrange(10, vocab) for _ in range(length)]
        labels = [IGNORE_INDEX] * prompt + ids[prompt:]
        labels[rng.randrange(prompt, length)] = IGNORE_INDEX  # a masked token inside the answer
        examples.append(EncodedExample(ids, labels, 0, False))
    return examples


def _reference_loss(model, examples: list[EncodedExample]) -> float:
    """The token-weighted mean of per-example losses, each example in its own forward, no padding."""
    total, tokens = 0.0, 0
    with torch.no_grad():
        for example in examples:
            labels = torch.tensor([example.labels])
            loss = model(input_ids=torch.tensor([example.input_ids]), labels=labels).loss
            count = int((labels[0, 1:] != IGNORE_INDEX).sum())
            total, tokens = total + loss.item() * count, tokens + count
    return total / tokens


def _loss(model, batch: dict, **kwargs) -> float:
    with torch.no_grad():
        return model(**batch, **kwargs).loss.item()


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "attention"), [("qwen2", "sdpa"), ("qwen2", "eager"), ("llama", "sdpa")])
def test_packed_loss_equals_unpacked_loss(arch: str, attention: str, models: dict) -> None:
    model = _load(models[arch], attention)
    examples = _examples(model.config.vocab_size, seed=3)
    rows = pack_examples(examples, 64)
    assert len(rows) < len(examples) and any(len(row.seq_lens) > 1 for row in rows)
    reference = _reference_loss(model, examples)
    assert configure_model_for_packing(model) == "mask" and model.config.use_cache is False
    assert _loss(model, collate_packed(rows)) == pytest.approx(reference, abs=1e-4)
    # Without the block mask (plain causal attention over each packed row) examples see each other.
    plain = collate_packed(rows)
    del plain["attention_mask"], plain["position_ids"]
    assert abs(_loss(model, plain) - reference) > 1e-3


@pytest.mark.slow
def test_flat_packing_relies_on_position_ids_and_needs_the_cache_off(models: dict) -> None:
    model = _load(models["qwen2"], "sdpa")
    examples = _examples(model.config.vocab_size, seed=5)
    rows = pack_examples(examples, 64)
    reference = _reference_loss(model, examples)
    flat = collate_packed(rows, mode="flat")
    assert _loss(model, flat, use_cache=False) == pytest.approx(reference, abs=1e-4)
    # With a KV cache (the config default, even in train mode) transformers ignores the position resets.
    assert model.config.use_cache is True
    assert abs(_loss(model, flat) - reference) > 1e-3


@pytest.mark.slow
def test_unpacked_rows_collate_with_padding(models: dict) -> None:
    model = _load(models["llama"], "sdpa")
    examples = _examples(model.config.vocab_size, seed=9)
    batch = collate_packed(single_sequences(examples), pad_token_id=model.config.pad_token_id)
    assert _loss(model, batch) == pytest.approx(_reference_loss(model, examples), abs=1e-4)


def test_unsupported_attention_is_refused() -> None:
    from types import SimpleNamespace

    model = SimpleNamespace(config=SimpleNamespace(_attn_implementation="paged|sdpa", use_cache=True))
    with pytest.raises(StockadeError, match="packing is not supported"):
        configure_model_for_packing(model)
    flash = SimpleNamespace(config=SimpleNamespace(_attn_implementation="flash_attention_2", use_cache=True))
    assert configure_model_for_packing(flash) == "flat" and flash.config.use_cache is False
