"""The hf engine: continuous batching that gives single-request outputs, limits, cancellation, timeouts."""

from __future__ import annotations

import asyncio
import time

import pytest

from stockade.serving.errors import Overloaded, RequestTimedOut, ServingError, Unavailable
from stockade.serving.params import GenerationParams
from tests.serving.helpers import make_engine

torch = pytest.importorskip("torch")
PROMPTS = ["解释债券违约风险", "什么是定期存款？" * 2, "loan rate" * 5, "风险" * 9, "a"]


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text)["input_ids"]


def _reference(model, ids: list[int], new: int) -> list[int]:
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=new, do_sample=False, eos_token_id=None, pad_token_id=0
        )
    return out[0, len(ids) :].tolist()


async def _run(engine, ids: list[int], params: GenerationParams, **kwargs) -> tuple[list[int], str | None]:
    handle = engine.submit(ids, params, **kwargs)
    tokens = []
    while True:
        event = await handle.events.get()
        if event.error is not None:
            raise event.error
        tokens.append(event.token_id)
        if event.finish:
            return tokens, event.finish


@pytest.fixture
def engine(tiny):
    model, tokenizer = tiny
    engine = make_engine(model, tokenizer, max_batch_size=3, max_waiting=8, eos_token_ids=frozenset())
    yield engine
    engine.stop()


def test_concurrent_greedy_outputs_equal_single_requests_and_share_forward_passes(tiny, engine) -> None:
    model, tokenizer = tiny
    lengths = [12, 7, 10, 5, 9]  # different lengths: rows leave mid-batch and waiting ones join
    prompts = [_ids(tokenizer, p) for p in PROMPTS]
    expected = [_reference(model, ids, n) for ids, n in zip(prompts, lengths, strict=True)]

    async def main():
        return await asyncio.gather(
            *(
                _run(engine, ids, GenerationParams(max_new_tokens=n))
                for ids, n in zip(prompts, lengths, strict=True)
            )
        )

    results = asyncio.run(main())
    assert [tokens for tokens, _ in results] == expected
    assert all(finish == "length" for _, finish in results)
    counters = engine.counters()
    assert counters.max_rows_in_pass == 3  # three requests decoded in the same forward pass
    decode_tokens = sum(lengths) - len(lengths)  # the first token of each comes from its prefill
    assert counters.decoded_rows == decode_tokens
    assert counters.decode_passes < decode_tokens * 0.6  # one pass served several requests
    assert counters.running == 0 and counters.waiting == 0


def test_eos_ends_a_request(tiny) -> None:
    model, tokenizer = tiny
    ids = _ids(tokenizer, PROMPTS[0])
    first = _reference(model, ids, 3)
    engine = make_engine(model, tokenizer, eos_token_ids=frozenset({first[2]}))
    try:
        tokens, finish = asyncio.run(_run(engine, ids, GenerationParams(max_new_tokens=20)))
    finally:
        engine.stop()
    assert tokens == first and finish == "eos_token"


def test_a_full_queue_is_refused_and_a_draining_engine_accepts_nothing(tiny) -> None:
    model, tokenizer = tiny
    engine = make_engine(model, tokenizer, max_batch_size=1, max_waiting=1)
    ids = _ids(tokenizer, PROMPTS[0])

    async def main():
        long = GenerationParams(max_new_tokens=300)
        first = engine.submit(ids, long)
        while first.admitted is None:
            await asyncio.sleep(0.01)
        engine.submit(ids, long)  # waits
        with pytest.raises(Overloaded) as caught:
            engine.submit(ids, long)
        assert caught.value.status == 429 and caught.value.retry_after >= 1
        engine.begin_drain()
        with pytest.raises(Unavailable):
            engine.submit(ids, long)

    try:
        asyncio.run(main())
    finally:
        engine.stop()


def test_a_cancelled_request_stops_generating(tiny, engine) -> None:
    _, tokenizer = tiny
    ids = _ids(tokenizer, PROMPTS[1])

    async def main():
        handle = engine.submit(ids, GenerationParams(max_new_tokens=400))
        for _ in range(3):
            await handle.events.get()
        handle.cancel()
        await asyncio.sleep(0.3)
        after_cancel = engine.counters()
        await asyncio.sleep(0.3)
        return after_cancel, engine.counters()

    after_cancel, later = asyncio.run(main())
    assert after_cancel.running == 0
    assert later.decoded_rows == after_cancel.decoded_rows < 100  # nothing more decoded for it


def test_a_request_past_its_time_limit_gets_a_timeout(tiny, engine) -> None:
    _, tokenizer = tiny

    async def main():
        started = time.monotonic()
        with pytest.raises(RequestTimedOut):
            await _run(engine, _ids(tokenizer, PROMPTS[2]), GenerationParams(max_new_tokens=450), timeout=0.2)
        return time.monotonic() - started

    assert asyncio.run(main()) < 5
    assert engine.counters().running == 0


@pytest.mark.parametrize("arch", ["qwen3", "llama", "glm4", "mistral"])
def test_every_tiny_architecture_decodes_as_generate_does(arch: str, tmp_path) -> None:
    """Other attention layouts (q/k norms, partial rotary, Llama's mask path) through the slot cache and
    the grouped decode attention."""
    from stockade.models.tiny import build_tiny_model
    from tests.serving.helpers import load_tiny

    model, tokenizer = load_tiny(build_tiny_model(arch, tmp_path / arch).path)
    prompts = [_ids(tokenizer, p) for p in PROMPTS[:3]]
    expected = [_reference(model, ids, 8) for ids in prompts]
    engine = make_engine(model, tokenizer, eos_token_ids=frozenset())

    async def main():
        return await asyncio.gather(
            *(_run(engine, ids, GenerationParams(max_new_tokens=8)) for ids in prompts)
        )

    try:
        results = asyncio.run(main())
    finally:
        engine.stop()
    assert [tokens for tokens, _ in results] == expected
    assert engine.counters().max_rows_in_pass == 3


def test_a_failing_forward_answers_its_requests_instead_of_hanging(tiny, engine) -> None:
    _, tokenizer = tiny

    def broken(*args, **kwargs):
        raise RuntimeError("device lost")

    engine.runner.prefill = broken

    async def main():
        await asyncio.wait_for(
            _run(engine, _ids(tokenizer, PROMPTS[0]), GenerationParams(max_new_tokens=4)), 10
        )

    with pytest.raises(ServingError, match="device lost"):
        asyncio.run(main())
