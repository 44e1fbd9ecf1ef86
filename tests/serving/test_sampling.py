"""Batched token choice: greedy, filters, seeded sampling that does not depend on the batch."""

from __future__ import annotations

import pytest

from stockade.serving.params import GenerationParams
from stockade.serving.sampling import choose, row_settings

torch = pytest.importorskip("torch")
VOCAB = 50


def _choose(params: list[GenerationParams], logits, seeds, steps=None, seen=None):
    settings = row_settings(params, seeds, VOCAB, logits.device)
    steps = steps if steps is not None else torch.zeros(len(params), dtype=torch.long)
    return choose(logits, settings, steps, seen)[:2]  # token and logprob (not the alternatives)


def test_greedy_is_argmax_with_its_logprob() -> None:
    logits = torch.randn(3, VOCAB, generator=torch.Generator().manual_seed(0))
    tokens, logprobs = _choose([GenerationParams()] * 3, logits, [None] * 3)
    assert tokens.tolist() == logits.argmax(-1).tolist()
    expected = torch.log_softmax(logits, -1).gather(1, tokens[:, None])[:, 0]
    assert torch.allclose(logprobs, expected)


def test_a_seeded_row_gives_the_same_tokens_whatever_shares_its_batch() -> None:
    generator = torch.Generator().manual_seed(1)
    row = torch.randn(1, VOCAB, generator=generator)
    others = torch.randn(4, VOCAB, generator=generator)
    sample = GenerationParams(do_sample=True, temperature=1.0, seed=7)
    alone = [_choose([sample], row, [7], torch.tensor([s]))[0].item() for s in range(20)]
    mixed_params = [
        GenerationParams(),
        sample,
        GenerationParams(do_sample=True, seed=3),
        GenerationParams(),
        sample,
    ]
    batch = torch.cat([others[:1], row, others[1:3], row])
    mixed = [
        _choose(mixed_params, batch, [None, 7, 3, None, 7], torch.full((5,), s))[0].tolist()
        for s in range(20)
    ]
    assert [m[1] for m in mixed] == alone == [m[4] for m in mixed]
    assert len(set(alone)) > 3  # it does sample: not the same token every step


def test_different_seeds_differ() -> None:
    logits = torch.zeros(1, VOCAB)  # uniform: the seed alone decides
    draws = {
        seed: [
            _choose([GenerationParams(do_sample=True, seed=seed)], logits, [seed], torch.tensor([s]))[
                0
            ].item()
            for s in range(10)
        ]
        for seed in (1, 2)
    }
    assert draws[1] != draws[2]


FILTERS = [
    GenerationParams(do_sample=True, top_k=1, seed=5),
    GenerationParams(do_sample=True, top_p=1e-6, seed=5),
]


@pytest.mark.parametrize("params", FILTERS, ids=["top_k=1", "top_p~0"])
def test_tight_filters_leave_only_the_best_token(params: GenerationParams) -> None:
    logits = torch.randn(2, VOCAB, generator=torch.Generator().manual_seed(2))
    for step in range(10):
        tokens, _ = _choose([params, params], logits, [5, 5], torch.full((2,), step))
        assert tokens.tolist() == logits.argmax(-1).tolist()


def test_top_k_never_picks_outside_the_k_best() -> None:
    logits = torch.randn(1, VOCAB, generator=torch.Generator().manual_seed(3))
    best = set(logits.topk(3).indices[0].tolist())
    params = GenerationParams(do_sample=True, top_k=3, temperature=2.0, seed=9)
    picked = {_choose([params], logits, [9], torch.tensor([s]))[0].item() for s in range(40)}
    assert picked <= best and len(picked) > 1


def test_repetition_penalty_steers_away_from_seen_tokens() -> None:
    logits = torch.zeros(1, VOCAB)
    logits[0, 4], logits[0, 9] = 2.0, 1.5
    seen = torch.zeros(1, VOCAB, dtype=torch.bool)
    seen[0, 4] = True
    plain, _ = _choose([GenerationParams()], logits, [None], seen=seen)
    penalized, _ = _choose([GenerationParams(repetition_penalty=2.0)], logits, [None], seen=seen)
    assert plain.item() == 4 and penalized.item() == 9
