"""The vLLM adapter against a fake ``vllm`` module (vLLM itself needs a CUDA GPU): outputs become token
events with their real logprobs, failures and time limits reach the client, counters count, and the
tokenizer comes from the model folder whatever the vLLM release.

A fake is no test of vLLM: these tests pin down the adapter's own logic (the error path, the deadline,
the counters, the parameter mapping), which is what the issue found broken."""

from __future__ import annotations

import asyncio
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockade.serving.errors import InvalidRequest, RequestTimedOut, ServingError
from stockade.serving.params import GenerationParams
from tests.serving.helpers import TOKEN, FixedTokenAuthenticator, serve_live

torch = pytest.importorskip("torch")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Logprob:
    logprob: float
    rank: int = 1


@dataclass
class Script:
    """What the fake engine does with the next request: tokens, then finish, fail, or hang."""

    tokens: list[int] = field(default_factory=lambda: [11, 12, 13])
    then: str = "finish"  # finish | fail | hang | end
    prompt_logprobs: bool = False


class FakeEngine:
    """vLLM V1's ``AsyncLLM`` shape: no ``.engine`` attribute; ``generate`` an async generator of
    cumulative ``RequestOutput``s; ``abort`` a coroutine."""

    def __init__(self) -> None:
        self.script = Script()
        self.aborted: list[str] = []
        self.params: list[Any] = []

    async def generate(self, prompt: dict, params: Any, request_id: str):
        self.params.append(params)
        script = self.script
        tokens: list[int] = []
        logprobs: list[dict] = []
        prompt_logprobs = [None] + [{t: Logprob(-0.5)} for t in prompt["prompt_token_ids"][1:]]
        for position, token in enumerate(script.tokens):
            await asyncio.sleep(0.01)
            tokens.append(token)
            logprobs.append({token: Logprob(-0.1 * (position + 1)), 99: Logprob(-3.0)})
            last = position == len(script.tokens) - 1
            finished = last and script.then == "finish"
            completion = types.SimpleNamespace(
                token_ids=list(tokens),
                logprobs=list(logprobs),
                finish_reason=("length" if finished else None),
            )
            yield types.SimpleNamespace(
                outputs=[completion],
                finished=finished,
                prompt_logprobs=prompt_logprobs if script.prompt_logprobs else None,
            )
        if script.then == "fail":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        if script.then == "hang":
            await asyncio.sleep(3600)

    async def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)


def fake_vllm() -> types.ModuleType:
    module = types.ModuleType("vllm")

    class AsyncEngineArgs:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    class AsyncLLMEngine:
        @staticmethod
        def from_engine_args(args: AsyncEngineArgs) -> FakeEngine:
            engine = FakeEngine()
            engine.args = args.kwargs
            return engine

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            self.__dict__.update(kwargs)

    module.AsyncEngineArgs, module.AsyncLLMEngine, module.SamplingParams = (
        AsyncEngineArgs,
        AsyncLLMEngine,
        SamplingParams,
    )
    return module


@pytest.fixture
def engine(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Built the way ``serve`` builds it: ``import vllm`` (the fake) and a visible GPU (patched)."""
    from stockade.serving.vllm_engine import VllmEngine

    monkeypatch.setitem(sys.modules, "vllm", fake_vllm())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr("stockade.serving.vllm_engine.POLL_S", 0.05)
    return VllmEngine(tiny_model_dir, model_id="tiny@v1", context=256, max_batch_size=4, max_waiting=4)


async def _drain(handle, limit: float = 5.0) -> list:
    events = []
    while True:
        event = await asyncio.wait_for(handle.events.get(), limit)
        events.append(event)
        if event.error is not None or event.finish:
            return events


def test_tokenizer_comes_from_the_model_folder_without_engine_internals(engine) -> None:
    assert not hasattr(engine._engine, "engine")  # vLLM V1 has no such attribute
    assert engine.tokenizer.encode("风险") and engine.info.eos_token_ids


def test_outputs_become_events_with_real_logprobs_and_counters(engine) -> None:
    async def main():
        handle = engine.submit(
            [1, 2, 3],
            GenerationParams(max_new_tokens=3, frequency_penalty=0.5, presence_penalty=0.25, top_logprobs=2),
        )
        return handle, await _drain(handle)

    _, events = asyncio.run(main())
    assert [e.token_id for e in events] == [11, 12, 13] and events[-1].finish == "length"
    assert [e.logprob for e in events] == pytest.approx([-0.1, -0.2, -0.3])
    assert events[0].top == ((11, pytest.approx(-0.1)), (99, -3.0))
    params = engine._engine.params[-1]
    assert (params.frequency_penalty, params.presence_penalty, params.logprobs) == (0.5, 0.25, 2)
    counters = engine.counters()
    assert counters.prefill_passes == 1 and counters.decoded_rows == 2 and counters.decode_passes == 3
    assert counters.max_rows_in_pass == 1 and counters.running == counters.waiting == 0
    assert engine.idle() and engine._engine.aborted == []  # finished: nothing to abort


def test_an_exception_inside_vllm_reaches_the_client(engine) -> None:
    engine._engine.script = Script(tokens=[11], then="fail")

    async def main():
        return await _drain(engine.submit([1, 2], GenerationParams(max_new_tokens=5)))

    events = asyncio.run(main())
    assert events[0].token_id == 11 and isinstance(events[-1].error, ServingError)
    assert "illegal memory access" in events[-1].error.what and events[-1].error.status == 500
    assert engine.idle() and len(engine._engine.aborted) == 1


def test_a_stream_that_ends_unfinished_is_an_error(engine) -> None:
    engine._engine.script = Script(tokens=[11, 12], then="end")
    events = asyncio.run(_run(engine))
    assert "without finishing" in events[-1].error.what


async def _run(engine, **kwargs):
    return await _drain(engine.submit([1, 2], GenerationParams(max_new_tokens=5), **kwargs))


def test_the_deadline_gives_504_while_vllm_is_silent(engine) -> None:
    engine._engine.script = Script(tokens=[11], then="hang")
    events = asyncio.run(_run(engine, timeout=0.3))
    assert isinstance(events[-1].error, RequestTimedOut) and events[-1].error.status == 504
    assert engine.idle() and len(engine._engine.aborted) == 1


def test_a_cancelled_request_is_aborted_in_vllm(engine) -> None:
    engine._engine.script = Script(tokens=[11], then="hang")

    async def main():
        handle = engine.submit([1, 2], GenerationParams(max_new_tokens=5))
        await asyncio.wait_for(handle.events.get(), 5)
        handle.cancel()
        for _ in range(100):
            if engine.idle():
                break
            await asyncio.sleep(0.02)
        return handle

    handle = asyncio.run(main())
    assert engine.idle() and engine._engine.aborted == [handle.id]


def test_typical_p_is_refused_by_name(engine) -> None:
    async def main():
        engine.submit([1, 2], GenerationParams(typical_p=0.5))

    with pytest.raises(InvalidRequest, match="typical_p"):
        asyncio.run(main())


def test_prompt_logprobs_come_from_vllm(engine) -> None:
    engine._engine.script = Script(tokens=[11], prompt_logprobs=True)

    async def main():
        handle = engine.submit([1, 2, 3], GenerationParams(max_new_tokens=1, prompt_logprobs=True))
        await _drain(handle)
        return handle

    handle = asyncio.run(main())
    assert handle.prompt_logprobs == [None, -0.5, -0.5] and engine._engine.params[-1].prompt_logprobs == 0


def test_errors_and_timeouts_reach_http_clients_in_each_protocols_shape(engine, tiny) -> None:
    from stockade.api.app import create_app
    from stockade.data.templates import resolve_template

    app = create_app(
        engine,
        authenticator=FixedTokenAuthenticator(),
        template=resolve_template("qwen", tiny[1]),
        model_id="tiny@v1",
        request_timeout=0.5,
    )
    server = serve_live(app)
    try:
        body = {"inputs": "风险", "parameters": {"max_new_tokens": 5}}
        engine._engine.script = Script(tokens=[11, 12], then="fail")
        stream = httpx.post(f"{server.url}/generate_stream", json=body, headers=AUTH, timeout=10)
        assert stream.status_code == 200 and '"error_type": "generation"' in stream.text.splitlines()[-2]
        chat = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 5}
        failed = httpx.post(f"{server.url}/v1/chat/completions", json=chat, headers=AUTH, timeout=10)
        assert failed.status_code == 500 and "illegal memory access" in failed.json()["error"]["message"]
        engine._engine.script = Script(tokens=[11], then="hang")
        late = httpx.post(f"{server.url}/generate", json=body, headers=AUTH, timeout=10)
        assert late.status_code == 504 and late.json()["error_type"] == "incomplete_generation"
    finally:
        server.stop()
