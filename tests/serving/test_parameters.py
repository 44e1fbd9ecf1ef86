"""Generation parameters that have an effect: typical-p, frequency and presence penalties, the most likely
alternatives per token and the prompt's log-probabilities, on the sampler and through the hf engine."""

from __future__ import annotations

import asyncio

import pytest

from stockade.serving.params import GenerationParams
from stockade.serving.sampling import _filter, choose, row_settings
from tests.serving.helpers import make_engine

torch = pytest.importorskip("torch")
VOCAB = 50


@pytest.mark.parametrize("mass", [0.2, 0.5, 0.9, 0.99])
def test_typical_p_keeps_what_transformers_typical_warper_keeps(mass: float) -> None:
    from transformers.generation.logits_process import TypicalLogitsWarper

    logits = torch.randn(6, VOCAB, generator=torch.Generator().manual_seed(4)) * 3
    params = [GenerationParams(typical_p=mass, seed=1)] * 6
    ours = _filter(logits.clone(), row_settings(params, [1] * 6, VOCAB, logits.device))
    theirs = TypicalLogitsWarper(mass=mass)(None, logits.clone())
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    assert torch.isinf(ours).any()  # it does filter


def test_typical_p_samples_and_only_from_the_typical_set() -> None:
    assert GenerationParams(typical_p=0.5).sampling and not GenerationParams(typical_p=1.0).sampling
    logits = torch.zeros(1, VOCAB)
    logits[0, 3] = 6.0  # one very likely token: the typical set at a small mass excludes the rest
    params = GenerationParams(typical_p=0.3, seed=2)
    settings = row_settings([params], [2], VOCAB, logits.device)
    picked = {choose(logits, settings, torch.tensor([s]), None)[0].item() for s in range(30)}
    plain = row_settings([GenerationParams(do_sample=True, seed=2)], [2], VOCAB, logits.device)
    unfiltered = {choose(logits, plain, torch.tensor([s]), None)[0].item() for s in range(30)}
    assert picked == {3} and len(unfiltered) > 1


def test_frequency_and_presence_penalties_subtract_as_openai_defines() -> None:
    logits = torch.zeros(1, VOCAB)
    logits[0, 7], logits[0, 8], logits[0, 9] = 3.0, 2.5, 1.0
    counts = torch.zeros(1, VOCAB)
    counts[0, 7], counts[0, 8] = 3, 1
    cases = [
        (GenerationParams(), 7),
        (GenerationParams(frequency_penalty=0.2), 7),  # 3 - 3 x 0.2 = 2.4 > 2.5 - 0.2 = 2.3
        (GenerationParams(frequency_penalty=0.5), 8),  # 1.5 < 2.0 > 1.0
        (GenerationParams(presence_penalty=2.5), 9),  # once per seen token: 0.5, 0.0, 1.0
        (GenerationParams(frequency_penalty=-1.0), 7),  # negative: encourages repeats
    ]
    results, expected_tokens = [], [token for _, token in cases]
    for params, _ in cases:
        settings = row_settings([params], [None], VOCAB, logits.device)
        token, logprob, _ = choose(logits, settings, torch.zeros(1, dtype=torch.long), None, counts)
        results.append(token.item())
        expected = logits - (params.frequency_penalty or 0) * counts
        expected = expected - (params.presence_penalty or 0) * (counts > 0)
        assert logprob.item() == pytest.approx(torch.log_softmax(expected, -1)[0, token].item(), abs=1e-5)
    assert results == expected_tokens


def test_alternatives_are_the_best_tokens_with_their_logprobs() -> None:
    logits = torch.randn(2, VOCAB, generator=torch.Generator().manual_seed(5))
    params = [GenerationParams(top_logprobs=3), GenerationParams()]
    settings = row_settings(params, [None, None], VOCAB, logits.device)
    tokens, _, (ids, values) = choose(logits, settings, torch.zeros(2, dtype=torch.long), None)
    expected = torch.log_softmax(logits, -1).topk(3)
    assert ids.tolist() == expected.indices.tolist() and torch.allclose(values, expected.values)
    assert ids[:, 0].tolist() == tokens.tolist()  # greedy: the best is the chosen one


# --- through the engine ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(tiny):
    model, tokenizer = tiny
    engine = make_engine(model, tokenizer, max_batch_size=3, max_waiting=8, eos_token_ids=frozenset())
    yield engine
    engine.stop()


async def _events(engine, ids, params):
    handle = engine.submit(ids, params)
    events = []
    while True:
        event = await handle.events.get()
        if event.error is not None:
            raise event.error
        events.append(event)
        if event.finish:
            return handle, events


def _tokens(engine, ids, params) -> list[int]:
    return [e.token_id for e in asyncio.run(_events(engine, ids, params))[1]]


def test_a_large_frequency_penalty_never_repeats_a_token_when_greedy(tiny, engine) -> None:
    ids = tiny[1]("解释债券违约风险")["input_ids"]
    plain = _tokens(engine, ids, GenerationParams(max_new_tokens=40))
    penalised = _tokens(engine, ids, GenerationParams(max_new_tokens=40, frequency_penalty=2.0))
    present = _tokens(engine, ids, GenerationParams(max_new_tokens=40, presence_penalty=2.0))
    assert len(set(plain)) < len(plain)  # the random tiny model repeats itself without it
    assert len(set(penalised)) == len(penalised) == 40
    assert len(set(present)) == len(present) == 40


def test_penalties_are_per_request_in_a_shared_batch(tiny, engine) -> None:
    tokenizer = tiny[1]
    prompts = [tokenizer(p)["input_ids"] for p in ("存款利率", "贷款" * 3, "风险")]
    params = [
        GenerationParams(max_new_tokens=24, frequency_penalty=1.5),
        GenerationParams(max_new_tokens=9),  # leaves early: the rows after it move slots
        GenerationParams(max_new_tokens=24, presence_penalty=1.0),
    ]
    alone = [_tokens(engine, i, p) for i, p in zip(prompts, params, strict=True)]

    async def together():
        return await asyncio.gather(*(_events(engine, i, p) for i, p in zip(prompts, params, strict=True)))

    shared = [[e.token_id for e in events] for _, events in asyncio.run(together())]
    assert shared == alone


def test_alternatives_and_prompt_logprobs_match_the_model(tiny, engine) -> None:
    model, tokenizer = tiny
    ids = tokenizer("什么是定期存款？")["input_ids"]
    handle, events = asyncio.run(
        _events(engine, ids, GenerationParams(max_new_tokens=3, top_logprobs=4, prompt_logprobs=True))
    )
    generated = [e.token_id for e in events]
    with torch.inference_mode():
        logits = model(torch.tensor([ids + generated])).logits[0].float()
    logprobs = torch.log_softmax(logits, -1)
    expected_prompt = [logprobs[i - 1, ids[i]].item() for i in range(1, len(ids))]
    assert handle.prompt_logprobs[0] is None
    assert handle.prompt_logprobs[1:] == pytest.approx(expected_prompt, abs=1e-4)
    for step, event in enumerate(events):
        best = logprobs[len(ids) - 1 + step].topk(4)
        assert [i for i, _ in event.top] == best.indices.tolist()
        assert [v for _, v in event.top] == pytest.approx(best.values.tolist(), abs=1e-4)
        assert event.top[0][0] == event.token_id
    plain, plain_events = asyncio.run(_events(engine, ids, GenerationParams(max_new_tokens=3)))
    assert plain.prompt_logprobs is None and all(e.top == () for e in plain_events)
