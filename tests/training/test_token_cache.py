"""Tokenized datasets are cached per (dataset version, model/tokenizer, template, cutoff, max_samples):
a second run loads them without tokenizing, or even loading the tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from stockade.core.specs.train import TrainSpec
from stockade.training import resolve, token_cache
from stockade.training.resolve import ResolvedDataset, TrainPlan, encode_datasets

RECORDS = [
    {
        "messages": [
            {"role": "user", "content": f"问题{i}：什么是LPR？"},
            {"role": "assistant", "content": "利率" * i},
        ]
    }
    for i in range(1, 13)
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stockade.models.tiny import build_tiny_model

    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0)
    return path


def _plan(model: Path, data: Path, **spec: object) -> TrainPlan:
    dataset = ResolvedDataset("fin@v1", "a" * 64, len(RECORDS), "passed", data)
    return TrainPlan(TrainSpec.model_validate({"template": "qwen", **spec}), model, "m" * 64, [dataset])


def _as_lists(data) -> list:
    return [(e.input_ids, e.labels, e.trainable_tokens, e.truncated) for e in data.train + data.eval]


def test_second_encoding_comes_from_the_cache(model: Path, tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "fin.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    cache = tmp_path / "cache"
    first = encode_datasets(_plan(model, data, cutoff_len=64, val_size=0.25), cache)
    entries = sorted(p.suffix for p in cache.iterdir())
    assert entries == [".bin", ".json"]

    def no_tokenizer(plan):
        raise AssertionError("the tokenizer was loaded on a cache hit")

    monkeypatch.setattr(resolve, "load_tokenizer_and_template", no_tokenizer)
    second = encode_datasets(_plan(model, data, cutoff_len=64, val_size=0.25), cache)
    assert _as_lists(second) == _as_lists(first) and first.train
    assert (second.pad_token_id, second.template, second.records) == (first.pad_token_id, "qwen", 12)
    assert len(second.eval) == 3  # the split is still made by seed, after the cache

    # another cutoff is another entry: the tokenizer is needed again
    with pytest.raises(AssertionError, match="tokenizer was loaded"):
        encode_datasets(_plan(model, data, cutoff_len=32), cache)


def test_a_damaged_entry_is_not_used(model: Path, tmp_path: Path) -> None:
    data = tmp_path / "fin.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    cache = tmp_path / "cache"
    first = encode_datasets(_plan(model, data, cutoff_len=64), cache)
    (tokens,) = cache.glob("*.bin")
    raw = bytearray(tokens.read_bytes())
    raw[0] ^= 0xFF
    tokens.write_bytes(bytes(raw))
    key = tokens.stem
    assert token_cache.load(cache, key) is None
    again = encode_datasets(_plan(model, data, cutoff_len=64), cache)  # tokenizes again, rewrites
    assert _as_lists(again) == _as_lists(first)
    assert token_cache.load(cache, key) is not None


def test_key_covers_dataset_model_template_cutoff_samples_and_code() -> None:
    base = ("d" * 64, "m" * 64, "qwen", 1024, None)
    keys = {
        token_cache.cache_key(*base),
        token_cache.cache_key("e" * 64, *base[1:]),
        token_cache.cache_key(base[0], "n" * 64, *base[2:]),
        token_cache.cache_key(*base[:2], "llama3", *base[3:]),
        token_cache.cache_key(*base[:3], 2048, None),
        token_cache.cache_key(*base[:4], 100),
    }
    assert len(keys) == 6
    assert token_cache.cache_key(*base) == token_cache.cache_key(*base)
    assert len(token_cache.code_fingerprint()) == 64


def test_preprocessing_num_workers_tokenizes_in_that_many_processes(
    model: Path, tmp_path: Path, monkeypatch
) -> None:
    """preprocessing_num_workers (LLaMA-Factory's key) tokenizes in that many spawned processes, which
    give the same examples in the same order as the training process alone."""
    monkeypatch.setattr(resolve, "MIN_LINES_PER_WORKER", 4)  # 12 records: room for 2 workers
    data = tmp_path / "fin.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    calls: list[int] = []
    real = resolve._encode_in_processes

    def spy(plan, lines, workers):
        calls.append(workers)
        return real(plan, lines, workers)

    monkeypatch.setattr(resolve, "_encode_in_processes", spy)
    alone = encode_datasets(_plan(model, data, cutoff_len=64))
    assert calls == []  # unset: the training process tokenizes
    together = encode_datasets(_plan(model, data, cutoff_len=64, preprocessing_num_workers=2))
    assert calls == [2]
    assert _as_lists(together) == _as_lists(alone) and alone.train
